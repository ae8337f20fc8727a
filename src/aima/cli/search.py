"""``aima search``: the library by face photo, by voice clip and by text."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aima.cli.common import CaseOption, case_use, console, guarded, print_json, runtime
from aima.services.access import cli_principal

search_app = typer.Typer(help="Search by face photo, voice clip or text.", no_args_is_help=True)


class Source(StrEnum):
    transcript = "transcript"
    ocr = "ocr"
    scene = "scene"
    object = "object"


class Mode(StrEnum):
    fulltext = "fulltext"
    semantic = "semantic"
    hybrid = "hybrid"


def _t(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:04.1f}"


def _print_matches(result: dict[str, Any], what: str) -> None:
    """One table of persons and one of appearances per query face or speaker."""
    if not result["results"]:
        console.print(f"no {what} found in {result['query']['name']}")
        return
    for i, r in enumerate(result["results"], 1):
        label = r.get("face", {}).get("box") or r.get("speaker", {}).get("id")
        persons = Table("score", "person", "name", "appearances", title=f"{what} {i}: {label}")
        for p in r["persons"]:
            persons.add_row(
                f"{p['score']:.3f}",
                p["person_id"],
                p["name"] or "[dim]unknown[/]",
                str(len(p["appearances"])),
            )
        console.print(persons)
        seen = Table("score", "observation", "person", "media", "from", "to")
        for o in r["observations"]:
            seen.add_row(
                f"{o['score']:.3f}",
                str(o["observation_id"]),
                o["person_id"] or "[dim]unknown[/]",
                o["media_name"] or o["media_id"],
                _t(o["start"]),
                _t(o["end"]),
            )
        console.print(seen)


K = Annotated[int, typer.Option("-k", min=1, max=100, help="persons per query face/voice")]
MinScore = Annotated[
    float | None, typer.Option(min=0, max=1, help="lowest calibrated score (0..1)")
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


@search_app.command("face")
def face(
    photo: Annotated[Path, typer.Argument(help="a photo with the face(s) to look for")],
    k: K = 10,
    min_score: MinScore = None,
    as_json: AsJson = False,
    case: CaseOption = None,
) -> None:
    """Persons whose face matches the face(s) in PHOTO, best first (audited, under --case)."""
    _by_example("face", photo, k, min_score, as_json, case)


@search_app.command("voice")
def voice(
    clip: Annotated[Path, typer.Argument(help="an audio or video clip with the voice(s)")],
    k: K = 10,
    min_score: MinScore = None,
    as_json: AsJson = False,
    case: CaseOption = None,
) -> None:
    """Voice identities (and persons) matching the speaker(s) in CLIP, best first (audited,
    under --case)."""
    _by_example("voice", clip, k, min_score, as_json, case)


def _by_example(
    kind: str, path: Path, k: int, min_score: float | None, as_json: bool, case_id: str | None
) -> None:
    rt = runtime()
    use = case_use(rt, f"{kind}_search", case_id)
    search = rt.search.face if kind == "face" else rt.search.voice
    result = guarded(
        lambda: search(cli_principal(), path, name=path.name, k=k, min_score=min_score, case=use)
    )
    if as_json:
        print_json(result)
        return
    _print_matches(result, "face" if kind == "face" else "speaker")


@search_app.command("text")
def text(
    query: Annotated[str, typer.Argument(help='words, "a phrase", prefix*')],
    source: Annotated[
        list[Source] | None,
        typer.Option(help="transcript, ocr, scene or object (repeatable; default all)"),
    ] = None,
    media: Annotated[str | None, typer.Option(help="only this media id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    mode: Annotated[
        Mode | None,
        typer.Option(help="default: hybrid when semantic search is on, else fulltext"),
    ] = None,
    semantic: Annotated[
        bool, typer.Option("--semantic", help="by meaning (embeddings): --mode semantic")
    ] = False,
    hybrid: Annotated[
        bool, typer.Option("--hybrid", help="words and meaning fused: --mode hybrid")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Transcripts, on-screen text, objects and scene descriptions, best match first; each hit
    says where to jump and which ranking (fulltext, semantic) found it."""
    chosen = _mode(mode, semantic=semantic, hybrid=hybrid)
    rt = runtime()
    result = guarded(
        lambda: rt.search.text(
            cli_principal(),
            query,
            sources=[s.value for s in source] if source else None,
            media_id=media,
            limit=limit,
            offset=offset,
            mode=chosen,
        )
    )
    if as_json:
        print_json(result)
        return
    title = f"“{query}” ({result['mode']})"
    table = Table("score", "found by", "media", "at", "source", "speaker", "text", title=title)
    for h in result["results"]:
        table.add_row(
            f"{h['score']:.3f}",
            "+".join(h["matched_by"]),
            h["media_name"] or h["media_id"],
            _t(h["start"]),
            h["source"],
            h["speaker"] or "",
            h["snippet"],
        )
    console.print(table)


def _mode(mode: Mode | None, *, semantic: bool, hybrid: bool) -> Any:
    """One mode from --mode / --semantic / --hybrid (None: the server's default)."""
    flags = [m for m, on in ((Mode.semantic, semantic), (Mode.hybrid, hybrid)) if on]
    if mode is not None:
        flags.append(mode)
    if len(set(flags)) > 1:
        raise typer.BadParameter(
            f"choose one search mode, got {', '.join(sorted(set(flags)))}", param_hint="--mode"
        )
    return flags[0].value if flags else None
