"""The job ledger: the database is the system of record for jobs.

:class:`Ledger` is one object for every side of it: what a worker does with a job it
claimed (:class:`~aima.jobs.runs.RunLedger`: the lease, fenced checkpoints, results and
how a run ends) and, here, submitting jobs, what users do with them (cancel, retry,
confirm or reject an estimate, re-prioritise) and the reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aima.core.errors import Conflict, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.jobs.runs import Clock, RunLedger
from aima.jobs.states import AnalyzerStatus, ChunkStatus, JobState
from aima.store.models import AnalysisResult, Job, JobChunk

__all__ = ["Clock", "Ledger"]


class Ledger(RunLedger):
    # ----------------------------------------------------------------- submit
    def submit(
        self,
        media_id: str,
        analyzers: Sequence[str],
        *,
        priority: int = 0,
        idempotency_key: str | None = None,
        created_by: str | None = None,
        options: dict[str, Any] | None = None,
        project: str | None = None,
        estimate: dict[str, Any] | None = None,
        awaiting_confirmation: bool = False,
        job_id: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; returns ``(job, created)``. The same idempotency key returns the same job.

        ``awaiting_confirmation``: the job's estimate costs money; it is not claimable until
        :meth:`confirm` queues it. ``job_id``: the id to use (a quota reservation names it
        before the job exists); a new one by default."""
        if not analyzers:
            raise InvalidInput("a job needs at least one analyzer")
        if idempotency_key is not None:
            existing = self._by_key(idempotency_key)
            if existing is not None:
                return self._same_request(existing, media_id, analyzers), False
        now = self.clock()
        job = Job(
            id=job_id or new_id("job"),
            media_id=media_id,
            analyzers=list(analyzers),
            options=options or {},
            state=JobState.AWAITING_CONFIRMATION if awaiting_confirmation else JobState.QUEUED,
            project=project,
            estimate=estimate or {},
            cost_actual=0.0,
            priority=priority,
            idempotency_key=idempotency_key,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            not_before=now,
            max_attempts=self.settings.max_attempts,
            outcome={},
        )
        try:
            with self.db.session() as s:
                s.add(job)
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self._by_key(idempotency_key)  # lost a race with the same key
            if existing is None:
                raise
            return self._same_request(existing, media_id, analyzers), False
        return job, True

    def _by_key(self, key: str) -> Job | None:
        with self.db.session() as s:
            return s.execute(select(Job).where(Job.idempotency_key == key)).scalar_one_or_none()

    @staticmethod
    def _same_request(job: Job, media_id: str, analyzers: Sequence[str]) -> Job:
        if job.media_id != media_id or list(job.analyzers) != list(analyzers):
            raise Conflict(
                "idempotency key already used for a different request",
                details={"job_id": job.id},
            )
        return job

    # ----------------------------------------------------------- user actions
    def cancel(self, job_id: str) -> Job:
        """Queued: cancelled now. Running: stops at the next chunk boundary, keeping its chunks."""
        with self.db.session() as s:
            job = self._locked(s, job_id)
            now = self.clock()
            if JobState(job.state).terminal:
                raise Conflict(f"job {job_id} is already {job.state}")
            if job.state in (JobState.QUEUED, JobState.AWAITING_CONFIRMATION):
                self._finish(job, JobState.CANCELLED, now)
            else:
                job.cancel_requested = True
                job.updated_at = now
            return job

    def retry(self, job_id: str) -> Job:
        """Requeue a failed, partial or cancelled job; committed chunks and results are reused."""
        with self.db.session() as s:
            job = self._locked(s, job_id)
            if job.state not in (JobState.FAILED, JobState.PARTIAL, JobState.CANCELLED):
                raise Conflict(
                    f"job {job_id} is {job.state}; only failed, partial or cancelled jobs can be retried"
                )
            now = self.clock()
            job.outcome = {
                a: o for a, o in job.outcome.items() if o.get("status") == AnalyzerStatus.SUCCEEDED
            }
            job.state = JobState.QUEUED
            job.attempts = 0
            job.dead_letter = False
            job.cancel_requested = False
            job.error = None
            job.not_before = now
            job.finished_at = None
            job.updated_at = now
            return job

    def confirm(self, job_id: str, actor: str) -> Job:
        """Accept a job's estimated cost: it joins the queue now."""
        with self.db.session() as s:
            job = self._locked(s, job_id)
            if job.state != JobState.AWAITING_CONFIRMATION:
                raise Conflict(f"job {job_id} is {job.state}; only jobs awaiting confirmation")
            now = self.clock()
            job.state = JobState.QUEUED
            job.confirmed_by = actor[:128]
            job.confirmed_at = now
            job.not_before = now
            job.updated_at = now
            return job

    def reject(self, job_id: str, actor: str) -> Job:
        """Decline a job's estimated cost: it is cancelled without running."""
        with self.db.session() as s:
            job = self._locked(s, job_id)
            if job.state != JobState.AWAITING_CONFIRMATION:
                raise Conflict(f"job {job_id} is {job.state}; only jobs awaiting confirmation")
            job.error = f"estimated cost rejected by {actor}"[:4000]
            self._finish(job, JobState.CANCELLED, self.clock())
            return job

    def set_priority(self, job_id: str, priority: int) -> Job:
        with self.db.session() as s:
            job = self._locked(s, job_id)
            if job.state not in (JobState.QUEUED, JobState.AWAITING_CONFIRMATION):
                raise Conflict(
                    f"job {job_id} is {job.state}; only queued jobs can be re-prioritised"
                )
            job.priority = priority
            job.updated_at = self.clock()
            return job

    @staticmethod
    def _locked(s: Session, job_id: str) -> Job:
        job = s.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    # ------------------------------------------------------------------ reads
    def get(self, job_id: str) -> Job:
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"job {job_id} not found")
            return job

    def chunks(self, job_id: str) -> list[JobChunk]:
        with self.db.session() as s:
            return list(
                s.execute(
                    select(JobChunk)
                    .where(JobChunk.job_id == job_id)
                    .order_by(JobChunk.analyzer, JobChunk.chunk_index)
                ).scalars()
            )

    def results(self, job_id: str) -> list[AnalysisResult]:
        with self.db.session() as s:
            return list(
                s.execute(
                    select(AnalysisResult)
                    .where(AnalysisResult.job_id == job_id)
                    .order_by(AnalysisResult.analyzer)
                ).scalars()
            )

    def accepted_chunks(
        self, media_id: str, analyzer: str
    ) -> tuple[list[tuple[float | None, float | None]], dict[int, dict[str, Any]]] | None:
        """Chunk spans and results behind the accepted result of ``analyzer`` for a media
        (so a later job can read them instead of re-running the analyzer), or None."""
        with self.db.session() as s:
            job_id = s.execute(
                select(AnalysisResult.job_id)
                .where(
                    AnalysisResult.media_id == media_id,
                    AnalysisResult.analyzer == analyzer,
                    AnalysisResult.accepted.is_(True),
                )
                .order_by(AnalysisResult.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()
            if job_id is None:
                return None
            chunks = (
                s.execute(
                    select(JobChunk)
                    .where(JobChunk.job_id == job_id, JobChunk.analyzer == analyzer)
                    .order_by(JobChunk.chunk_index)
                )
                .scalars()
                .all()
            )
        if not chunks or any(c.status != ChunkStatus.DONE for c in chunks):
            return None
        spans = [(c.start_s, c.end_s) for c in chunks]
        return spans, {c.chunk_index: dict(c.result or {}) for c in chunks}

    def counts_by_state(self) -> dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        return {str(state): int(n) for state, n in rows}

    def expire_lease_now(self, job_id: str) -> None:
        """Operator escape hatch (``aima jobs requeue``): treat a job's worker as gone."""
        with self.db.session() as s:
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == JobState.RUNNING)
                .values(lease_expires_at=self.clock() - timedelta(seconds=1))
            )
