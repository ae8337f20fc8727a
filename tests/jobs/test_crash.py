"""A worker process killed with SIGKILL mid-job loses nothing that was committed.

On SQLite and PostgreSQL: a real ``aima worker`` subprocess runs a 12-chunk job;
after a few committed chunks it is killed. The job stays ``running`` with its
lease; once the lease has expired a second worker (``--drain``) takes the job
over, runs only the chunks that were not committed and finishes with one result.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from aima.core.clock import utcnow
from tests.jobs.conftest import (
    RuntimeFactory,
    done_chunks,
    executions,
    ingest,
    start_worker,
    wait_exit,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow

CHUNKS = 12


def test_sigkilled_worker_job_resumes_exactly_once(
    make_rt: RuntimeFactory, db_url: str, image: Path, tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    counting = {"chunks": CHUNKS, "sleep_s": 0.25, "log_path": str(log)}
    rt = make_rt(counting)
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    env = worker_env(db_url, tmp_path / "data", counting, lease_s=2, heartbeat_s=0.5)
    out = tmp_path / "workers.log"

    first = start_worker(env, out)
    try:
        wait_for(
            lambda: done_chunks(rt, job.id) >= 3 or first.poll() is not None,
            60,
            "three committed chunks",
        )
        assert first.poll() is None, out.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == -signal.SIGKILL

    killed = rt.ledger.get(job.id)
    committed_before = {c.chunk_index for c in rt.ledger.chunks(job.id) if c.status == "done"}
    assert killed.state == "running" and killed.fencing_token == 1
    assert 3 <= len(committed_before) < CHUNKS
    assert rt.ledger.results(job.id) == []

    # a --drain worker exits when nothing is claimable, so start it once the lease is gone
    expires = killed.lease_expires_at
    assert expires is not None
    wait_for(lambda: utcnow() > expires, 10, "the dead worker's lease to expire")
    # (no heartbeat can renew it: the owner is dead)
    assert rt.ledger.get(job.id).lease_expires_at == expires

    second = start_worker(env, out, "--drain")
    wait_exit(second, out, 60)

    final = rt.ledger.get(job.id)
    assert final.state == "succeeded", (final.state, final.error, out.read_text())
    assert (final.fencing_token, final.attempts, final.progress) == (2, 2, 1.0)
    (result,) = rt.ledger.results(job.id)
    assert result.data == {"chunks": CHUNKS, "sum": sum(range(CHUNKS))}
    assert result.analyzer_version == "1.0.0"

    chunks = rt.ledger.chunks(job.id)
    assert [(c.analyzer, c.chunk_index) for c in chunks] == [("counting", i) for i in range(CHUNKS)]
    assert all(c.status == "done" and c.result == {"index": c.chunk_index} for c in chunks)
    for c in chunks:
        expected_token = 1 if c.chunk_index in committed_before else 2
        assert c.committed_token == expected_token, (c.chunk_index, c.committed_token)

    counts = executions(log, job.id)
    for i in range(CHUNKS):
        if i in committed_before:
            assert counts[i] == 1, f"committed chunk {i} ran {counts[i]} times"
        else:
            # the chunk in flight at the kill may have run twice
            assert 1 <= counts[i] <= 2, f"chunk {i} ran {counts[i]} times"
    assert sum(counts.values()) <= CHUNKS + 1


def test_graceful_worker_stop_hands_job_back(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    """``aima worker`` on SIGTERM "finishes the chunk, then stops": the job must stay runnable."""
    log = tmp_path / "exec.log"
    rt = make_rt({"chunks": 6, "sleep_s": 0.2, "log_path": str(log)})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    worker = rt.make_worker("w-stopping")
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        wait_for(lambda: done_chunks(rt, job.id) >= 2, 20, "two committed chunks")
        worker.stop()  # what the SIGTERM handler of `aima worker` does
    finally:
        thread.join(20)

    stopped = rt.ledger.get(job.id)
    assert stopped.state != "cancelled", "a worker shutdown is not a user's cancel"
    assert rt.make_worker("w-next").run_once()
    assert rt.ledger.get(job.id).state == "succeeded"
