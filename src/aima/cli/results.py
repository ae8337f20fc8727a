"""``aima results``: list, show and accept analyzer results with their provenance.

``show --json`` prints exactly what ``GET /api/v1/media/{id}/results`` returns for one
result (same service method, ``MediaService.results``, so the same permission checks),
including every embedding in ``data``; without ``--json`` embeddings are abbreviated
so the provenance and the findings stay readable in a terminal.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select

from aima.cli.common import console, guarded, print_json, runtime
from aima.core.errors import NotFound
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.store.models import AnalysisResult

results_app = typer.Typer(help="Analyzer results and their review.", no_args_is_help=True)

# lists of at least this many numbers are shown as "[N numbers]" in the human view
_ABBREVIATE_FROM = 16


def result_dict(r: AnalysisResult) -> dict[str, Any]:
    """One result with its provenance (analyzer, version, model, config) and its data."""
    return {
        "id": r.id,
        "media_id": r.media_id,
        "job_id": r.job_id,
        "analyzer": r.analyzer,
        "analyzer_version": r.analyzer_version,
        "model_id": r.model_id,
        "config": r.config,
        "config_hash": r.config_hash,
        "created_at": r.created_at.isoformat(),
        "accepted": r.accepted,
        "accepted_at": r.accepted_at.isoformat() if r.accepted_at else None,
        "accepted_by": r.accepted_by,
        "data": r.data,
    }


def find_result(rt: Runtime, result_id: str) -> AnalysisResult:
    """The result named ``result_id``, read through the media service's permission checks.

    Only the media id is looked up directly; the row itself comes from
    ``MediaService.results`` like the API's, so access rules cannot drift between them.
    """
    with rt.db.session() as s:
        media_id = s.execute(
            select(AnalysisResult.media_id).where(AnalysisResult.id == result_id)
        ).scalar_one_or_none()
    if media_id is None:
        raise NotFound(f"result {result_id} not found (see `aima results list MEDIA_ID`)")
    for r in rt.media.results(cli_principal(), media_id):
        if r.id == result_id:
            return r
    raise NotFound(f"result {result_id} not found")


def _abbreviate(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) >= _ABBREVIATE_FROM and all(isinstance(v, int | float) for v in value):
            return f"[{len(value)} numbers]"
        return [_abbreviate(v) for v in value]
    if isinstance(value, dict):
        return {k: _abbreviate(v) for k, v in value.items()}
    return value


@results_app.command("list")
def results_list(
    media_id: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="provenance of each result as JSON (no data)")
    ] = False,
) -> None:
    """Every result of a media, accepted or awaiting review."""
    rt = runtime()
    if as_json:
        rows = guarded(lambda: rt.media.results(cli_principal(), media_id))
        print_json([{k: v for k, v in result_dict(r).items() if k != "data"} for r in rows])
        return
    table = Table("result", "analyzer", "version", "model", "accepted", "created")
    for r in guarded(lambda: rt.media.results(cli_principal(), media_id)):
        table.add_row(
            r.id,
            r.analyzer,
            r.analyzer_version,
            r.model_id,
            "yes" if r.accepted else "[yellow]review[/]",
            r.created_at.isoformat(),
        )
    console.print(table)


@results_app.command("show")
def results_show(
    result_id: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="the whole result as JSON, embeddings included")
    ] = False,
) -> None:
    """One result: provenance (analyzer, version, model, config) and its data."""
    rt = runtime()
    shown = result_dict(guarded(lambda: find_result(rt, result_id)))
    if as_json:
        print_json(shown)
        return
    data = shown.pop("data")
    table = Table("field", "value", show_header=False)
    for key, value in shown.items():
        table.add_row(
            key, json.dumps(value, default=str) if isinstance(value, dict) else str(value)
        )
    console.print(table)
    console.print_json(json.dumps(_abbreviate(data), default=str))


@results_app.command("accept")
def results_accept(result_id: str) -> None:
    """Use this result in the timeline (e.g. a new analyzer version's)."""
    r = guarded(lambda: runtime().timelines.accept(cli_principal(), result_id))
    console.print(f"{r.analyzer} {r.analyzer_version} result {r.id} accepted")
