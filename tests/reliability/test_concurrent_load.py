"""50 uploads at once and 20 jobs through a real `aima serve`: 0 errors, 0 lost.

A real server process (``aima serve --no-worker`` on a free loopback port) and two real
``aima worker`` processes share one library, on SQLite and on PostgreSQL. Fifty clients (one
thread each, released together by a barrier) upload fifty distinct images over HTTP; twenty of
those uploads queue a job (the counting plug-in). Then: every upload answered 201, every
media has its row and its blob, every job succeeded with one result. Latencies are printed as
figures only; nothing here asserts a time.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import Job, Media
from tests.conftest import make_settings
from tests.jobs.conftest import PLUGIN, start_worker, wait_for, worker_env
from tests.mediagen import synth
from tests.reliability.conftest import figure
from tests.web.conftest import start_serve

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

UPLOADS = 50
JOBS = 20
WORKERS = 2
COUNTING = {"chunks": 3}


@dataclass
class Served:
    url: str
    token: str
    data: Path
    db_url: str
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[Served]:
    """`aima serve` + two `aima worker` processes with the counting plug-in, one admin."""
    data = tmp_path / "data"
    rt = build_runtime(
        make_settings(data, db_url, plugins=[PLUGIN], analyzers={"counting": COUNTING})
    )
    try:
        admin = rt.users.create(cli_principal(), "admin", "load-test-password-123", "admin")
        token = rt.users.codec.issue_access(admin.id, admin.role)
    finally:
        rt.close()
    env = worker_env(db_url, data, COUNTING, lease_s=30, heartbeat_s=2)
    env["AIMA_WORKER__POLL_INTERVAL_S"] = "0.1"
    env["AIMA_AUDIT__KEY_FILE"] = str(data.parent / f"{data.name}-keys" / "audit.key")
    plugin_env = {k: env[k] for k in ("AIMA_PLUGINS", "AIMA_ANALYZERS", "PYTHONPATH")}
    server, url = start_serve(data, db_url, plugin_env)
    log = data / "workers.log"
    workers = [start_worker(env, log) for _ in range(WORKERS)]
    try:
        yield Served(url, token, data, db_url, data / "serve.log")
    finally:
        for proc in [*workers, server]:
            _stop(proc)


def _upload(
    client: httpx.Client, served: Served, path: Path, analyze: bool, gate: threading.Barrier
) -> tuple[float, int, dict[str, Any]]:
    form = {"analyze": "true", "analyzers": "counting"} if analyze else {"analyze": "false"}
    body = path.read_bytes()
    gate.wait()
    started = time.perf_counter()
    try:
        r = client.post(
            f"{served.url}/api/v1/media",
            files=[("files", (path.name, body, "image/jpeg"))],
            data=form,
            headers=served.headers,
        )
    except httpx.HTTPError as exc:
        return time.perf_counter() - started, 0, {"exception": repr(exc)}
    return time.perf_counter() - started, r.status_code, r.json()


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def test_fifty_concurrent_uploads_and_twenty_jobs_lose_nothing(
    served: Served, tmp_path: Path, db_url: str
) -> None:
    images = [
        synth.make_image(tmp_path / "in" / f"photo{i:02d}.jpg", 96, 64, seed=1000 + i)
        for i in range(UPLOADS)
    ]
    gate = threading.Barrier(UPLOADS)
    limits = httpx.Limits(max_connections=UPLOADS, max_keepalive_connections=UPLOADS)
    started = time.perf_counter()
    with (
        httpx.Client(timeout=300, limits=limits) as client,
        ThreadPoolExecutor(max_workers=UPLOADS) as pool,
    ):
        # two uploads in every five queue a job: 20 of 50
        answers = list(
            pool.map(lambda i: _upload(client, served, images[i], i % 5 < 2, gate), range(UPLOADS))
        )
    uploads_wall = time.perf_counter() - started
    errors = [(status, body) for _, status, body in answers if status != 201]
    assert errors == [], (errors[:5], served.log.read_text()[-3000:])
    outcomes = [body["files"][0] for _, _, body in answers]
    assert all(o["status"] == "created" for o in outcomes), outcomes
    media_ids = {o["media_id"] for o in outcomes}
    job_ids = [o["job_id"] for o in outcomes if o["job_id"]]
    assert len(media_ids) == UPLOADS and len(job_ids) == JOBS, (len(media_ids), len(job_ids))

    states: dict[str, str] = {}

    def all_finished() -> bool:
        for job_id in job_ids:
            if states.get(job_id) not in ("succeeded", "partial", "failed", "cancelled"):
                r = httpx.get(f"{served.url}/api/v1/jobs/{job_id}", headers=served.headers)
                assert r.status_code == 200, r.text
                states[job_id] = r.json()["state"]
        return all(s in ("succeeded", "partial", "failed", "cancelled") for s in states.values())

    wait_for(all_finished, 240, f"{JOBS} jobs to finish", every=0.2)
    jobs_wall = time.perf_counter() - started
    assert set(states.values()) == {"succeeded"}, states

    listed = httpx.get(
        f"{served.url}/api/v1/media", params={"limit": 500}, headers=served.headers
    ).json()
    rt: Runtime = build_runtime(make_settings(served.data, db_url, plugins=[PLUGIN]))
    try:
        with rt.db.session() as s:
            rows = {m.id: m.sha256 for m in s.execute(select(Media)).scalars()}
            jobs = list(s.execute(select(Job)).scalars())
        lost_blobs = [mid for mid, sha in rows.items() if not rt.blobs.exists(sha)]
        results = {job_id: len(rt.ledger.results(job_id)) for job_id in job_ids}
    finally:
        rt.close()
    lost = (media_ids - set(rows)) | set(lost_blobs)
    assert listed["total"] == UPLOADS and set(rows) == media_ids and lost == set()
    assert len(jobs) == JOBS and set(results.values()) == {1}, results

    latencies = sorted(latency * 1000 for latency, _, _ in answers)
    backend = db_url.split(":", 1)[0].split("+")[0]
    figure(
        f"concurrent load ({backend}): {UPLOADS} uploads at once + {JOBS} jobs on "
        f"{WORKERS} workers: {len(errors)} errors, {len(lost)} lost uploads, "
        f"{sum(results.values())}/{JOBS} job results; upload latency p50 "
        f"{_percentile(latencies, 50):.0f} ms, p95 {_percentile(latencies, 95):.0f} ms, "
        f"max {latencies[-1]:.0f} ms; all uploads answered after {uploads_wall:.1f} s, "
        f"all jobs done after {jobs_wall:.1f} s"
    )
