"""``aima worker`` options, through a real process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.jobs.conftest import ingest, plugin_runtime, start_worker, worker_env
from tests.plugins.counting import read_log

pytestmark = pytest.mark.slow


def test_drain_with_concurrency_exits_when_queue_is_empty(tmp_path: Path, image: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aima.db'}"
    log = tmp_path / "exec.log"
    counting = {"chunks": 1, "log_path": str(log)}
    rt = plugin_runtime(tmp_path / "data", url, counting)
    try:
        media = ingest(rt, image)
        jobs = [rt.ledger.submit(media, ["counting"])[0].id for _ in range(6)]
        out = tmp_path / "worker.log"
        proc = start_worker(
            worker_env(url, tmp_path / "data", counting), out, "--drain", "--concurrency", "2"
        )
        try:
            rc = proc.wait(300)  # exits on its own in seconds; generous for a loaded CI machine
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
        # the jobs themselves were run either way
        assert rt.ledger.counts_by_state() == {"succeeded": 6}
        assert sorted(j for j, _, _ in read_log(log)) == sorted(jobs)
        assert rc == 0, f"--drain did not exit (rc={rc}):\n{out.read_text()}"
    finally:
        rt.close()
