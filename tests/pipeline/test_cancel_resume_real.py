"""Cancel and resume at chunk granularity with every real analyzer on a multi-chunk video."""

from __future__ import annotations

from pathlib import Path

import pytest

from aima.core.progress import Progress
from aima.core.settings import DEFAULT_ANALYZERS
from aima.jobs.states import JobState
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.mediagen.scenario import make_scenario

ALL = list(DEFAULT_ANALYZERS)
pytestmark = pytest.mark.slow


def test_cancel_keeps_committed_chunks_and_retry_finishes_without_redoing_them(
    tmp_path: Path,
) -> None:
    scenario = make_scenario(tmp_path / "media", width=480, height=270, fps=5)
    rt = build_runtime(
        make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'a.db'}", jobs={"chunk_s": 6})
    )
    try:
        outcome = rt.ingest.ingest_file(scenario.video, cli_principal(), analyzers=ALL)
        assert outcome.job_id
        job_id = outcome.job_id
        seen: list[Progress] = []

        def cancel_midway(event: Progress) -> None:
            seen.append(event)
            if event.completed == 14:  # 4 chunks x 9 analyzers = 36 checkpoints in all
                rt.jobs.cancel(cli_principal(), job_id)

        worker = rt.make_worker("w")
        worker.hook_factory = lambda _job: cancel_midway
        assert worker.run_once()
        job = rt.ledger.get(job_id)
        assert job.state == JobState.CANCELLED
        done = [c for c in rt.ledger.chunks(job_id) if c.status == "done"]
        assert len(done) == 14  # the chunk whose commit saw the cancel is kept too
        assert rt.ledger.results(job_id) == []

        rt.jobs.retry(cli_principal(), job_id)
        resumed = rt.make_worker("w2")
        resumed.hook_factory = lambda _job: seen.append
        assert resumed.run_once()
        job = rt.ledger.get(job_id)
        assert job.state == JobState.SUCCEEDED, job.outcome
        chunks = rt.ledger.chunks(job_id)
        assert len(chunks) == 36 and all(c.status == "done" for c in chunks)
        assert all(c.attempts == 1 for c in chunks)  # nothing committed was computed twice
        committed_first = {(c.analyzer, c.chunk_index) for c in done}
        assert all(
            c.committed_token == 1 for c in chunks if (c.analyzer, c.chunk_index) in committed_first
        )
        assert {r.analyzer for r in rt.ledger.results(job_id)} == set(ALL)
        assert seen[-1].step == "done" and seen[-1].completed == seen[-1].total == 36
    finally:
        rt.close()
