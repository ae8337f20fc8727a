"""``aima users``: accounts and roles (local operator = admin)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aima.cli.common import console, guarded, runtime
from aima.security.permissions import Role
from aima.services.access import cli_principal

users_app = typer.Typer(help="User accounts and roles.", no_args_is_help=True)


@users_app.command("create")
def create(
    username: str,
    role: Annotated[
        Role, typer.Option(help="admin, analyst, uploader, viewer, auditor")
    ] = Role.VIEWER,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    user = guarded(lambda: runtime().users.create(cli_principal(), username, password, role.value))
    console.print(f"created {user.username} ({user.role})")


@users_app.command("list")
def list_users() -> None:
    table = Table("username", "role", "active", "created")
    for u in guarded(lambda: runtime().users.list(cli_principal())):
        table.add_row(u.username, u.role, "yes" if u.is_active else "no", u.created_at.isoformat())
    console.print(table)


@users_app.command("set-role")
def set_role(username: str, role: Role) -> None:
    user = guarded(lambda: runtime().users.update(cli_principal(), username, role=role.value))
    console.print(f"{user.username} is now {user.role}")


@users_app.command("passwd")
def passwd(
    username: str,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    guarded(lambda: runtime().users.update(cli_principal(), username, password=password))
    console.print(f"password of {username} changed; their sessions were revoked")


@users_app.command("disable")
def disable(username: str) -> None:
    guarded(lambda: runtime().users.update(cli_principal(), username, active=False))
    console.print(f"{username} disabled")
