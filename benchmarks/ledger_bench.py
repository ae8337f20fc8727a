"""Job-ledger throughput: chunk commits/s, claim latency, double claims, peak RSS.

    python benchmarks/ledger_bench.py [--postgres-url URL] [--jobs N] [--chunks M]

Scenarios: PostgreSQL with 1 and 4 worker processes, SQLite (WAL) with 1. Each
scenario gets a fresh database (a throw-away PostgreSQL database, created and
dropped here, or a SQLite file in a temp dir) holding one generated image and N
queued jobs of M chunks each.

Every worker process runs the ledger calls ``JobRunner`` makes for a job whose
analyzer does no work: ``claim``, ``ensure_chunks``, then per chunk
``commit_chunk`` (the checkpoint), then ``save_result`` and
``complete``. What is measured is therefore the ledger and the database, not
an analyzer. (A real worker also writes one lease heartbeat and one worker
heartbeat per ``heartbeat_s`` per job; with 40 tiny chunks that is noise.)

Columns: ``commits/s`` = committed chunks / wall time from the common start to
the last worker's end; ``claim p50/p95`` = time of the ``claim()`` calls that
returned a job; ``double`` = chunk executions beyond one per chunk (must be 0);
``peak RSS`` = the largest worker's peak resident set (VmHWM, else ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_COMMITS_PER_S = 500.0
ANALYZER = "bench"


@dataclass
class WorkerReport:
    worker: int
    started: float
    ended: float
    claim_ms: list[float]
    executed: list[tuple[str, int]]
    claimed: list[str]
    lease_lost: int
    max_rss_kb: int


@dataclass
class Row:
    scenario: str
    workers: int
    jobs: int
    chunks: int
    wall_s: float
    commits_per_s: float
    claim_p50_ms: float
    claim_p95_ms: float
    double: int
    lease_lost: int
    peak_rss_mb: float
    ok: bool


# ------------------------------------------------------------------ the worker
def peak_rss_kb() -> int:
    """This process's peak resident set in KiB.

    ``/proc/self/status`` VmHWM where it exists: on Linux ``getrusage().ru_maxrss``
    survives ``exec``, so a spawned worker would report its parent's RSS at fork time.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _worker(
    index: int, url: str, lease_s: float, barrier: Any, queue: Any
) -> None:  # runs in a spawned process
    from aima.core.errors import LeaseLost
    from aima.core.settings import JobSettings
    from aima.jobs.ledger import Ledger
    from aima.store.db import Database

    db = Database(url)
    ledger = Ledger(db, JobSettings(lease_s=lease_s, heartbeat_s=lease_s / 4))
    owner = f"bench-{index}"
    db.ping()  # open a pooled connection before the clock starts
    claim_ms: list[float] = []
    executed: list[tuple[str, int]] = []
    claimed: list[str] = []
    lost = 0
    barrier.wait()
    started = time.monotonic()
    while True:
        t0 = time.perf_counter()
        claim = ledger.claim(owner)
        if claim is None:
            break
        claim_ms.append((time.perf_counter() - t0) * 1000)
        claimed.append(claim.job_id)
        try:
            n = int(claim.options["chunks"])
            done = ledger.ensure_chunks(
                claim, ANALYZER, [(float(i), float(i + 1)) for i in range(n)]
            )
            results = dict(done)
            for i in range(n):
                if i in done:
                    continue
                executed.append((claim.job_id, i))
                results[i] = {"i": i}
                ledger.commit_chunk(
                    claim,
                    ANALYZER,
                    i,
                    results[i],
                    duration_s=0.0,
                    progress=(i + 1) / n,
                    message=f"{ANALYZER} {i + 1}/{n}",
                )
            ledger.save_result(
                claim,
                ANALYZER,
                version="0",
                model_id="none",
                config={},
                config_hash="0",
                data={"chunks": n, "sum": sum(r["i"] for r in results.values())},
            )
            ledger.complete(claim)
        except LeaseLost:
            lost += 1
    ended = time.monotonic()
    db.dispose()
    queue.put(
        WorkerReport(
            index,
            started,
            ended,
            claim_ms,
            executed,
            claimed,
            lost,
            peak_rss_kb(),
        )
    )


# --------------------------------------------------------------- one scenario
def _prepare(url: str, data_dir: Path, jobs: int, chunks: int) -> None:
    """Schema, one media row (a generated image), ``jobs`` queued jobs."""
    from tests.mediagen import synth

    from aima.core.settings import Settings
    from aima.runtime import build_runtime
    from aima.services.access import cli_principal

    settings = Settings(
        env="test",
        data_dir=data_dir,
        database_url=url,
        log_level="WARNING",
        auth={"jwt_secret": secrets.token_urlsafe(40)},
        worker={"embedded": False},
    )
    rt = build_runtime(settings)
    try:
        image = synth.make_image(data_dir / "bench.png", width=64, height=48, fmt="PNG")
        media_id = rt.ingest.ingest_file(image, cli_principal(), analyze=False).media_id
        assert media_id is not None
        for _ in range(jobs):
            rt.ledger.submit(media_id, [ANALYZER], options={"chunks": chunks})
    finally:
        rt.close()


