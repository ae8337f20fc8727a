"""``aima budgets``: spending caps per user and per project; the estimate printout."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aima.cli.common import console, fail, guarded, print_json, runtime
from aima.compute.estimate import Estimate
from aima.services.access import cli_principal

budgets_app = typer.Typer(help="Spending caps (soft warning, hard stop).", no_args_is_help=True)


def print_estimate(name: str, e: Estimate) -> None:
    """One media's estimate: device, duration, money, per analyzer, offers, warnings."""
    money = f"{e.amount:.4f} {e.currency}"
    console.print(
        f"[bold]{name}[/]: {e.duration_s:.1f} s on {e.device}, {money}"
        + (" [yellow](needs confirmation)[/]" if e.confirmation_required else "")
    )
    table = Table("analyzer", "chunks", "units", "device s", "basis", "money")
    for a in e.analyzers:
        unit = "min" if a.unit == "media_minute" else "img"
        table.add_row(
            a.analyzer,
            str(a.chunks),
            f"{a.units:.2f} {unit}",
            f"{a.seconds:.2f}",
            f"{a.basis} ({a.samples})" if a.samples else a.basis,
            f"{a.amount:.4f}",
        )
    console.print(table)
    if e.offers:
        offers = Table("provider", "gpu", "region", "per hour", "duration s", "money", "available")
        for o in e.offers:
            offers.add_row(
                o.provider,
                o.gpu_type,
                o.region or "-",
                f"{o.price_per_hour:.3f}",
                f"{o.duration_s:.1f}",
                f"{o.amount:.4f}",
                "yes" if o.available else "no",
            )
        console.print(offers)
    for w in e.warnings:
        console.print(f"[yellow]budget[/]: {w}")


@budgets_app.command("list")
def list_budgets(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    rows = guarded(lambda: runtime().budgets.list(cli_principal()))
    data = [
        {
            "id": b.id,
            "scope": b.scope,
            "subject": b.subject,
            "period": b.period,
            "soft_limit": b.soft_limit,
            "hard_limit": b.hard_limit,
            "currency": b.currency,
            "spent": round(spent, 6),
        }
        for b, spent in rows
    ]
    if as_json:
        print_json(data)
        return
    table = Table("id", "scope", "subject", "period", "spent", "soft", "hard", title="budgets")
    for d in data:
        table.add_row(
            str(d["id"]),
            str(d["scope"]),
            str(d["subject"]),
            str(d["period"]),
            f"{d['spent']:.2f}",
            f"{d['soft_limit']:.2f}",
            f"{d['hard_limit']:.2f} {d['currency']}",
        )
    console.print(table)


@budgets_app.command("set")
def set_budget(
    scope: Annotated[str, typer.Argument(help="user | project")],
    subject: Annotated[str, typer.Argument(help="user name or id, or project name")],
    hard: Annotated[float, typer.Option(help="hard limit: refuse / stop past it")],
    soft: Annotated[
        float | None, typer.Option(help="soft limit: warn (default: 80% of hard)")
    ] = None,
    period: Annotated[str, typer.Option(help="month | total")] = "month",
) -> None:
    """Create or change a budget. ``user`` budgets take a user name (or id)."""
    rt = runtime()
    if scope == "user":
        users = guarded(lambda: rt.users.list(cli_principal()))
        ids = {u.username: u.id for u in users} | {u.id: u.id for u in users}
        if subject not in ids:
            fail(f"no user {subject!r}; budgets for users take a user name or id (aima users list)")
        subject = ids[subject]
    budget, spent = guarded(
        lambda: rt.budgets.put(
            cli_principal(),
            scope,
            subject,
            period=period,
            soft_limit=soft if soft is not None else round(0.8 * hard, 6),
            hard_limit=hard,
        )
    )
    console.print(
        f"budget {budget.id}: {budget.scope} {budget.subject} ({budget.period}) "
        f"soft {budget.soft_limit:.2f} hard {budget.hard_limit:.2f} {budget.currency}; "
        f"spent {spent:.2f}"
    )


@budgets_app.command("delete")
def delete_budget(budget_id: str) -> None:
    budget = guarded(lambda: runtime().budgets.delete(cli_principal(), budget_id))
    console.print(f"budget {budget.id} deleted")
