"""The database goes away mid-job or mid-request: jobs keep their attempts, the API says 503.

Real PostgreSQL: connections are killed with ``pg_terminate_backend`` (what a restart or a
failover does to a client), and new ones refused with ``ALLOW_CONNECTIONS false``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from aima.api.app import create_app
from aima.jobs.states import JobState
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.db import connection_lost
from aima.store.models import Job, JobChunk
from tests.api.helpers import Api
from tests.conftest import _admin_conninfo, make_settings
from tests.mediagen import synth
from tests.plugins.counting import read_log
from tests.reliability.conftest import figure

pytestmark = [pytest.mark.postgres, pytest.mark.reliability]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def pg_runtime(tmp_path: Path, pg_url: str) -> Iterator[tuple[Runtime, str]]:
    log = tmp_path / "runs.log"
    settings = make_settings(
        tmp_path / "data",
        pg_url,
        plugins=["tests.plugins.counting"],
        analyzers={
            "counting": {
                "chunks": 6,
                "log_path": str(log),
                "terminate_db_on_chunk": 2,
                "db_url": _libpq(pg_url),
            }
        },
    )
    rt = build_runtime(settings)
    try:
        yield rt, str(log)
    finally:
        rt.close()


def _queue(rt: Runtime, tmp_path: Path) -> str:
    media = tmp_path / "pic.jpg"
    synth.make_image(media)
    outcome = rt.ingest.ingest_file(media, cli_principal(), analyzers=["counting"])
    assert outcome.job_id is not None
    return outcome.job_id


def test_connections_killed_mid_job_cost_no_attempt_and_redo_nothing(
    pg_runtime: tuple[Runtime, str], tmp_path: Path
) -> None:
    rt, log = pg_runtime
    job_id = _queue(rt, tmp_path)
    worker = rt.make_worker("blip-worker")
    while worker.run_once():
        pass
    analyzer: Any = rt.registry.get("counting")
    assert analyzer.terminated >= 1  # the worker's own pooled connections were among them
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        assert (job.state, job.attempts, job.dead_letter) == (JobState.SUCCEEDED, 1, False)
        chunks = s.execute(select(JobChunk).where(JobChunk.job_id == job_id)).scalars().all()
    assert sorted(c.chunk_index for c in chunks) == list(range(6))
    runs = [index for job, index, _pid in read_log(log) if job == job_id]
    assert sorted(runs) == list(range(6))  # every chunk ran exactly once
    figure(
        f"db connections killed mid-job (postgresql): {analyzer.terminated} connections "
        f"terminated at chunk 2 of 6; job {job.state}, attempts {job.attempts}, "
        f"chunks redone {len(runs) - len(set(runs))}"
    )


def _real_connection_error(pg_url: str) -> OperationalError:
    """A genuine error from a connection the server terminated (not a hand-made one)."""
    from sqlalchemy import create_engine

    engine = create_engine(pg_url, pool_pre_ping=False)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            try:
                conn.execute(text("SELECT 1"))
            except OperationalError as exc:
                return exc
    finally:
        engine.dispose()
    raise AssertionError("the terminated connection still answered")


def test_a_lost_connection_hands_the_job_back_without_counting_an_attempt(
    pg_runtime: tuple[Runtime, str], tmp_path: Path, pg_url: str
) -> None:
    rt, _ = pg_runtime
    job_id = _queue(rt, tmp_path)
    error = _real_connection_error(pg_url)
    assert connection_lost(error)

    class BrokenRunner:
        def run(self, *args: Any, **kwargs: Any) -> JobState:
            raise error

    worker = rt.make_worker("unlucky")
    worker.runner = BrokenRunner()  # type: ignore[assignment]
    for _ in range(5):  # more blips than max_attempts: none of them may dead-letter the job
        assert worker.run_once()
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        assert (job.state, job.attempts, job.dead_letter) == (JobState.QUEUED, 0, False)
    figure(
        "lost db connection x5 at job start (postgresql): job still queued, attempts 0, "
        "not dead-lettered"
    )


def test_the_api_answers_503_with_retry_after_while_the_database_is_away(
    tmp_path: Path, pg_url: str
) -> None:
    name = make_url(pg_url).database
    rt = build_runtime(make_settings(tmp_path / "data", pg_url))
    try:
        with TestClient(create_app(rt, start_workers=False)) as client:
            api = Api(rt, client)
            admin = api.user("admin")
            assert client.get("/api/v1/media", headers=admin.headers).status_code == 200
            with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
            answered = 0
            try:
                for path in ("/api/v1/media", "/api/v1/jobs", "/api/v1/auth/me"):
                    r = client.get(path, headers=admin.headers)
                    assert r.status_code == 503, (path, r.status_code, r.text[:200])
                    assert r.headers["Retry-After"] == "2"
                    assert r.json()["error"]["code"] == "database_unavailable"
                    answered += 1
            finally:
                with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
                    conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            assert client.get("/api/v1/media", headers=admin.headers).status_code == 200
            figure(
                f"database away (postgresql): {answered}/3 API calls answered 503 with "
                "Retry-After 2; 200 again once it is back"
            )
    finally:
        rt.close()