def _verify(url: str, jobs: int, chunks: int) -> bool:
    from sqlalchemy import func, select

    from aima.store.db import Database
    from aima.store.models import AnalysisResult, Job, JobChunk

    db = Database(url)
    try:
        with db.session() as s:
            succeeded = s.execute(
                select(func.count()).select_from(Job).where(Job.state == "succeeded")
            ).scalar_one()
            done = s.execute(
                select(func.count()).select_from(JobChunk).where(JobChunk.status == "done")
            ).scalar_one()
            results = s.execute(select(func.count()).select_from(AnalysisResult)).scalar_one()
        return succeeded == jobs and done == jobs * chunks and results == jobs
    finally:
        db.dispose()


def run_scenario(name: str, url: str, workers: int, jobs: int, chunks: int, lease_s: float) -> Row:
    with tempfile.TemporaryDirectory(prefix="aima-bench-") as tmp:
        _prepare(url, Path(tmp), jobs, chunks)
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(workers)
        queue = ctx.Queue()
        procs = [
            ctx.Process(target=_worker, args=(i, url, lease_s, barrier, queue))
            for i in range(workers)
        ]
        for p in procs:
            p.start()
        reports: list[WorkerReport] = [queue.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(60)
            if p.exitcode != 0:
                raise RuntimeError(f"{name}: worker exited with {p.exitcode}")
        ok = _verify(url, jobs, chunks)
    wall = max(r.ended for r in reports) - min(r.started for r in reports)
    executed = Counter(e for r in reports for e in r.executed)
    claimed = Counter(j for r in reports for j in r.claimed)
    double = sum(n - 1 for n in executed.values()) + sum(n - 1 for n in claimed.values())
    latencies = sorted(ms for r in reports for ms in r.claim_ms)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return Row(
        scenario=name,
        workers=workers,
        jobs=jobs,
        chunks=sum(executed.values()),
        wall_s=wall,
        commits_per_s=sum(executed.values()) / wall if wall > 0 else 0.0,
        claim_p50_ms=statistics.median(latencies),
        claim_p95_ms=p95,
        double=double,
        lease_lost=sum(r.lease_lost for r in reports),
        peak_rss_mb=max(r.max_rss_kb for r in reports) / 1024,
        ok=ok and len(executed) == jobs * chunks,
    )


# ------------------------------------------------------------------ PostgreSQL
def _admin_conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_pg_database(url: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"aima_bench_{secrets.token_hex(6)}"
    with psycopg.connect(_admin_conninfo(url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(url).set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_conninfo(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'scenario':<16}{'workers':>8}{'jobs':>6}{'chunks':>8}{'wall s':>8}"
        f"{'commits/s':>11}{'claim p50':>11}{'claim p95':>11}{'double':>8}"
        f"{'lost':>6}{'peak RSS':>10}{'ok':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.scenario:<16}{r.workers:>8}{r.jobs:>6}{r.chunks:>8}{r.wall_s:>8.2f}"
            f"{r.commits_per_s:>11.0f}{r.claim_p50_ms:>9.1f}ms{r.claim_p95_ms:>9.1f}ms"
            f"{r.double:>8}{r.lease_lost:>6}{r.peak_rss_mb:>8.0f}MB{'yes' if r.ok else 'NO':>5}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=DEFAULT_PG, help="server to create a DB on")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=40, help="chunks per job")
    parser.add_argument("--lease-s", type=float, default=60.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)

    rows: list[Row] = []
    if not args.no_postgres:
        for workers in (1, 4):
            url, name = create_pg_database(args.postgres_url)
            try:
                rows.append(
                    run_scenario("postgresql", url, workers, args.jobs, args.chunks, args.lease_s)
                )
            finally:
                drop_pg_database(args.postgres_url, name)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="aima-bench-db-") as d:
            url = f"sqlite:///{Path(d) / 'bench.db'}"
            rows.append(run_scenario("sqlite", url, 1, args.jobs, args.chunks, args.lease_s))

    print_table(rows)
    pg = [r.commits_per_s for r in rows if r.scenario == "postgresql"]
    if pg:
        best = max(pg)
        verdict = "meets" if best >= TARGET_COMMITS_PER_S else "BELOW"
        print(
            f"\nPostgreSQL best: {best:.0f} chunk commits/s ({verdict} the {TARGET_COMMITS_PER_S:.0f}/s target)"
        )
    failed = [r for r in rows if r.double or not r.ok]
    if failed:
        print(
            "FAILED: double claims or incomplete jobs in " + ", ".join(r.scenario for r in failed)
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
