"""``aima retention``: rules that delete original files (or whole media) after N days; ``run``
applies them now (for cron when no embedded worker runs)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from aima.cli.common import console, guarded, print_json, runtime
from aima.services.access import cli_principal
from aima.services.retention import ACTIONS, DEFAULT_LIBRARY, RuleRun
from aima.store.models_trust import RetentionRule

retention_app = typer.Typer(
    help="Retention rules: delete original files or whole media after N days.",
    no_args_is_help=True,
)


def _rule_dict(r: RetentionRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "library": r.library,
        "media_kind": r.media_kind,
        "action": r.action,
        "after_days": r.after_days,
        "enabled": r.enabled,
        "created_by": r.created_by,
        "created_at": r.created_at,
        "last_run_at": r.last_run_at,
        "last_run_count": r.last_run_count or 0,
    }


def _run_dict(r: RuleRun) -> dict[str, Any]:
    return {
        "rule_id": r.rule_id,
        "library": r.library,
        "media_kind": r.media_kind,
        "action": r.action,
        "after_days": r.after_days,
        "dry_run": r.dry_run,
        "cutoff": r.cutoff,
        "count": r.count,
        "media": r.media,
        "skipped": r.skipped,
    }


@retention_app.command("rules")
def rules_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the rules with their last run."""
    rows = [_rule_dict(r) for r in guarded(lambda: runtime().retention.list_rules(cli_principal()))]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "library", "kind", "action", "after", "enabled", "last run", "deleted")
    for d in rows:
        last = d["last_run_at"]
        table.add_row(
            str(d["id"]),
            str(d["library"]),
            str(d["media_kind"] or "all"),
            str(d["action"]),
            f"{d['after_days']} d",
            "yes" if d["enabled"] else "[yellow]no[/]",
            f"{last:%Y-%m-%d %H:%M}" if last else "never",
            str(d["last_run_count"]),
        )
    console.print(table)


@retention_app.command("add")
def add_cmd(
    action: Annotated[str, typer.Argument(help=f"one of {', '.join(ACTIONS)}")],
    after_days: Annotated[int, typer.Option("--after-days", help="age since upload")],
    library: Annotated[str, typer.Option(help="the library (set at upload)")] = DEFAULT_LIBRARY,
    kind: Annotated[
        str | None, typer.Option(help="only this media kind (image, video, audio)")
    ] = None,
    disabled: Annotated[bool, typer.Option(help="create it switched off")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add a rule (audited). Check what it would delete first: ``aima retention run --dry-run``."""
    rule = guarded(
        lambda: runtime().retention.create_rule(
            cli_principal(),
            library=library,
            action=action,
            after_days=after_days,
            media_kind=kind,
            enabled=not disabled,
        )
    )
    if as_json:
        print_json(_rule_dict(rule))
        return
    console.print(
        f"rule [bold]{rule.id}[/]: {rule.action} of {rule.media_kind or 'all'} media in library "
        f"{rule.library!r} after {rule.after_days} days"
        + ("" if rule.enabled else " [yellow](disabled)[/]")
    )


@retention_app.command("remove")
def remove_cmd(rule_id: Annotated[str, typer.Argument(help="the rule's id")]) -> None:
    """Delete a rule (audited); what it already deleted stays deleted."""
    guarded(lambda: runtime().retention.delete_rule(cli_principal(), rule_id))
    console.print(f"removed rule {rule_id}")


@retention_app.command("enable")
def enable_cmd(rule_id: Annotated[str, typer.Argument(help="the rule's id")]) -> None:
    guarded(lambda: runtime().retention.set_enabled(cli_principal(), rule_id, True))
    console.print(f"enabled rule {rule_id}")


@retention_app.command("disable")
def disable_cmd(rule_id: Annotated[str, typer.Argument(help="the rule's id")]) -> None:
    guarded(lambda: runtime().retention.set_enabled(cli_principal(), rule_id, False))
    console.print(f"disabled rule {rule_id}")


@retention_app.command("run")
def run_cmd(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would go")] = False,
    rule_id: Annotated[str | None, typer.Option("--rule", help="only this rule")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Apply the enabled rules now (each deletion audited); for cron, e.g. once a night."""
    runs = guarded(
        lambda: runtime().retention.run(cli_principal(), dry_run=dry_run, rule_id=rule_id)
    )
    if as_json:
        print_json([_run_dict(r) for r in runs])
        return
    if not runs:
        console.print("no enabled retention rules")
        return
    verb = "would delete" if dry_run else "deleted"
    for r in runs:
        what = "original files of" if r.action == "delete_raw" else "whole"
        console.print(
            f"rule [bold]{r.rule_id}[/] ({r.library}, {r.media_kind or 'all'}): {verb} {what} "
            f"{r.count} media uploaded before {r.cutoff:%Y-%m-%d %H:%M} UTC"
            + (f"; {len(r.skipped)} skipped (a job works on them)" if r.skipped else ""),
            soft_wrap=True,  # one line per rule, greppable in cron mail
        )
        for media_id in r.media:
            console.print(f"  {media_id}")
