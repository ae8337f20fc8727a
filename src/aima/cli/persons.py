"""``aima persons``: browse, correct and export the people found across the library."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aima.cli.common import (
    CaseOption,
    case_use,
    console,
    fail,
    guarded,
    print_json,
    progress_bar,
    runtime,
)
from aima.services.access import cli_principal
from aima.services.subject_export import SubjectExporter

persons_app = typer.Typer(
    help="People across the library: list, show, correct, export.", no_args_is_help=True
)


class Kind(StrEnum):
    face = "face"
    voice = "voice"


class LinkState(StrEnum):
    suggested = "suggested"
    linked = "linked"
    confirmed = "confirmed"
    rejected = "rejected"


class DossierFormat(StrEnum):
    md = "md"
    json = "json"


def _t(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    m, s = divmod(float(seconds), 60)
    return f"{int(m)}:{s:04.1f}"


def _done(what: str, out: dict[str, Any]) -> None:
    extra = f", new person {out['new_person_id']}" if out.get("new_person_id") else ""
    console.print(
        f"{what}: person {out.get('person_id') or '-'}{extra} "
        f"(undo: aima persons undo {out['correction_id']})"
    )


@persons_app.command("list")
def list_persons(
    name: Annotated[str | None, typer.Option(help="name contains")] = None,
    named: Annotated[
        bool | None, typer.Option("--named/--unnamed", help="only named / only unnamed")
    ] = None,
    kind: Annotated[Kind | None, typer.Option(help="seen by face or by voice")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Persons (unknown ones included), those in the most media first."""
    rt = runtime()
    page = guarded(
        lambda: rt.persons.list(
            cli_principal(),
            name=name,
            named=named,
            kind=kind.value if kind else None,
            limit=limit,
            offset=offset,
        )
    )
    if as_json:
        print_json({"items": page.items, "total": page.total, "limit": limit, "offset": offset})
        return
    table = Table(
        "person",
        "name",
        "media",
        "faces",
        "voices",
        "on screen",
        "speaking",
        title=f"{page.total} persons",
    )
    for p in page.items:
        table.add_row(
            p["id"],
            p["name"] or "[dim]unknown[/]",
            str(p["media"]),
            str(p["faces"]),
            str(p["voices"]),
            _t(p["on_screen_s"]),
            _t(p["speaking_s"]),
        )
    console.print(table)


@persons_app.command("show")
def show(
    person_id: str, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
) -> None:
    """One person with every observation (a merged id shows the person it joined)."""
    rt = runtime()
    p = guarded(lambda: rt.persons.get(cli_principal(), person_id))
    if as_json:
        print_json(p)
        return
    if p["requested_id"] != p["id"]:
        console.print(f"[yellow]{p['requested_id']} was merged into {p['id']}[/]")
    console.rule(f"[bold]{p['name'] or 'unknown'}[/] ({p['id']})")
    console.print(
        f"{p['media']} media, {p['faces']} face / {p['voices']} voice observation(s), "
        f"on screen {_t(p['on_screen_s'])}, speaking {_t(p['speaking_s'])}"
    )
    if p["merged_ids"]:
        console.print(f"merged: {', '.join(p['merged_ids'])}")
    table = Table("obs", "kind", "media", "from", "to", "usable", "conf", "assigned", "pinned")
    for o in p["observations"]:
        table.add_row(
            str(o["id"]),
            o["kind"],
            o["media_id"],
            _t(o["start"]),
            _t(o["end"]),
            "yes" if o["usable"] else "",
            f"{o['confidence']:.2f}",
            o["assigned_by"] or "",
            "yes" if o["pinned"] else "",
        )
    console.print(table)
    for lk in p["links"]:
        console.print(
            f"link {lk['id']}: face {lk['face_person_id']} <-> voice {lk['voice_person_id']} "
            f"({lk['state']}, {lk['confidence']:.2f})"
        )


