"""A full disk gives a clear, retryable answer and leaves nothing half-written.

The library lives on a real 6 MiB tmpfs mounted for the test (root in CI, as on these
machines), so the kernel itself answers ENOSPC. An upload to a full disk is refused with 507;
a job whose step finds the disk full waits in the queue (no attempt counted, nothing stored
for that step) and resumes from its last committed chunk once space is back. The disk is
filled by a ballast file written from the worker's progress hook, between two chunks.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from aima.api.app import create_app
from aima.core.clock import utcnow
from aima.core.errors import is_disk_full
from aima.core.progress import Progress
from aima.jobs.states import JobState
from aima.pipeline.worker import Worker
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.crypto_blobs import BLOB_SCOPE
from aima.store.models import AnalysisResult, Job, JobChunk, Media
from aima.store.models_trust import DataKey
from tests.api.helpers import Api
from tests.conftest import make_settings
from tests.mediagen import synth
from tests.reliability.conftest import figure

pytestmark = pytest.mark.reliability


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the disk-full test (needs root): {done.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_upload_to_a_full_disk_is_507_and_nothing_is_left(tiny_disk: Path, tmp_path: Path) -> None:
    data = tiny_disk / "data"
    settings = make_settings(
        data,
        f"sqlite:///{tmp_path / 'aima.db'}",  # the database elsewhere: only the blobs fill up
        audit={"key_file": tmp_path / "keys" / "audit.key"},
    )
    rt = build_runtime(settings)
    try:
        with TestClient(create_app(rt, start_workers=False)) as client:
            api = Api(rt, client)
            admin = api.user("admin")
            ready = client.get("/readyz").json()
            assert ready["checks"]["disk"]["ok"] is False  # 6 MiB free < 256 MiB minimum
            big = os.urandom(8 * 1024 * 1024)
            r = api.upload(admin, [("big.bin", big)])
            assert r.status_code == 507, r.text
            assert r.headers["Retry-After"]
            message = r.json()["error"]["message"]
            assert "disk is full" in message and str(tiny_disk) not in message
            with rt.db.session() as s:
                assert s.query(Media).count() == 0
            leftovers = [p for p in data.rglob("*") if p.is_file() and p.stat().st_size > 0]
            assert sum(p.stat().st_size for p in leftovers) < 1024 * 1024, leftovers
            figure(
                f"disk full (6 MiB tmpfs data dir): 8 MiB upload answered {r.status_code} with "
                f"Retry-After {r.headers['Retry-After']}; 0 media rows; "
                f"{sum(p.stat().st_size for p in leftovers)} bytes left behind"
            )
    finally:
        rt.close()


def _fill(ballast: Path) -> int:
    """Write ``ballast`` until the kernel answers ENOSPC; returns the bytes it holds."""
    block = b"\0" * (256 * 1024)
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    written = 0
    try:
        while True:
            try:
                written += os.write(fd, block)  # a short write first, then ENOSPC
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                return written
    finally:
        os.close(fd)


def _worker(rt: Runtime, worker_id: str, hook: Callable[[Progress], None]) -> Worker:
    """A worker of ``rt`` whose progress hook is ``hook`` (it fills the disk mid-job)."""
    settings = rt.settings
    return Worker(
        rt.db,
        rt.ledger,
        rt.runner,
        jobs=settings.jobs,
        worker=settings.worker,
        worker_id=worker_id,
        hook_factory=lambda _job_id: hook,
    )


def _chunks(rt: Runtime, job_id: str) -> dict[int, JobChunk]:
    with rt.db.session() as s:
        rows = s.execute(select(JobChunk).where(JobChunk.job_id == job_id)).scalars().all()
        return {c.chunk_index: c for c in rows}


def _results(rt: Runtime, media_id: str) -> list[AnalysisResult]:
    with rt.db.session() as s:
        query = select(AnalysisResult).where(AnalysisResult.media_id == media_id)
        return list(s.execute(query).scalars().all())


def _job(rt: Runtime, job_id: str) -> Job:
    with rt.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def _blob_files(blob_root: Path) -> tuple[set[str], list[Path]]:
    """The stored blob keys, and every other file (writes in flight left behind)."""
    keys, other = set(), []
    for path in blob_root.rglob("*"):
        if not path.is_file():
            continue
        if path.parent.parent.parent == blob_root and len(path.name) == 64:
            keys.add(path.name)
        else:
            other.append(path)
    return keys, other


@pytest.mark.parametrize("sealed", [False, True], ids=["plain", "encrypted"])
def test_a_job_that_fills_the_disk_waits_without_losing_attempts_then_resumes(
    tiny_disk: Path, tmp_path: Path, db_url: str, sealed: bool
) -> None:
    data = tiny_disk / "data"
    extra: dict[str, Any] = {}
    if sealed:  # the run also spools a decrypted copy of the media into the data dir
        extra["encryption"] = {"kek_file": tmp_path / "keys" / "kek.json"}
    settings = make_settings(
        data, db_url, audit={"key_file": tmp_path / "keys" / "audit.key"}, **extra
    )
    rt = build_runtime(settings)
    try:
        assert rt.runner.ledger is rt.ledger
        shift = [timedelta(0)]  # the ledger's clock: retries come due without waiting
        rt.ledger.clock = lambda: utcnow() + shift[0]
        video = synth.make_video(tmp_path / "clip.mp4", seconds=5.0, audio=False)
        outcome = rt.ingest.ingest_file(video, cli_principal(), analyzers=["thumbnails"])
        assert outcome.media_id is not None and outcome.job_id is not None
        media_id, job_id = outcome.media_id, outcome.job_id
        blob_root = settings.blob_path
        stored_before, _ = _blob_files(blob_root)
        assert len(stored_before) == 1  # the media itself

        ballast = tiny_disk / "ballast.bin"
        filled: list[int] = []

        def fill_after_first_chunk(p: Progress) -> None:
            # runs in the worker, between chunk 0 (computed, about to commit) and chunk 1
            if p.step == "thumbnails" and p.completed == 1 and not filled:
                filled.append(_fill(ballast))

        worker = _worker(rt, "disk-worker", fill_after_first_chunk)
        assert worker.run_once()
        assert filled, "the first chunk never reported progress"

        # the chunk that found the disk full: a clear, retryable wait, nothing half-written
        job = _job(rt, job_id)
        assert (job.state, job.attempts, job.dead_letter) == (JobState.QUEUED, 0, False)
        assert job.error is not None and "no space left on the data disk" in job.error
        assert str(tiny_disk) not in job.error
        assert job.not_before > utcnow() + timedelta(seconds=30)  # not a hot retry loop
        assert "thumbnails" not in job.outcome  # not recorded as an analyzer failure
        chunks = _chunks(rt, job_id)
        total = len(chunks)
        assert total >= 3, total
        assert {i: c.status for i, c in chunks.items()} == {
            i: "done" if i == 0 else "pending" for i in range(total)
        }
        assert all(c.error is None for c in chunks.values())
        assert _results(rt, media_id) == []
        first_thumb = chunks[0].result["blob"] if chunks[0].result else None
        token_before = chunks[0].committed_token
        stored, stray = _blob_files(blob_root)
        assert stored == stored_before | {first_thumb} and stray == []
        if sealed:  # the decrypted spool copy is gone too
            assert [p for p in (data / "tmp").rglob("*") if p.is_file()] == []

        # still full: more runs than max_attempts, none of them dead-letters the job. The
        # encrypted run's spool copy was freed when it stopped: topping the ballast up makes
        # these runs fail earlier, while decrypting the media for the run
        topped = _fill(tiny_disk / "ballast-2.bin")
        if sealed:
            assert topped > 0
        reruns = settings.jobs.max_attempts + 1
        for _ in range(reruns):
            shift[0] += timedelta(minutes=5)
            assert worker.run_once()
            job = _job(rt, job_id)
            assert (job.state, job.attempts, job.dead_letter) == (JobState.QUEUED, 0, False)
        full_attempts = job.attempts
        assert job.error is not None
        if sealed:  # stopped before any chunk: the worker's own message
            assert "no space left on the data disk;" in job.error, job.error
        else:  # stopped by the runner at the chunk that writes
            assert "during thumbnails chunk 1;" in job.error, job.error
        stored, stray = _blob_files(blob_root)
        assert stored == stored_before | {first_thumb} and stray == []
        full_stray, full_results = len(stray), len(_results(rt, media_id))
        assert full_results == 0

        # space comes back: the job resumes from its last committed chunk and succeeds
        ballast.unlink()
        (tiny_disk / "ballast-2.bin").unlink()
        shift[0] += timedelta(minutes=5)
        assert worker.run_once()
        job = _job(rt, job_id)
        assert (job.state, job.attempts, job.dead_letter) == (JobState.SUCCEEDED, 1, False)
        assert job.error is None
        results = _results(rt, media_id)
        assert [r.analyzer for r in results] == ["thumbnails"]  # exactly one per analyzer
        chunks = _chunks(rt, job_id)
        assert sorted(chunks) == list(range(total))
        assert all(c.status == "done" for c in chunks.values())
        # a chunk is committed under the fencing token of the run that computed it
        redone = int(chunks[0].committed_token != token_before)
        assert redone == 0
        later = {chunks[i].committed_token for i in range(1, total)}
        assert len(later) == 1, later  # every later chunk by the final run
        (final_token,) = later
        assert token_before is not None and final_token is not None
        assert final_token > token_before
        candidates = [c["blob"] for c in results[0].data["candidates"]]
        assert candidates[0] == first_thumb  # chunk 0 was not redone
        stored, stray = _blob_files(blob_root)
        assert stored == stored_before | set(candidates) and stray == []
        assert all(rt.blobs.verify(key) for key in stored)
        if sealed:  # every live blob data key has its blob: no key left for a lost write
            with rt.db.session() as s:
                subjects = s.execute(
                    select(DataKey.subject_id).where(
                        DataKey.scope == BLOB_SCOPE, DataKey.wrapped.is_not(None)
                    )
                ).scalars()
                assert set(subjects) == stored
        figure(
            f"disk full mid-job ({'encrypted' if sealed else 'plain'} blobs, "
            f"{rt.db.engine.dialect.name}): ballast {filled[0] // 1024} KiB filled a "
            f"6 MiB tmpfs after chunk 1 of {total}; {1 + reruns} runs on the full disk "
            f"({'at chunk 2, then at decrypting the media' if sealed else 'at chunk 2'}) left the "
            f"job queued with attempts {full_attempts}, {full_stray} stray files, {full_results} "
            f"results; after freeing space it resumed at chunk 2: {job.state}, attempts "
            f"{job.attempts}, {len(results)} result(s), chunks redone {redone}"
        )
    finally:
        rt.close()


# -- the database on the full disk ---------------------------------------------------------
# In the embedded default the SQLite file lives in the data dir, so a full data disk is also
# a database that cannot grow: SQLite answers "database or disk is full" (SQLITE_FULL), which
# must read as a full disk (507, a job that waits), not as a lost connection or a bug.


def _truncate_wal(db_file: Path) -> None:
    """Empty SQLite's write-ahead log, so that the next commit needs new blocks on the disk
    (frames written over an old log's allocated space would not notice a full disk)."""
    conn = sqlite3.connect(db_file, timeout=60, isolation_level=None)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    assert busy == 0


def test_upload_when_the_database_cannot_grow_is_507_and_stores_nothing(
    tiny_disk: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path / "data",  # blobs have room: only the database's disk is full
        f"sqlite:///{tiny_disk / 'aima.db'}",
        audit={"key_file": tmp_path / "keys" / "audit.key"},
    )
    rt = build_runtime(settings)
    try:
        with TestClient(create_app(rt, start_workers=False)) as client:
            api = Api(rt, client)
            admin = api.user("admin")
            picture = synth.make_image(tmp_path / "p.jpg", width=320, height=240)
            _truncate_wal(tiny_disk / "aima.db")
            ballast = tiny_disk / "ballast.bin"
            _fill(ballast)
            r = api.upload(admin, [("p.jpg", picture.read_bytes())])
            assert r.status_code == 507, r.text
            assert r.headers["Retry-After"]
            message = r.json()["error"]["message"]
            assert "disk is full" in message and str(tiny_disk) not in message
            with rt.db.session() as s:
                assert s.query(Media).count() == 0
            stored, stray = _blob_files(settings.blob_path)
            assert (stored, stray) == (set(), [])  # the blob written first was removed again

            ballast.unlink()  # space is back: the same upload goes through
            again = api.upload(admin, [("p.jpg", picture.read_bytes())])
            assert again.status_code == 201, again.text
            with rt.db.session() as s:
                assert s.query(Media).count() == 1
            figure(
                "database disk full (SQLite on a 6 MiB tmpfs): upload answered "
                f"{r.status_code} with Retry-After {r.headers['Retry-After']}, 0 media rows, "
                f"0 blobs left; after freeing space {again.status_code}"
            )
    finally:
        rt.close()


class _FreeSpaceOnWait(threading.Event):
    """The worker's stop event; its first wait (the worker pausing because nothing can be
    written) frees the disk, as an operator would, instead of sleeping."""

    def __init__(self, free: Callable[[], None]) -> None:
        super().__init__()
        self.free = free
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        if self.waits == 1:
            self.free()
        return self.is_set()


def test_a_job_whose_database_cannot_grow_waits_without_losing_attempts(
    tiny_disk: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tiny_disk / 'aima.db'}",
        audit={"key_file": tmp_path / "keys" / "audit.key"},
    )
    rt = build_runtime(settings)
    try:
        shift = [timedelta(0)]
        rt.ledger.clock = lambda: utcnow() + shift[0]
        video = synth.make_video(tmp_path / "clip.mp4", seconds=5.0, audio=False)
        outcome = rt.ingest.ingest_file(video, cli_principal(), analyzers=["thumbnails"])
        assert outcome.media_id is not None and outcome.job_id is not None
        media_id, job_id = outcome.media_id, outcome.job_id
        ballast = tiny_disk / "ballast.bin"
        filled: list[int] = []

        def fill_before_first_commit(p: Progress) -> None:
            # runs in the worker after chunk 0 is computed, before it is committed
            if p.step == "thumbnails" and p.completed == 1 and not filled:
                _truncate_wal(tiny_disk / "aima.db")
                filled.append(_fill(ballast))

        worker = _worker(rt, "db-disk-worker", fill_before_first_commit)
        stop = _FreeSpaceOnWait(ballast.unlink)
        worker.stop_event = stop
        assert worker.run_once()
        assert filled and stop.waits >= 1  # the requeue itself had to wait for space

        job = _job(rt, job_id)
        assert (job.state, job.attempts, job.dead_letter) == (JobState.QUEUED, 0, False)
        assert job.error is not None and "no space left on the data disk" in job.error
        assert job.not_before > utcnow() + timedelta(seconds=30)  # not a hot retry loop
        chunks = _chunks(rt, job_id)
        assert all(c.status == "pending" for c in chunks.values())  # chunk 0 rolled back
        assert _results(rt, media_id) == []

        shift[0] += timedelta(minutes=5)
        assert worker.run_once()
        job = _job(rt, job_id)
        assert (job.state, job.attempts, job.dead_letter) == (JobState.SUCCEEDED, 1, False)
        assert [r.analyzer for r in _results(rt, media_id)] == ["thumbnails"]
        assert all(c.status == "done" for c in _chunks(rt, job_id).values())
        figure(
            "database disk full mid-job (SQLite on a 6 MiB tmpfs): chunk 0's commit failed, the "
            f"job waited for space ({stop.waits} pause(s)), was requeued with attempts 0, then "
            f"resumed: {job.state}, attempts {job.attempts}, 1 result"
        )
    finally:
        rt.close()


