"""``aima persons summary ID`` and ``aima media summary ID``: cited summaries on the terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aima.cli.common import console, guarded, print_json, runtime
from aima.services.access import cli_principal

media_app = typer.Typer(help="One media: its cited summary.", no_args_is_help=True)

RefreshOpt = Annotated[
    bool, typer.Option("--refresh", help="write a new summary even if the stored one is fresh")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _show(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(out)
        return
    console.rule(f"[bold]{out['subject_type']} {out['subject_id']}[/]")
    console.print(f"[dim]{out['label']}[/]", highlight=False)
    if not out["sentences"]:
        console.print("[dim]nothing to summarise yet[/]")
    for sentence in out["sentences"]:
        console.print(f"- {sentence['text']}", markup=False, highlight=False)
    d = out.get("details", {})
    llm = d.get("llm", d) if out["method"] == "extractive" else d
    if "rejected" in llm:
        console.print(
            f"[dim]{llm['rejected']} sentence(s) rejected, regenerated: "
            f"{'yes' if llm.get('regenerated') else 'no'}, dropped: {llm.get('dropped', 0)}[/]"
        )
    state = "written now" if out.get("regenerated") else "stored"
    console.print(f"[dim]{state}, facts {out['facts_hash'][:12]}, {out['generated_at']}[/]")


def person_summary_cmd(
    person_id: str, refresh: RefreshOpt = False, as_json: JsonOpt = False
) -> None:
    """A person's summary: each sentence cites the dossier facts (F<n>) it rests on."""
    rt = runtime()
    _show(
        guarded(lambda: rt.summaries.person(cli_principal(), person_id, refresh=refresh)), as_json
    )


@media_app.command("summary")
def media_summary_cmd(media_id: str, refresh: RefreshOpt = False, as_json: JsonOpt = False) -> None:
    """A media's summary from its timeline: each sentence cites timeline facts (M<n>)."""
    rt = runtime()
    _show(guarded(lambda: rt.summaries.media(cli_principal(), media_id, refresh=refresh)), as_json)
