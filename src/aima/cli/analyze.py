"""``aima analyze``, ``aima timeline``, ``aima models``; ``aima results`` is in ``results.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aima.cli.budgets import print_estimate
from aima.cli.common import console, fail, guarded, print_json, runtime
from aima.cli.jobs import run_jobs_here
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.services.system import model_status


def _fmt_t(t: float | None) -> str:
    if t is None:
        return "-"
    m, s = divmod(float(t), 60)
    return f"{int(m)}:{s:04.1f}"


def print_summary(timeline: dict[str, Any], outcome: dict[str, Any] | None = None) -> None:
    """A human summary of one media's timeline: who, what, when."""
    media, summary, tracks = timeline["media"], timeline["summary"], timeline["tracks"]
    duration = media.get("duration_s")
    console.rule(
        f"[bold]{media['name']}[/] ({media['kind']}, {_fmt_t(duration) if duration else 'still'})"
    )
    if tracks["faces"]:
        console.print(f"[bold]Faces[/]: {len(tracks['faces'])} track(s)")
        for f in tracks["faces"][:10]:
            emo = f" · {f['top_emotion']}" if f.get("top_emotion") else ""
            console.print(
                f"  {f['id']}: {_fmt_t(f['start'])}-{_fmt_t(f['end'])} conf {f['confidence']:.2f}{emo}"
            )
    if tracks["speakers"]:
        console.print(f"[bold]Speakers[/]: {len(tracks['speakers'])}")
        for sp in tracks["speakers"]:
            console.print(
                f"  {sp.get('person_name') or sp['id']}: {sp.get('total_s') or 0:.1f} s "
                f"in {len(sp['turns'])} turn(s)"
            )
    if tracks["transcript"]:
        language = f", language {summary['language']}" if summary.get("language") else ""
        console.print(f"[bold]Transcript[/]: {summary['words']} words{language}")
        for seg in tracks["transcript"][:8]:
            who = seg.get("person_name") or seg.get("speaker") or "?"
            console.print(f"  [{_fmt_t(seg['start'])}] {who}: {seg['text'][:100]}")
    if tracks["ocr"]:
        console.print(f"[bold]On-screen text[/]: {len(tracks['ocr'])} line(s)")
        for line in tracks["ocr"][:8]:
            console.print(f"  [{_fmt_t(line['start'])}-{_fmt_t(line['end'])}] {line['text'][:100]}")
    if tracks["bodies"]:
        console.print(f"[bold]People (bodies)[/]: {len(tracks['bodies'])} track(s)")
    if summary.get("objects"):
        console.print(f"[bold]Objects[/]: {', '.join(summary['objects'][:20])}")
    if summary.get("nsfw_max") is not None:
        flag = "[red]flagged[/]" if tracks["nsfw"] else "not flagged"
        console.print(f"[bold]Explicit content[/]: max score {summary['nsfw_max']:.2f}, {flag}")
    if summary.get("speech_s"):
        console.print(f"[bold]Speech[/]: {summary['speech_s']:.1f} s")
    for note in timeline.get("notes", []):
        console.print(f"[yellow]Note[/]: {note}")
    for name, o in (outcome or {}).items():
        if o.get("status") != "succeeded":
            console.print(f"[yellow]{name}[/]: {o.get('status')} {o.get('reason', '')}")
    if timeline.get("pending_review"):
        console.print(
            f"[yellow]{len(timeline['pending_review'])} result(s) await review[/] (aima results list)"
        )


def _targets(rt: Runtime, items: list[str]) -> list[str]:
    media_ids: list[str] = []
    paths = [Path(i) for i in items if not i.startswith("med_")]
    media_ids += [i for i in items if i.startswith("med_")]
    if paths:
        for o in rt.ingest.ingest_paths(paths, cli_principal(), analyze=False):
            if o.status == "rejected":
                console.print(f"[red]{o.name}[/]: {(o.error or {}).get('message')}")
            elif o.media_id:
                media_ids.append(o.media_id)
    return media_ids


def _confirm_costs(
    rt: Runtime,
    media_ids: list[str],
    names: list[str],
    project: str | None,
    *,
    estimate_only: bool,
    yes: bool,
) -> bool:
    """Show estimates when asked or when they cost money; True when jobs should be queued."""
    principal = cli_principal()
    plans = [
        guarded(lambda m=m: rt.jobs.plan(principal, m, names, project=project))  # type: ignore[misc]
        for m in media_ids
    ]
    estimates = [p.estimate for p in plans if p.estimate is not None]
    needs = any(e.confirmation_required for e in estimates)
    if estimate_only or needs:
        for plan in plans:
            if plan.estimate is not None:
                print_estimate(plan.media_id, plan.estimate)
    if estimate_only:
        return False
    if needs and not yes:
        total = sum(e.amount for e in estimates)
        currency = estimates[0].currency if estimates else ""
        if not typer.confirm(f"Spend about {total:.4f} {currency} on these jobs?", default=False):
            console.print("nothing queued")
            return False
    return True


