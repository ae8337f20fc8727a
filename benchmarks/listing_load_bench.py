"""Listings under load: 50 concurrent clients on ``GET /api/v1/media`` and ``/api/v1/jobs``.

Seeds --media rows (direct inserts; one job each) into a throw-away library on SQLite or a
temporary PostgreSQL database, starts ``aima serve`` (uvicorn, no worker) on it, then runs
--clients threads, each with its own keep-alive connection, alternating the two listings
(first page of 50), paced to --rate requests per second in all (75 by default, then again
as fast as the server answers), for --requests requests in all. Prints
latency p50 / p95 / p99 / max, requests per second, errors, and the server's peak RSS.

    .venv/bin/python -m benchmarks.listing_load_bench [--db sqlite|postgres] [--clients 50]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from tests.conftest import make_settings
from tests.web.conftest import start_serve

from aima.core.clock import utcnow
from aima.jobs.states import JobState
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from aima.store.models import Job, Media, MediaGrant

from .common import say, table, temporary_pg_database

PASSWORD = "bench-password-123"


def seed(data: Path, db_url: str, count: int) -> None:
    rt = build_runtime(make_settings(data, db_url))
    try:
        user = rt.users.create(cli_principal(), "loader", PASSWORD, "uploader")
        now = utcnow()
        with rt.db.session() as s:
            for i in range(count):
                media_id = f"med_load{i:028d}"
                s.add(
                    Media(
                        id=media_id,
                        sha256=hashlib.sha256(f"load-{i}".encode()).hexdigest(),
                        size=1000 + i,
                        kind="image",
                        format="jpg",
                        mime="image/jpeg",
                        original_name=f"photo-{i}.jpg",
                        info={"kind": "image", "width": 64, "height": 64},
                        uploaded_by=user.id,
                        created_at=now,
                    )
                )
            s.flush()  # media rows first: grants and jobs refer to them
            for i in range(count):
                media_id = f"med_load{i:028d}"
                s.add(MediaGrant(media_id=media_id, user_id=user.id, display_name=f"p{i}.jpg"))
                s.add(
                    Job(
                        id=f"job_load{i:028d}",
                        media_id=media_id,
                        analyzers=["thumbnails"],
                        state=JobState.SUCCEEDED.value,
                        created_by=user.id,
                        created_at=now,
                    )
                )
            s.commit()
        # planner statistics, as autovacuum (PostgreSQL) or ``PRAGMA optimize`` (SQLite)
        # would have after a bulk load; without them PostgreSQL plans for empty tables
        with rt.db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        rt.close()


def hammer(
    url: str, token: str, clients: int, total: int, rate: float = 0.0
) -> tuple[list[float], int, float]:
    """``total`` requests from ``clients`` threads; ``rate`` > 0 paces them to that many requests
    per second in all (an open-loop schedule: a late request is sent at once, not dropped)."""
    paths = ("/api/v1/media?limit=50", "/api/v1/jobs?limit=50")
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = [total]
    start_gate = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            start_gate.wait()
            began = time.perf_counter()
            i = n
            sent = 0
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                if rate > 0:  # this client's k-th request is due at (k * clients + n) / rate
                    due = began + (sent * clients + n) / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                sent += 1
                started = time.perf_counter()
                try:
                    ok = http.get(paths[i % 2], timeout=60).status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    errors += 0 if ok else 1
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, errors, time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(db: str, media: int, clients: int, requests: int, rate: float) -> dict[str, object]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        data = tmp / "data"
        if db == "postgres":
            db_url = stack.enter_context(temporary_pg_database())
        else:
            db_url = f"sqlite:///{data}/aima.db"
        seed(data, db_url, media)
        proc, url = start_serve(data, db_url)
        try:
            token = httpx.post(
                f"{url}/api/v1/auth/login", json={"username": "loader", "password": PASSWORD}
            ).json()["access_token"]
            hammer(url, token, clients, clients * 2)  # warm-up: connections, caches
            cpu_before = cpu_seconds(proc.pid)
            latencies, errors, wall = hammer(url, token, clients, requests, rate)
            cpu_ms = (cpu_seconds(proc.pid) - cpu_before) * 1000 / max(1, len(latencies))
            rss = server_peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "db": db,
        "clients": clients,
        "target req/s": rate or "max",
        "requests": len(latencies),
        "errors": errors,
        "req/s": len(latencies) / wall,
        "p50 ms": q[49] * 1000,
        "p95 ms": q[94] * 1000,
        "p99 ms": q[98] * 1000,
        "max ms": max(latencies) * 1000,
        "server CPU ms/req": cpu_ms,
        "server peak MiB": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--media", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument(
        "--rate",
        type=float,
        default=75.0,
        help="requests per second in all (0: as fast as it goes)",
    )
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    rows = [
        run(db, args.media, args.clients, args.requests, r) for db in dbs for r in {args.rate, 0}
    ]
    say(table(rows))


if __name__ == "__main__":
    main()