@persons_app.command("corrections")
def corrections(
    person_id: str, as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False
) -> None:
    """Corrections of a person (and of persons merged into it), newest first."""
    rt = runtime()
    rows = guarded(lambda: rt.persons.corrections(cli_principal(), person_id))
    if as_json:
        print_json(rows)
        return
    table = Table("correction", "kind", "person", "by", "when", "undone", "observations")
    for c in rows:
        table.add_row(
            c["id"],
            c["kind"],
            c["person_id"] or "",
            c["actor"],
            c["created_at"],
            c["undone_at"] or "",
            str(c["observations"]),
        )
    console.print(table)


@persons_app.command("merge")
def merge(
    target: Annotated[str, typer.Argument(help="the person that stays")],
    sources: Annotated[list[str], typer.Argument(help="persons merged into TARGET")],
) -> None:
    """Merge SOURCES into TARGET; their ids redirect to TARGET from now on."""
    rt = runtime()
    _done("merged", guarded(lambda: rt.persons.merge(cli_principal(), target, sources)))


@persons_app.command("split")
def split(
    person_id: str,
    observations: Annotated[list[int], typer.Argument(help="observation ids to move")],
    name: Annotated[str | None, typer.Option(help="name of the new person")] = None,
) -> None:
    """Move observations to a new person (they never re-join PERSON_ID automatically)."""
    rt = runtime()
    _done(
        "split", guarded(lambda: rt.persons.split(cli_principal(), person_id, observations, name))
    )


@persons_app.command("reject")
def reject(
    person_id: str,
    observations: Annotated[list[int], typer.Argument(help="observation ids that are not them")],
) -> None:
    """Not this person: the observations are re-assigned elsewhere (or left unknown)."""
    rt = runtime()
    _done("rejected", guarded(lambda: rt.persons.reject(cli_principal(), person_id, observations)))


@persons_app.command("rename")
def rename(
    person_id: str,
    name: Annotated[str, typer.Argument(help='the new name; "" clears it')],
) -> None:
    """Name a person (an empty name makes them unknown again)."""
    if len(name) > 256:
        fail("a name has at most 256 characters")
    rt = runtime()
    _done("renamed", guarded(lambda: rt.persons.rename(cli_principal(), person_id, name or None)))


@persons_app.command("undo")
def undo(correction_id: str) -> None:
    """Put back what one correction changed (see `aima persons corrections PERSON`)."""
    rt = runtime()
    out = guarded(lambda: rt.persons.undo(cli_principal(), correction_id))
    console.print(f"undone {out['correction']}: {len(out['restored'])} observation(s) restored")
    if out["skipped"]:
        console.print(
            f"[yellow]left alone (changed again since; undo that first): {out['skipped']}[/]"
        )


@persons_app.command("links")
def links(
    state: Annotated[LinkState | None, typer.Option(help="only links in this state")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Face person <-> voice identity links, most confident first."""
    rt = runtime()
    rows = guarded(lambda: rt.persons.links(cli_principal(), state.value if state else None))
    if as_json:
        print_json(rows)
        return
    table = Table("link", "face person", "voice person", "confidence", "state", "decided by")
    for lk in rows:
        table.add_row(
            lk["id"],
            lk["face_person_id"],
            lk["voice_person_id"],
            f"{lk['confidence']:.2f}",
            lk["state"],
            lk["decided_by"] or "",
        )
    console.print(table)


@persons_app.command("confirm-link")
def confirm_link(link_id: str) -> None:
    """The voice is this face's: it joins the face person and stays there."""
    rt = runtime()
    _done("confirmed", guarded(lambda: rt.persons.decide_link(cli_principal(), link_id, True)))


@persons_app.command("reject-link")
def reject_link(link_id: str) -> None:
    """Not this face's voice: a linked voice moves back to its own identity."""
    rt = runtime()
    _done("rejected", guarded(lambda: rt.persons.decide_link(cli_principal(), link_id, False)))


@persons_app.command("dossier")
def dossier(
    person_id: str,
    fmt: Annotated[DossierFormat, typer.Option("--format", help="md or json")] = DossierFormat.md,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to FILE (default: stdout)")
    ] = None,
    case: CaseOption = None,
) -> None:
    """Everything known about a person, each fact citing media and time (audited export,
    under --case)."""
    rt = runtime()
    use = case_use(rt, "dossier", case)
    doc = guarded(lambda: rt.persons.dossier(cli_principal(), person_id, fmt.value, case=use))
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2, default=str) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{output}: cannot write the dossier ({exc.strerror or exc})")
    console.print(f"dossier of {person_id} written to {output}")


