"""Budgets: validation, soft warnings, refusal before start, and the hard stop at the next
chunk boundary on a real multi-chunk job (spend injected through a configured price)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from aima.compute.budgets import BudgetExceeded
from aima.core.clock import utcnow
from aima.core.errors import InvalidInput
from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.store.models import AuditEvent, Job, JobChunk
from tests.compute.test_costs import PRICED, drain, ingest, make_rt, needs_ffmpeg
from tests.mediagen import synth

__all__ = ["make_rt"]  # the fixture, shared with test_costs


def _chunks(rt: Runtime, job_id: str) -> list[JobChunk]:
    with rt.db.session() as s:
        return list(
            s.execute(
                select(JobChunk).where(JobChunk.job_id == job_id).order_by(JobChunk.chunk_index)
            ).scalars()
        )


def test_budget_validation_and_update_in_place(make_rt) -> None:  # type: ignore[no-untyped-def]
    rt = make_rt()
    book = rt.budgets.book
    b = book.put("project", "p1", soft_limit=1, hard_limit=2, created_by="t")
    again = book.put("project", "p1", soft_limit=5, hard_limit=8, created_by="t")
    assert again.id == b.id and (again.soft_limit, again.hard_limit) == (5, 8)
    assert len(book.list()) == 1
    for bad in (
        {"scope": "team"},
        {"period": "week"},
        {"soft_limit": 3, "hard_limit": 2},
        {"soft_limit": -1},
        {"currency": "EUR"},
        {"subject": ""},
    ):
        args = {"scope": "project", "subject": "p", "soft_limit": 1, "hard_limit": 2, **bad}
        with pytest.raises(InvalidInput):
            book.put(
                str(args.pop("scope")),
                str(args.pop("subject")),
                created_by="t",
                **args,
            )
    assert len(book.list()) == 1  # nothing written by a refused change


def test_month_period_counts_this_month_only(make_rt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rt = make_rt(compute=PRICED)
    media_id = ingest(rt, synth.make_image(tmp_path / "a.jpg", 64, 48))
    job, _ = rt.jobs.submit(cli_principal(), media_id, ["thumbnails"], project="p", confirmed=True)
    assert drain(rt) == 1
    book = rt.budgets.book
    assert book.spend("project", "p", "month") == pytest.approx(1.0)
    with rt.db.session() as s:
        s.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(created_at=utcnow().replace(day=1) - timedelta(days=2))
        )
    assert book.spend("project", "p", "month") == 0.0
    assert book.spend("project", "p", "total") == pytest.approx(1.0)


def test_refused_before_start_and_soft_warning_recorded(make_rt, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rt = make_rt(compute=PRICED)
    media_id = ingest(rt, synth.make_image(tmp_path / "a.jpg", 64, 48))
    rt.budgets.put(cli_principal(), "project", "p", period="total", soft_limit=0.5, hard_limit=0.9)
    with pytest.raises(BudgetExceeded) as refused:
        rt.jobs.submit(cli_principal(), media_id, ["thumbnails"], project="p", confirmed=True)
    assert refused.value.status == 402 and "hard limit 0.90" in refused.value.message
    with rt.db.session() as s:
        assert s.execute(select(Job)).first() is None  # nothing queued
        actions = set(s.execute(select(AuditEvent.action)).scalars())
    assert "job.refused" in actions

    rt.budgets.put(cli_principal(), "project", "p", period="total", soft_limit=0.5, hard_limit=5)
    job, _ = rt.jobs.submit(cli_principal(), media_id, ["thumbnails"], project="p")
    assert job.state == JobState.AWAITING_CONFIRMATION
    [warning] = job.estimate["warnings"]
    assert "soft limit 0.50" in warning
    assert job.estimate["budgets"][0]["subject"] == "p"
    # other projects and jobs without a project are not held against this budget
    other, _ = rt.jobs.submit(cli_principal(), media_id, ["thumbnails"], project="q")
    assert other.estimate["warnings"] == []


@needs_ffmpeg
def test_hard_stop_at_the_next_chunk_boundary_keeps_results_and_resumes(  # type: ignore[no-untyped-def]
    make_rt, tmp_path: Path
) -> None:
    rt = make_rt(compute=PRICED)
    video = synth.make_video(tmp_path / "v.mp4", seconds=10.0, width=160, height=120, fps=10)
    media_id = ingest(rt, video)
    principal = cli_principal()
    rt.budgets.put(principal, "project", "film", period="month", soft_limit=4, hard_limit=10)
    job, _ = rt.jobs.submit(principal, media_id, ["thumbnails"], project="film", confirmed=True)
    assert job.state == JobState.QUEUED
    assert job.estimate["amount"] == pytest.approx(5.0)  # 5 chunks of 2 s, 1.0 each
    assert job.estimate["warnings"]  # 5 > soft 4

    # the estimate fit; then the cap is lowered while the job waits in the queue
    rt.budgets.put(principal, "project", "film", period="month", soft_limit=2, hard_limit=2.5)
    assert drain(rt) == 1
    stopped = rt.ledger.get(job.id)
    assert stopped.state == JobState.PARTIAL
    assert stopped.error is not None and "stopped at a chunk boundary" in stopped.error
    assert "film" in stopped.error and "hard limit 2.50" in stopped.error
    assert stopped.cost_actual == pytest.approx(3.0)  # the chunk that passed 2.5 is the last
    chunks = _chunks(rt, job.id)
    assert [c.status for c in chunks] == ["done", "done", "done", "pending", "pending"]
    assert stopped.outcome["thumbnails"]["status"] == "failed"
    assert "budget" in stopped.outcome["thumbnails"]["reason"]

    # more budget: retry continues from the committed chunks, none redone
    rt.budgets.put(principal, "project", "film", period="month", soft_limit=8, hard_limit=10)
    rt.jobs.retry(principal, job.id)
    assert drain(rt) == 1
    finished = rt.ledger.get(job.id)
    assert finished.state == JobState.SUCCEEDED
    assert finished.cost_actual == pytest.approx(5.0)
    assert [c.attempts for c in _chunks(rt, job.id)] == [1, 1, 1, 1, 1]
    assert rt.ledger.results(job.id)[0].analyzer == "thumbnails"


@needs_ffmpeg
def test_stop_with_analyzers_sharing_chunks_keeps_every_committed_chunk(  # type: ignore[no-untyped-def]
    make_rt, tmp_path: Path
) -> None:
    """Analyzers with the same chunk plan run chunk by chunk together: a stop leaves each
    with its committed chunks, both recorded as stopped by the budget, the job partial."""
    rt = make_rt(compute=PRICED)
    video = synth.make_video(tmp_path / "v.mp4", seconds=6.0, width=160, height=120, fps=10)
    media_id = ingest(rt, video)
    principal = cli_principal()
    names = ["thumbnails", "vad"]
    job, _ = rt.jobs.submit(principal, media_id, names, project="x", confirmed=True)
    assert job.estimate["amount"] == pytest.approx(6.0)  # 2 analyzers x 3 chunks
    rt.budgets.put(principal, "project", "x", period="total", soft_limit=1, hard_limit=2.5)
    assert drain(rt) == 1
    stopped = rt.ledger.get(job.id)
    assert stopped.state == JobState.PARTIAL and stopped.cost_actual == pytest.approx(3.0)
    done = [(c.analyzer, c.chunk_index) for c in _chunks(rt, job.id) if c.status == "done"]
    assert len(done) == 3 and (done[0][1], done[-1][1]) == (0, 1)
    for name in names:
        assert stopped.outcome[name]["status"] == "failed"
        assert "hard limit 2.50" in stopped.outcome[name]["reason"]
    assert rt.ledger.results(job.id) == []
