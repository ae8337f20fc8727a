"""Two ``aima worker --drain`` processes race for the same queue: every chunk runs exactly once.

"Both workers worked" must not depend on timing: on a loaded machine one worker used
to drain all 40 jobs before the other had finished importing. The counting plug-in's
``rendezvous`` is a barrier: each worker's first job waits until both workers have
logged a claimed job, so neither can finish the queue alone, however slowly the other
starts (no sleeps, no timing assumptions; a worker that never comes fails the job).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aima.runtime import Runtime
from tests.jobs.conftest import ingest, plugin_runtime, start_worker, wait_exit, worker_env
from tests.plugins.counting import read_log

pytestmark = pytest.mark.slow


def _race(database_url: str, tmp_path: Path, image: Path, n_jobs: int) -> None:
    log = tmp_path / "exec.log"
    counting = {"chunks": 1, "sleep_s": 0, "log_path": str(log), "rendezvous": 2}
    data_dir = tmp_path / "data"
    rt: Runtime = plugin_runtime(data_dir, database_url, counting)  # also migrates the schema
    try:
        media = ingest(rt, image)
        jobs = [rt.ledger.submit(media, ["counting"])[0].id for _ in range(n_jobs)]
        # a long lease: no takeover may happen, so every token must stay 1
        env = worker_env(database_url, data_dir, counting, lease_s=60, heartbeat_s=5)
        out = tmp_path / "workers.log"
        workers = [start_worker(env, out, "--drain") for _ in range(2)]
        try:
            for w in workers:
                wait_exit(w, out, 120)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
                    w.wait()

        assert rt.ledger.counts_by_state() == {"succeeded": n_jobs}
        per_job = Counter(job_id for job_id, _, _ in read_log(log))
        assert set(per_job) == set(jobs)
        doubles = {j: n for j, n in per_job.items() if n != 1}
        assert not doubles, f"jobs executed more than once: {doubles}"
        for job_id in jobs:
            job = rt.ledger.get(job_id)
            assert (job.fencing_token, job.attempts) == (1, 1), job_id
            (chunk,) = rt.ledger.chunks(job_id)
            assert (chunk.status, chunk.committed_token, chunk.attempts) == ("done", 1, 1)
            assert len(rt.ledger.results(job_id)) == 1
        pids = Counter(pid for _, _, pid in read_log(log))
        assert set(pids) == {w.pid for w in workers}, f"both workers must work: {dict(pids)}"
    finally:
        rt.close()


@pytest.mark.postgres
def test_two_workers_200_jobs_postgres(pg_url: str, tmp_path: Path, image: Path) -> None:
    _race(pg_url, tmp_path, image, 200)


def test_two_workers_40_jobs_sqlite(tmp_path: Path, image: Path) -> None:
    _race(f"sqlite:///{tmp_path / 'aima.db'}", tmp_path, image, 40)
