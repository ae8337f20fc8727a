"""``aima jobs``: list, show, submit, cancel, retry, priority, watch."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from aima.cli.common import console, guarded, print_json, progress_bar, runtime
from aima.core.progress import Progress
from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.store.models import Job

jobs_app = typer.Typer(help="The job queue.", no_args_is_help=True)


def run_jobs_here(rt: Runtime, job_ids: list[str], *, show: bool = True) -> dict[str, str]:
    """Work the queue in this process until the given jobs are final; the runner's progress
    hook drives the progress bar (the same hook that fills the job's progress column)."""
    pending = set(job_ids)
    with progress_bar("analyze", enabled=show) as hook:
        worker = rt.make_worker()
        worker.hook_factory = lambda _job_id: hook
        worker.register()
        while pending:
            ran = worker.run_once()
            pending = {j for j in pending if not JobState(rt.ledger.get(j).state).terminal}
            if not ran and pending:
                time.sleep(rt.settings.worker.poll_interval_s)
    return {j: rt.ledger.get(j).state for j in job_ids}


def _row(job: Job) -> list[str]:
    return [
        job.id,
        job.media_id,
        ",".join(job.analyzers),
        job.state,
        str(job.priority),
        f"{job.progress:.0%}",
        str(job.attempts),
        (job.error or "")[:60],
    ]


@jobs_app.command("list")
def list_jobs(
    state: Annotated[JobState | None, typer.Option(help="only jobs in this state")] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    rt = runtime()
    page = rt.jobs.list(cli_principal(), state=state.value if state else None, limit=limit)
    if as_json:
        print_json(
            [
                {
                    c: getattr(j, c)
                    for c in (
                        "id",
                        "media_id",
                        "analyzers",
                        "state",
                        "priority",
                        "progress",
                        "attempts",
                        "error",
                    )
                }
                for j in page.items
            ]
        )
        return
    table = Table(
        "job",
        "media",
        "analyzers",
        "state",
        "prio",
        "progress",
        "tries",
        "error",
        title=f"{page.total} jobs",
    )
    for job in page.items:
        table.add_row(*_row(job))
    console.print(table)


@jobs_app.command("show")
def show(job_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    rt = runtime()
    job, chunks, results = guarded(lambda: rt.jobs.detail(cli_principal(), job_id))
    data = {
        "id": job.id,
        "media_id": job.media_id,
        "state": job.state,
        "priority": job.priority,
        "progress": job.progress,
        "attempts": job.attempts,
        "dead_letter": job.dead_letter,
        "error": job.error,
        "outcome": job.outcome,
        "project": job.project,
        "estimate": {
            k: job.estimate.get(k) for k in ("amount", "currency", "duration_s", "device")
        },
        "cost_actual": round(job.cost_actual or 0.0, 6),
        "confirmed_by": job.confirmed_by,
        "chunks": {"total": len(chunks), "done": sum(c.status == "done" for c in chunks)},
        "results": [
            {
                "analyzer": r.analyzer,
                "version": r.analyzer_version,
                "model": r.model_id,
                "data": r.data,
            }
            for r in results
        ],
    }
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {value}")


@jobs_app.command("submit")
def submit(
    media_id: str,
    analyzers: Annotated[
        str | None, typer.Option(help="comma-separated (default analyzers)")
    ] = None,
    priority: Annotated[int, typer.Option()] = 0,
    key: Annotated[str | None, typer.Option(help="idempotency key")] = None,
) -> None:
    rt = runtime()
    names = (
        [a.strip() for a in analyzers.split(",")]
        if analyzers
        else rt.settings.jobs.default_analyzers
    )
    job, created = guarded(
        lambda: rt.jobs.submit(
            cli_principal(), media_id, names, priority=priority, idempotency_key=key
        )
    )
    console.print(f"{'queued' if created else 'existing'} job {job.id} ({job.state})")


@jobs_app.command("cancel")
def cancel(job_id: str) -> None:
    job = guarded(lambda: runtime().jobs.cancel(cli_principal(), job_id))
    note = "will stop at the next chunk boundary" if job.state == JobState.RUNNING else job.state
    console.print(f"job {job.id}: {note}")


@jobs_app.command("confirm")
def confirm(job_id: str) -> None:
    """Accept a job's estimated cost: it joins the queue."""
    job = guarded(lambda: runtime().jobs.confirm(cli_principal(), job_id))
    amount = float(job.estimate.get("amount", 0.0))
    console.print(
        f"job {job.id} confirmed ({amount:.4f} {job.estimate.get('currency', '')}); queued"
    )


@jobs_app.command("reject")
def reject(job_id: str) -> None:
    """Decline a job's estimated cost: it is cancelled without running."""
    job = guarded(lambda: runtime().jobs.reject(cli_principal(), job_id))
    console.print(f"job {job.id} rejected; {job.state}")


@jobs_app.command("retry")
def retry(job_id: str) -> None:
    job = guarded(lambda: runtime().jobs.retry(cli_principal(), job_id))
    console.print(f"job {job.id} queued again")


@jobs_app.command("priority")
def priority(job_id: str, value: int) -> None:
    job = guarded(lambda: runtime().jobs.set_priority(cli_principal(), job_id, value))
    console.print(f"job {job.id} priority {job.priority}")


@jobs_app.command("watch")
def watch(job_id: str, interval: Annotated[float, typer.Option()] = 0.5) -> None:
    """Follow a job's progress (from any worker) until it ends."""
    rt = runtime()
    principal = cli_principal()
    with progress_bar(job_id) as hook:
        while True:
            job = guarded(lambda: rt.jobs.get(principal, job_id))
            hook(
                Progress(
                    "job", job.progress * 100, 100, f"{job.state} {job.progress_message}", job.id
                )
            )
            if JobState(job.state).terminal:
                break
            time.sleep(interval)
    console.print(f"job {job.id}: {job.state}" + (f" ({job.error})" if job.error else ""))
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        raise typer.Exit(1)
