"""``aima quotas``: per-user limits on uploads, bytes, GPU-seconds, money and request rate."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from aima.cli.common import console, fail, guarded, print_json, runtime
from aima.services.access import cli_principal
from aima.services.quotas import QUOTA_FIELDS, QuotaReport

quotas_app = typer.Typer(
    help="Per-user quotas (defaults: AIMA_QUOTAS__*; 0 = unlimited).", no_args_is_help=True
)

_USED = {
    "uploads_per_day": "uploads_today",
    "bytes_per_day": "bytes_today",
    "gpu_seconds_per_month": "gpu_seconds_month",
    "money_per_month": "money_month",
}


def report_dict(r: QuotaReport) -> dict[str, Any]:
    lim, use = r.limits, r.usage
    return {
        "username": r.username,
        "user_id": r.user_id,
        "limits": {name: getattr(lim, name) for name in QUOTA_FIELDS},
        "overridden": list(lim.overridden),
        "usage": {
            "uploads_today": use.uploads_today,
            "bytes_today": use.bytes_today,
            "gpu_seconds_month": use.gpu_seconds_month,
            "money_month": use.money_month,
            "day_resets_at": use.day_resets_at.isoformat(),
            "month_resets_at": use.month_resets_at.isoformat(),
        },
        "remaining": r.remaining,
        "currency": r.currency,
        "updated_by": r.updated_by,
        "updated_at": r.updated_at.isoformat() if r.updated_at else None,
    }


def print_report(r: QuotaReport) -> None:
    data = report_dict(r)
    table = Table("quota", "limit", "source", "used", "remaining", title=f"quotas of {r.username}")
    for name in QUOTA_FIELDS:
        limit = data["limits"][name]
        used = data["usage"].get(_USED.get(name, ""), "-")
        left = data["remaining"].get(name)
        table.add_row(
            name,
            "unlimited" if not limit else str(limit),
            "override" if name in data["overridden"] else "default",
            str(used),
            "-" if left is None else str(left),
        )
    console.print(table)
    console.print(
        f"day resets at {data['usage']['day_resets_at']}, "
        f"month at {data['usage']['month_resets_at']} (UTC); money in {r.currency}"
    )


@quotas_app.command("show")
def show(username: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A user's limits (override or default), usage and when each resets."""
    report = guarded(lambda: runtime().quotas.report(cli_principal(), username))
    if as_json:
        print_json(report_dict(report))
    else:
        print_report(report)


@quotas_app.command("set")
def set_quota(
    username: str,
    uploads_per_day: Annotated[int | None, typer.Option(min=0, help="0: unlimited")] = None,
    bytes_per_day: Annotated[int | None, typer.Option(min=0, help="0: unlimited")] = None,
    gpu_seconds_per_month: Annotated[float | None, typer.Option(min=0, help="0: unlimited")] = None,
    money_per_month: Annotated[float | None, typer.Option(min=0, help="0: unlimited")] = None,
    requests_per_minute: Annotated[int | None, typer.Option(min=0, help="0: unlimited")] = None,
    default: Annotated[
        list[str] | None,
        typer.Option("--default", help="back to the server default for this quota (repeatable)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Override some of a user's quotas; the others keep their current setting (audited)."""
    changes: dict[str, float | None] = {
        name: value
        for name, value in (
            ("uploads_per_day", uploads_per_day),
            ("bytes_per_day", bytes_per_day),
            ("gpu_seconds_per_month", gpu_seconds_per_month),
            ("money_per_month", money_per_month),
            ("requests_per_minute", requests_per_minute),
        )
        if value is not None
    }
    for name in default or []:
        key = name.replace("-", "_")
        if key not in QUOTA_FIELDS:
            fail(f"--default {name!r}: one of {', '.join(QUOTA_FIELDS)}")
        changes[key] = None
    if not changes:
        fail("nothing to change: give at least one --<quota> N or --default <quota>")
    report = guarded(lambda: runtime().quotas.set(cli_principal(), username, changes))
    if as_json:
        print_json(report_dict(report))
    else:
        print_report(report)
