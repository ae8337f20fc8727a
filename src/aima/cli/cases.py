"""``aima cases``: the cases (purposes) that face/voice search, dossiers and exports run under.

The local operator is an Admin: every case is visible, and any open case can be used with
``--case ID`` on ``aima search face|voice`` and ``aima persons dossier|seen-before``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from aima.cli.common import console, guarded, print_json, runtime
from aima.services.access import cli_principal
from aima.services.cases import LEGAL_BASES, MIN_JUSTIFICATION

cases_app = typer.Typer(
    help="Cases: the purpose and legal basis that searching for people runs under.",
    no_args_is_help=True,
)


class LegalBasis(StrEnum):
    consent = "consent"
    legal_obligation = "legal_obligation"
    vital_interests = "vital_interests"
    public_task = "public_task"
    legitimate_interests = "legitimate_interests"
    law_enforcement = "law_enforcement"


assert {b.value for b in LegalBasis} == set(LEGAL_BASES)  # one list, spelled twice for --help


class State(StrEnum):
    open = "open"
    closed = "closed"


AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def _show(case: dict[str, Any], as_json: bool, verb: str | None = None) -> None:
    if as_json:
        print_json(case)
        return
    if verb:
        console.print(f"{verb} case {case['id']}")
    members = ", ".join(m["username"] for m in case["members"]) or "[dim]none[/]"
    table = Table(show_header=False, box=None)
    for label, value in (
        ("id", case["id"]),
        ("title", case["title"]),
        ("legal basis", case["legal_basis"]),
        ("justification", case["justification"]),
        ("state", case["state"]),
        ("created", f"{case['created_at']:%Y-%m-%d %H:%M}"),
        ("closed", f"{case['closed_at']:%Y-%m-%d %H:%M}" if case["closed_at"] else "-"),
        ("members", members),
    ):
        table.add_row(f"[bold]{label}[/]", str(value))
    console.print(table)


@cases_app.command("create")
def create(
    title: Annotated[str, typer.Argument(help="what the case is about")],
    legal_basis: Annotated[
        LegalBasis,
        typer.Option("--legal-basis", help="the lawful basis for processing"),
    ],
    justification: Annotated[
        str,
        typer.Option(
            "--justification",
            help=f"why searching for people is necessary (≥ {MIN_JUSTIFICATION} characters)",
        ),
    ],
    member: Annotated[
        list[str] | None, typer.Option("--member", help="a username allowed to use it (repeat)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Open a case; guarded commands then run with --case ID (audited)."""
    rt = runtime()
    case = guarded(
        lambda: rt.cases.create(
            cli_principal(),
            title=title,
            legal_basis=str(legal_basis.value),
            justification=justification,
            members=list(member or []),
        )
    )
    _show(case, as_json, "opened")


@cases_app.command("list")
def list_cases(
    state: Annotated[State | None, typer.Option(help="only open / only closed")] = None,
    as_json: AsJson = False,
) -> None:
    """Every case, newest first."""
    rt = runtime()
    cases = guarded(lambda: rt.cases.list(cli_principal(), state=state.value if state else None))
    if as_json:
        print_json(cases)
        return
    table = Table("state", "legal basis", "members", "created", "title")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=37))  # ids are pasted whole
    for c in cases:
        table.add_row(
            c["id"],
            c["state"],
            c["legal_basis"],
            str(len(c["members"])),
            f"{c['created_at']:%Y-%m-%d}",
            c["title"],
        )
    console.print(table)


@cases_app.command("show")
def show(case_id: str, as_json: AsJson = False) -> None:
    """One case and its members."""
    rt = runtime()
    _show(guarded(lambda: rt.cases.get(cli_principal(), case_id)), as_json)


@cases_app.command("add-member")
def add_member(
    case_id: str,
    user: Annotated[str, typer.Argument(help="username (or user id)")],
    as_json: AsJson = False,
) -> None:
    """Let a user run guarded actions under the case (audited)."""
    rt = runtime()
    _show(guarded(lambda: rt.cases.add_member(cli_principal(), case_id, user)), as_json, "updated")


@cases_app.command("remove-member")
def remove_member(
    case_id: str,
    user: Annotated[str, typer.Argument(help="username (or user id)")],
    as_json: AsJson = False,
) -> None:
    """Take a user off the case (audited)."""
    rt = runtime()
    _show(
        guarded(lambda: rt.cases.remove_member(cli_principal(), case_id, user)), as_json, "updated"
    )


@cases_app.command("close")
def close(case_id: str, as_json: AsJson = False) -> None:
    """Close the case: nothing more runs under it (audited)."""
    rt = runtime()
    _show(guarded(lambda: rt.cases.close(cli_principal(), case_id)), as_json, "closed")


@cases_app.command("policy")
def policy(as_json: AsJson = False) -> None:
    """The deployment's policy: whether cases are required, the jurisdiction, what it forbids."""
    rt = runtime()
    privacy = rt.settings.privacy
    forbidden = sorted(privacy.forbidden_analyzers)
    out = {
        "cases_required": privacy.cases_required,
        "jurisdiction": privacy.jurisdiction,
        "forbidden_analyzers": forbidden,
        "legal_bases": list(LEGAL_BASES),
    }
    if as_json:
        print_json(out)
        return
    console.print(f"cases required: {'yes' if privacy.cases_required else 'no'}")
    console.print(f"jurisdiction: {privacy.jurisdiction or '-'}")
    for name in forbidden:
        console.print(f"forbidden: {name} ({rt.registry.disabled_reason(name)})")
    console.print(f"legal bases: {', '.join(LEGAL_BASES)}")
