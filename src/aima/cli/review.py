"""``aima review``: the queue of flagged findings (restraints) and the decisions on them.

The CLI acts as the local operator (an Admin, ``cli_principal``); every decision is
audited with that actor, exactly as through the API.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aima.cli.common import console, guarded, print_json, runtime
from aima.services.access import cli_principal
from aima.services.review import ReviewView

review_app = typer.Typer(help="Review flagged findings (restraints).", no_args_is_help=True)


def _row(v: ReviewView) -> dict[str, object]:
    return {
        "id": v.id,
        "label": v.label,
        "media_id": v.media_id,
        "t": v.t,
        "confidence": v.confidence,
        "raw_confidence": v.raw_confidence,
        "state": v.state,
        "decided_by": v.decided_by,
        "note": v.note,
        "evidence": v.evidence,
    }


@review_app.command("list")
def review_list(
    state: Annotated[
        str | None, typer.Option(help="unreviewed | confirmed | dismissed (default: all)")
    ] = None,
    media_id: Annotated[str | None, typer.Option("--media", help="only this media")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Flagged findings, oldest first (new accepted scenes results are queued first)."""
    rt = runtime()
    items = guarded(
        lambda: rt.review.items(cli_principal(), state=state, media_id=media_id, limit=limit)
    )
    if as_json:
        print_json([_row(v) for v in items])
        return
    table = Table("id", "label", "media", "t", "confidence (raw)", "state", "note")
    for v in items:
        raw = "" if v.raw_confidence is None else f" ({v.raw_confidence:.2f})"
        table.add_row(
            v.id,
            v.label,
            v.media_id,
            f"{v.t:.2f}",
            f"{v.confidence:.2f}{raw}",
            v.state,
            v.note or "",
        )
    console.print(table)


@review_app.command("confirm")
def review_confirm(
    item_id: str,
    note: Annotated[str | None, typer.Option(help="optional: what you saw")] = None,
) -> None:
    """It is what the model said: the finding now counts (and enters dossiers)."""
    v = guarded(lambda: runtime().review.decide(cli_principal(), item_id, "confirmed", note))
    console.print(f"{v.id} ({v.label}) confirmed")


@review_app.command("dismiss")
def review_dismiss(
    item_id: str,
    note: Annotated[str, typer.Option(help="required: what it is instead")],
) -> None:
    """It is not what the model said; the note says what it is instead."""
    v = guarded(lambda: runtime().review.decide(cli_principal(), item_id, "dismissed", note))
    console.print(f"{v.id} ({v.label}) dismissed")