def analyze(
    items: Annotated[list[str], typer.Argument(help="files, folders or media ids (med_...)")],
    only: Annotated[
        str | None, typer.Option(help="comma-separated analyzers (default: all defaults)")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="run here with a progress bar and print a summary")
    ] = True,
    report: Annotated[
        Path | None, typer.Option(help="write the JSON timeline here (one media)")
    ] = None,
    priority: Annotated[int, typer.Option()] = 0,
    accept: Annotated[
        bool, typer.Option(help="accept new analyzer versions' results at once")
    ] = False,
    estimate: Annotated[
        bool, typer.Option("--estimate", help="print the cost estimate and exit (queues nothing)")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="accept the estimated cost without asking")
    ] = False,
    project: Annotated[str | None, typer.Option(help="the project whose budget pays")] = None,
) -> None:
    """Analyse media (ingesting files first). Re-running ``--only ocr`` redoes only that analyzer.

    Each job is estimated first; when it would cost money (above
    ``AIMA_COMPUTE__CONFIRM_ABOVE``) you are asked to confirm, unless ``--yes``."""
    rt = runtime()
    names = (
        [a.strip() for a in only.split(",") if a.strip()]
        if only
        else rt.settings.jobs.default_analyzers
    )
    media_ids = guarded(lambda: _targets(rt, items))
    if not media_ids:
        fail("nothing to analyse")
    if not _confirm_costs(rt, media_ids, names, project, estimate_only=estimate, yes=yes):
        return
    job_ids = []
    for media_id in media_ids:
        job, _ = guarded(
            lambda m=media_id: rt.jobs.submit(
                cli_principal(),
                m,
                names,
                priority=priority,
                options={"accept": accept},
                project=project,
                confirmed=True,  # the estimate was shown and accepted above
            )  # type: ignore[misc]
        )
        job_ids.append(job.id)
        console.print(f"queued job {job.id} for {media_id}: {', '.join(job.analyzers)}")
    if not wait:
        return
    states = run_jobs_here(rt, job_ids)
    reports_dir = rt.settings.data_dir / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    for media_id, job_id in zip(media_ids, job_ids, strict=True):
        job = rt.ledger.get(job_id)
        timeline = rt.timelines.timeline(cli_principal(), media_id)
        print_summary(timeline, job.outcome)
        out = report if report and len(media_ids) == 1 else reports_dir / f"{media_id}.json"
        out.write_text(json.dumps(timeline, indent=2, default=str))
        console.print(f"job {job_id}: [bold]{states[job_id]}[/]; report: {out}")
    if any(s in ("failed", "cancelled") for s in states.values()):
        raise typer.Exit(1)


def timeline_cmd(
    media_id: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    vtt: Annotated[Path | None, typer.Option(help="write the transcript as WebVTT")] = None,
    srt: Annotated[Path | None, typer.Option(help="write the transcript as SRT")] = None,
) -> None:
    """Show a media's fused timeline; export its transcript with speaker labels."""
    rt = runtime()
    data = guarded(lambda: rt.timelines.timeline(cli_principal(), media_id))
    if vtt:
        vtt.write_text(rt.timelines.transcript(cli_principal(), media_id, "vtt"))
    if srt:
        srt.write_text(rt.timelines.transcript(cli_principal(), media_id, "srt"))
    if as_json:
        print_json(data)
    else:
        print_summary(data)


def models_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every model the installed analyzers declare: where it is, whether it is there, checksums."""
    rt = runtime()
    rows = model_status(rt.registry)
    if as_json:
        print_json(rows)
        return
    table = Table("analyzer", "model", "version", "licence", "sha256", "status", "location")
    for r in rows:
        style = "green" if r["status"] == "available" else ("red" if r["required"] else "yellow")
        where = (
            r["location"] if r["status"] == "available" else f"{r['location']}\n{r['how_to_get']}"
        )
        table.add_row(
            r["analyzer"],
            r["model"] + ("" if r["required"] else " (optional)"),
            r["version"],
            r["licence"],
            r["sha256"][:12],
            f"[{style}]{r['status']}[/]",
            where,
        )
    console.print(table)
    if any(r["required"] and r["status"] != "available" for r in rows):
        raise typer.Exit(1)
