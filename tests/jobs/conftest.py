"""Helpers for the job-ledger tests: runtimes with the counting plug-in, media, worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import JobChunk
from tests.conftest import TEST_SECRET, make_settings
from tests.mediagen import synth
from tests.plugins.counting import read_log

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "tests.plugins.counting"

RuntimeFactory = Callable[..., Runtime]


def plugin_runtime(
    data_dir: Path, database_url: str, counting: dict[str, Any] | None = None, **overrides: Any
) -> Runtime:
    """A runtime with the counting plug-in loaded and configured."""
    settings = make_settings(
        data_dir,
        database_url,
        plugins=[PLUGIN],
        analyzers={"counting": counting or {}},
        **overrides,
    )
    return build_runtime(settings)


@pytest.fixture
def make_rt(tmp_path: Path, db_url: str) -> Iterator[RuntimeFactory]:
    """``make_rt(counting={...}, jobs={...})``: runtimes on this test's database, closed afterwards."""
    made: list[Runtime] = []

    def make(counting: dict[str, Any] | None = None, **overrides: Any) -> Runtime:
        rt = plugin_runtime(tmp_path / "data", db_url, counting, **overrides)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return synth.make_image(tmp_path / "small.png", width=64, height=48, fmt="PNG")


def ingest(rt: Runtime, path: Path) -> str:
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyze=False)
    assert outcome.media_id is not None, outcome
    return outcome.media_id


def executions(log_path: Path, job_id: str | None = None) -> Counter[int]:
    """How often each chunk index ran (optionally for one job only)."""
    return Counter(i for j, i, _ in read_log(log_path) if job_id is None or j == job_id)


def done_chunks(rt: Runtime, job_id: str) -> int:
    with rt.db.session() as s:
        return int(
            s.execute(
                select(func.count())
                .select_from(JobChunk)
                .where(JobChunk.job_id == job_id, JobChunk.status == "done")
            ).scalar_one()
        )


def worker_env(
    database_url: str, data_dir: Path, counting: dict[str, Any], **jobs: Any
) -> dict[str, str]:
    """Environment for an ``aima worker`` subprocess using the counting plug-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMA_")}
    env.update(
        {
            "AIMA_ENV": "test",
            "AIMA_DATABASE_URL": database_url,
            "AIMA_DATA_DIR": str(data_dir),
            "AIMA_PLUGINS": json.dumps([PLUGIN]),
            "AIMA_ANALYZERS": json.dumps({"counting": counting}),
            "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
            "AIMA_LOG_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(
                [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
        }
    )
    for key, value in jobs.items():
        env[f"AIMA_JOBS__{key.upper()}"] = str(value)
    return env


def start_worker(env: dict[str, str], log_file: Path, *args: str) -> subprocess.Popen[bytes]:
    """``python -m aima worker ARGS`` as a real process; its output goes to ``log_file``."""
    out = log_file.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "aima", "worker", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    finally:
        out.close()


def wait_exit(proc: subprocess.Popen[bytes], log_file: Path, timeout: float) -> None:
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"worker {proc.pid} still running after {timeout}s:\n{log_file.read_text()}")
    assert rc == 0, f"worker exited with {rc}:\n{log_file.read_text()}"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)