@persons_app.command("seen-before")
def seen_before(
    person_id: str,
    min_score: Annotated[
        float | None, typer.Option(min=0, max=1, help="lowest calibrated score")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=500, help="neighbours per observation")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    case: CaseOption = None,
) -> None:
    """Observations close to this person's that are not theirs (unknown people included;
    under --case)."""
    rt = runtime()
    use = case_use(rt, "seen_before", case)
    out = guarded(
        lambda: rt.persons.seen_before(
            cli_principal(), person_id, min_score=min_score, k=k, case=use
        )
    )
    if as_json:
        print_json(out)
        return
    table = Table("score", "observation", "kind", "person", "media", "from", "to")
    for m in out["matches"]:
        table.add_row(
            f"{m['score']:.3f}",
            str(m["observation_id"]),
            m["kind"],
            m["person_id"] or "[dim]unknown[/]",
            m["media_name"] or m["media_id"],
            _t(m["start"]),
            _t(m["end"]),
        )
    console.print(table)


@persons_app.command("sync")
def sync(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Bring persons up to date with the accepted face/voice/text results (idempotent)."""
    rt = runtime()
    with progress_bar("persons", enabled=not as_json) as hook:
        report = guarded(lambda: rt.persons.sync(cli_principal(), hook))
    data = asdict(report)
    if as_json:
        print_json(data)
        return
    console.print(", ".join(f"{k}: {v}" for k, v in data.items()))


@persons_app.command("recluster")
def recluster(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Re-cluster every collection from scratch, keeping corrections and person ids."""
    rt = runtime()
    with progress_bar("recluster", enabled=not as_json) as hook:
        out = guarded(lambda: rt.persons.recluster(cli_principal(), hook))
    if as_json:
        print_json(out)
        return
    table = Table("collection", "observations", "changed", "new persons")
    for coll, counts in out.items():
        table.add_row(
            coll, str(counts["observations"]), str(counts["changed"]), str(counts["new_persons"])
        )
    console.print(table)


@persons_app.command("erase")
def erase(
    person_id: str,
    reason: Annotated[
        str, typer.Option("--reason", help="why (audited; must not contain the person's name)")
    ],
    with_media: Annotated[
        bool, typer.Option("--with-media", help="also delete every media they appear in")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="also write the receipt to FILE")
    ] = None,
    case: CaseOption = None,
) -> None:
    """Erase a person from every store; prints the signed receipt (JSON)."""
    rt = runtime()
    use = case_use(rt, "erasure", case)
    receipt = guarded(
        lambda: rt.erasure.erase(
            cli_principal(), person_id, reason=reason, with_media=with_media, case=use
        )
    )
    if output is not None:
        try:
            output.write_text(json.dumps(receipt, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"{output}: cannot write the receipt ({exc.strerror or exc})")
    print_json(receipt)


@persons_app.command("export-subject")
def export_subject(
    person_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="the ZIP file to write")],
    case: CaseOption = None,
) -> None:
    """Subject access export: everything held about a person, as a ZIP (audited)."""
    rt = runtime()
    use = case_use(rt, "subject_export", case)
    data = guarded(
        lambda: SubjectExporter(rt.db, rt.blobs).export(cli_principal(), person_id, case=use)
    )
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail(f"{output}: cannot write the export ({exc.strerror or exc})")
    console.print(f"subject export of {person_id} written to {output} ({len(data)} bytes)")
