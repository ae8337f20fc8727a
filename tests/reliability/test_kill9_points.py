"""kill -9 of the worker at many points of one multi-chunk job: nothing committed is redone.

One 36-chunk job of the counting plug-in (every execution is appended to a log, fsynced,
before the chunk's result is returned). Real ``aima worker`` processes take turns on it: each
is killed with SIGKILL once the database shows a seeded number of committed chunks (the kill
points come from a seeded RNG and are reached by progress observed in the database, never by
waiting a time). A standby worker (two are kept booted, so a takeover costs the lease, not
an import) takes the job over when the dead holder's short lease expires. After ten kills
a standby finishes the job. Then: every chunk that was committed at
any kill ran exactly once (0 committed chunks redone), the only reruns are the chunks in
flight at a kill, and the job has exactly one result. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
from functools import partial
from pathlib import Path

import pytest

from aima.jobs.states import TERMINAL
from aima.runtime import Runtime
from tests.jobs.conftest import (
    RuntimeFactory,
    done_chunks,
    executions,
    ingest,
    start_worker,
    wait_for,
    worker_env,
)
from tests.plugins.counting import read_log
from tests.reliability.conftest import figure

pytestmark = pytest.mark.reliability

CHUNKS = 36
KILLS = 10
SEED = 20261203
LEASE_S = 2.0
STANDBYS = 2  # idle workers kept booted, so a takeover waits for the lease, not an import


def kill_points(seed: int = SEED, kills: int = KILLS, chunks: int = CHUNKS) -> list[int]:
    """``kills`` distinct committed-chunk counts to kill at, ascending, leaving room to overrun."""
    return sorted(random.Random(seed).sample(range(1, chunks - kills - 3), kills))


def _reached(rt: Runtime, job_id: str, target: int, proc: subprocess.Popen[bytes]) -> bool:
    return done_chunks(rt, job_id) >= target or proc.poll() is not None


def test_kill_points_are_seeded_and_distinct() -> None:
    points = kill_points()
    assert points == kill_points() and len(set(points)) == KILLS >= 10
    assert points[-1] + KILLS < CHUNKS  # even one chunk of overrun per kill leaves work to do


@pytest.mark.slow
def test_sigkill_at_seeded_points_redoes_no_committed_chunk(
    make_rt: RuntimeFactory, db_url: str, image: Path, tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    counting = {"chunks": CHUNKS, "sleep_s": 0.1, "log_path": str(log)}
    max_attempts = 10 * KILLS  # every kill costs an attempt; none may dead-letter the job
    rt = make_rt(counting, jobs={"max_attempts": max_attempts})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    env = worker_env(
        db_url,
        tmp_path / "data",
        counting,
        lease_s=LEASE_S,
        heartbeat_s=0.3,
        max_attempts=max_attempts,
    )
    env["AIMA_WORKER__POLL_INTERVAL_S"] = "0.1"
    out = tmp_path / "workers.log"
    live: dict[str, subprocess.Popen[bytes]] = {}
    numbers = itertools.count()
    started: list[subprocess.Popen[bytes]] = []

    def spawn() -> None:
        """A standby worker: it boots while others work; one of them takes over after a kill."""
        worker_id = f"w{next(numbers)}"
        live[worker_id] = start_worker(env, out, "--worker-id", worker_id)
        started.append(live[worker_id])

    def holder() -> str | None:
        owner = rt.ledger.get(job.id).lease_owner or ""
        return next((w for w in live if owner == w or owner.startswith(w + "-")), None)

    kills: list[int] = []  # committed chunks when each holder died
    first_seen: dict[int, int] = {}  # chunk -> log lines written when it was seen committed
    try:
        for _ in range(STANDBYS):
            spawn()
        for point in kill_points():
            target = max(point, len(first_seen) + 1)  # each holder must commit a chunk
            wait_for(lambda: holder() is not None, 120, "a worker to claim the job")
            worker_id = holder()
            assert worker_id is not None
            proc = live[worker_id]
            wait_for(
                partial(_reached, rt, job.id, target, proc), 120, f"{target} commits", every=0.02
            )
            assert proc.poll() is None, out.read_text()[-3000:]
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            del live[worker_id]
            spawn()  # booting takes longer than a round: keep the standbys ahead
            assert proc.returncode == -signal.SIGKILL
            lines = len(read_log(log))
            for c in rt.ledger.chunks(job.id):
                if c.status == "done":
                    first_seen.setdefault(c.chunk_index, lines)
            kills.append(len(first_seen))
            assert len(first_seen) < CHUNKS, "the job finished before its last kill point"
            assert rt.ledger.results(job.id) == []
        # a standby finishes the job
        wait_for(lambda: rt.ledger.get(job.id).state in TERMINAL, 120, "the job to finish")
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.terminate()
        for proc in started:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    final = rt.ledger.get(job.id)
    assert final.state == "succeeded", (final.state, final.error, out.read_text()[-3000:])
    assert final.fencing_token is not None and final.fencing_token > KILLS
    results = rt.ledger.results(job.id)
    assert len(results) == 1 and results[0].data == {"chunks": CHUNKS, "sum": sum(range(CHUNKS))}
    chunks = rt.ledger.chunks(job.id)
    assert sorted(c.chunk_index for c in chunks) == list(range(CHUNKS))
    assert all(c.status == "done" and c.result == {"index": c.chunk_index} for c in chunks)

    runs = [(j, i) for j, i, _pid in read_log(log) if j == job.id]
    # a redo: the chunk ran again after a kill at which it was already committed
    redone = [i for at, (_, i) in enumerate(runs) if i in first_seen and at >= first_seen[i]]
    counts = executions(log, job.id)
    rerun = sum(counts.values()) - CHUNKS
    assert all(counts[i] >= 1 for i in range(CHUNKS))
    assert redone == [], f"committed chunks ran again: {sorted(set(redone))}"
    assert rerun <= KILLS, counts  # at most the one chunk in flight at each kill
    backend = db_url.split(":", 1)[0].split("+")[0]
    figure(
        f"kill -9 ({backend}): {KILLS} SIGKILLs at committed chunks {kills} of {CHUNKS} "
        f"(seed {SEED}); committed chunks redone: {len(redone)}; in-flight chunks rerun: "
        f"{rerun}; executions {sum(counts.values())}; results: {len(results)}; "
        f"fencing token {final.fencing_token}"
    )
