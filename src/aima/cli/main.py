"""``aima`` commands: serve, worker, ingest, jobs, users, persons, search, index, db, storage,
audit, analyzers."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aima.cli.analyze import analyze, models_cmd, timeline_cmd
from aima.cli.backup import backup_cmd, restore_cmd
from aima.cli.budgets import budgets_app
from aima.cli.calibrate import calibrate_cmd, reembed_cmd
from aima.cli.cases import cases_app
from aima.cli.common import (
    announce_library,
    console,
    err,
    fail,
    guarded,
    print_json,
    progress_bar,
    runtime,
)
from aima.cli.events import events_app
from aima.cli.fleet import fleet_app, gpus_app
from aima.cli.index import index_app
from aima.cli.jobs import jobs_app, run_jobs_here
from aima.cli.keys import keys_app
from aima.cli.persons import persons_app
from aima.cli.quotas import quotas_app
from aima.cli.receipts import receipts_app
from aima.cli.results import results_app
from aima.cli.retention import retention_app
from aima.cli.review import review_app
from aima.cli.search import search_app
from aima.cli.summaries import media_app, person_summary_cmd
from aima.cli.users import users_app
from aima.core.logging import configure_logging
from aima.core.settings import load_settings
from aima.security.secrets import write_secret_file
from aima.services.access import cli_principal

app = typer.Typer(help="AIMA: self-hosted AI media analysis.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.command("backup")(backup_cmd)
app.command("restore")(restore_cmd)
app.add_typer(budgets_app, name="budgets")
app.add_typer(quotas_app, name="quotas")
app.add_typer(events_app, name="events")
app.add_typer(users_app, name="users")
app.add_typer(results_app, name="results")
app.add_typer(review_app, name="review")
app.add_typer(retention_app, name="retention")
app.add_typer(persons_app, name="persons")
app.add_typer(search_app, name="search")
app.add_typer(cases_app, name="cases")
app.add_typer(index_app, name="index")
app.command("analyze")(analyze)
app.command("timeline")(timeline_cmd)
app.command("models")(models_cmd)
app.add_typer(gpus_app, name="gpus")
app.add_typer(fleet_app, name="fleet")
app.command("calibrate")(calibrate_cmd)
persons_app.command("reembed")(reembed_cmd)
persons_app.command("summary")(person_summary_cmd)
app.add_typer(media_app, name="media")
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
storage_app = typer.Typer(help="Blob storage checks.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(storage_app, name="storage")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(receipts_app, name="receipts")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (AIMA_API__HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (AIMA_API__PORT)")] = None,
    worker: Annotated[bool, typer.Option(help="run the embedded worker")] = True,
) -> None:
    """Run the API and (by default) an embedded worker, creating a first admin if none exists."""
    import uvicorn

    from aima.api.app import create_app

    rt = runtime(long_running=True)
    created = rt.users.ensure_first_admin()
    bind_host = host or rt.settings.api.host
    bind_port = port or rt.settings.api.port
    console.print(
        f"[bold]AIMA[/] on http://{bind_host}:{bind_port}  (open it in a browser; API docs: /docs)"
    )
    console.print(f"  database: {rt.db.url.render_as_string(hide_password=True)}")
    console.print(f"  data dir: {rt.settings.data_dir.resolve()}")
    if created:
        user, password = created
        # never into the log: a 0600 file the operator reads once, then changes the password
        secret = write_secret_file(rt.settings.data_dir / "first-admin-password.txt", password)
        console.print(
            f"[bold green]First run:[/] created admin [bold]{user}[/]; its password is in "
            f"{secret} (readable by you only)\n"
            f"  change it: aima users passwd {user}",
            soft_wrap=True,  # the path stays on one line (copyable)
        )
    app_ = create_app(rt, start_workers=worker)
    uvicorn.run(
        app_,
        host=bind_host,
        port=bind_port,
        log_level=rt.settings.log_level.lower(),
        access_log=False,  # aima.access logs each request without its query string
    )


@app.command("worker")
def worker_cmd(
    concurrency: Annotated[int, typer.Option(help="worker threads in this process")] = 1,
    drain: Annotated[bool, typer.Option(help="exit once the queue is empty")] = False,
    worker_id: Annotated[str | None, typer.Option(help="stable id (default host:pid)")] = None,
) -> None:
    """Run workers that claim jobs from the ledger (SIGTERM: finish the chunk, then stop)."""
    from aima.pipeline.worker import WorkerPool

    rt = runtime(long_running=True)
    if concurrency == 1:
        w = rt.make_worker(worker_id)
        signal.signal(signal.SIGTERM, lambda *_: w.stop())
        err.print(f"worker {w.id} started")
        try:
            w.run_forever(idle_exit=drain)
        except KeyboardInterrupt:
            w.stop()
        return
    pool = WorkerPool(
        lambda i: rt.make_worker(f"{worker_id}-{i}" if worker_id else None),
        concurrency,
        idle_exit=drain,
    )

    def _stop_all(*_: object) -> None:
        for w in pool.workers:
            w.stop()

    signal.signal(signal.SIGTERM, _stop_all)
    pool.start()
    try:
        while any(t.is_alive() for t in pool.threads):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pool.stop()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (recursive)")],
    analyze: Annotated[bool, typer.Option(help="queue the default analyzers")] = True,
    analyzers: Annotated[
        str | None, typer.Option(help="comma-separated analyzers to queue")
    ] = None,
    priority: Annotated[int, typer.Option(help="job priority (higher first)")] = 0,
    library: Annotated[
        str, typer.Option(help="library whose retention rules apply (a-z, 0-9, _, -)")
    ] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print outcomes as JSON")] = False,
    wait: Annotated[
        bool, typer.Option(help="run the queued jobs here, with progress, until they finish")
    ] = False,
) -> None:
    """Validate and store media; one outcome line per file. Exit code 2 if any file was rejected."""
    rt = runtime()
    names = [a.strip() for a in analyzers.split(",") if a.strip()] if analyzers else None
    with progress_bar("ingest", enabled=not as_json) as hook:
        outcomes = guarded(
            lambda: rt.ingest.ingest_paths(
                paths,
                cli_principal(),
                analyze=analyze,
                analyzers=names,
                priority=priority,
                hook=hook,
                library=library,
            )
        )
    if as_json:
        print_json([o.to_dict() for o in outcomes])
    else:
        table = Table("file", "outcome", "media", "job", "detail")
        for o in outcomes:
            style = {"created": "green", "duplicate": "yellow", "rejected": "red"}[o.status]
            detail = (o.error or {}).get("message", "") if o.error else (o.kind or "")
            table.add_row(
                o.name, f"[{style}]{o.status}[/]", o.media_id or "", o.job_id or "", detail
            )
        console.print(table)
    if not outcomes:
        fail("no files found")
    job_ids = [o.job_id for o in outcomes if o.job_id]
    if wait and job_ids:
        states = run_jobs_here(rt, job_ids, show=not as_json)
        if not as_json:
            for job_id, state in states.items():
                console.print(f"job {job_id}: {state}")
    if any(o.status == "rejected" for o in outcomes):
        raise typer.Exit(2)


@app.command("analyzers")
def list_analyzers() -> None:
    """Installed analyzers, their versions and whether they are on by default."""
    rt = runtime()
    table = Table("name", "version", "modality", "default", "disabled", "description")
    for name in rt.registry.names():
        cls = rt.registry.classes[name]
        table.add_row(
            name,
            cls.version,
            cls.modality.value,
            "yes" if name in rt.settings.jobs.default_analyzers else "",
            rt.registry.disabled_reason(name) or "",
            cls.description,
        )
    console.print(table)
    privacy = rt.settings.privacy
    if privacy.jurisdiction or privacy.forbidden_analyzers:
        forbidden = ", ".join(sorted(privacy.forbidden_analyzers)) or "none"
        console.print(
            f"jurisdiction: {privacy.jurisdiction or '-'}; forbidden analyzers: {forbidden}"
        )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    from aima.store import migrate
    from aima.store.db import Database

    settings = guarded(load_settings)
    announce_library(settings)
    configure_logging(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(Database(settings.resolved_database_url))
    console.print("database is at the latest schema")


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations differ (run in CI)."""
    from alembic.util.exc import AutogenerateDiffsDetected

    from aima.store import migrate

    rt = runtime()
    try:
        migrate.check(rt.db)
    except AutogenerateDiffsDetected as exc:
        fail(f"models differ from migrations; add one with `aima db revision -m ...`:\n{exc}")
    console.print("models and migrations agree")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from model changes (developers)."""
    from aima.store import migrate

    migrate.revision(runtime().db, message)


@storage_app.command("verify")
def storage_verify() -> None:
    """Re-hash every stored media blob; list missing or corrupt ones (exit 1 if any)."""
    rt = runtime()
    with progress_bar("verify") as hook:
        problems = rt.system.verify_storage(hook)
    if not problems:
        console.print("[green]all media blobs present and intact[/]")
        return
    table = Table("sha256", "problem", "media")
    for p in problems:
        table.add_row(p.sha256, f"[red]{p.problem}[/]", ", ".join(p.media_ids))
    console.print(table)
    raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain with its key and against the signed anchors (exit 1 if tampered)."""
    rt = runtime()
    report = rt.system.verify_audit(cli_principal())
    if report.ok:
        anchored = (
            f"checked against the anchor at event #{report.anchored_seq}"
            if report.anchored_seq
            else "no anchor yet: run `aima audit anchor`"
        )
        legacy = f", {report.legacy} from before the audit key" if report.legacy else ""
        console.print(
            f"[green]audit chain intact[/] ({report.events} events{legacy}; {anchored}; "
            f"anchors: {rt.system.anchor_location})"
        )
        return
    where = (
        f"event id {report.first_bad_id} (#{report.first_bad_seq})"
        if report.first_bad_id is not None
        else f"event #{report.first_bad_seq}"
        if report.first_bad_seq is not None
        else "the anchors"
    )
    fail(f"audit chain broken at {where} of {report.events}: {report.problem}")


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Export the signed chain head outside the database (detects later truncation)."""
    rt = runtime()
    record = rt.system.anchor_audit(cli_principal())
    if record is None:
        console.print("the audit trail is empty: nothing to anchor")
        return
    console.print(
        f"anchored event #{record['seq']} ({record['hash'][:16]}…) at {rt.system.anchor_location}"
    )


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option()] = 50,
    action: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Most recent audit events."""
    rt = runtime()
    table = Table("id", "time", "actor", "action", "object", "outcome")
    for e in rt.system.audit_events(cli_principal(), limit=limit, action=action):
        table.add_row(
            str(e.id),
            e.ts.isoformat(),
            e.actor,
            e.action,
            f"{e.object_type or ''} {e.object_id or ''}",
            e.outcome,
        )
    console.print(table)


def main() -> None:
    app()