def test_database_errors_that_mean_a_full_disk_are_told_apart_from_others(
    tmp_path: Path,
) -> None:
    """SQLite's and PostgreSQL's own "disk full" read as a full disk whether raised by the
    driver or wrapped by SQLAlchemy; a locked database or a dropped connection do not. (A
    PostgreSQL server cannot be filled up here: its error is built from the driver's class.)"""
    full = sqlite3.connect(tmp_path / "capped.db", isolation_level=None)
    full.execute("CREATE TABLE t (x BLOB)")
    full.execute("PRAGMA max_page_count = 2")  # a real SQLITE_FULL from the library itself
    with pytest.raises(sqlite3.OperationalError) as caught:
        full.execute("INSERT INTO t VALUES (?)", (os.urandom(64 * 1024),))
    full.close()
    sqlite_full = caught.value
    pg_full = psycopg.errors.DiskFull("could not extend file: No space left on device")
    for driver_error in (sqlite_full, pg_full):
        assert is_disk_full(driver_error)
        assert is_disk_full(OperationalError("INSERT ...", {}, driver_error))

    locked = sqlite3.OperationalError("database is locked")
    dropped = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    for other in (locked, dropped, ValueError("no")):
        assert not is_disk_full(other)
        assert not is_disk_full(OperationalError("INSERT ...", {}, other))
