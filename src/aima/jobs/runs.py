"""The worker's side of the job ledger: claim, fenced writes, checkpoints, results, ends.

Claims go by priority, then age, under a lease (owner + expiry) and a fencing
token that increases with every claim. Every write a worker makes re-checks
owner and token in the same transaction, so a worker whose lease expired (and
whose job another worker took over) can never overwrite newer work. On
PostgreSQL the claim uses ``FOR UPDATE SKIP LOCKED``; on SQLite transactions
begin IMMEDIATE, which serialises writers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.orm import Session, object_session

from aima.core.clock import utcnow
from aima.core.errors import LeaseLost
from aima.core.ids import new_id
from aima.core.settings import JobSettings
from aima.jobs.states import AnalyzerStatus, ChunkStatus, Claim, Control, JobState
from aima.store.db import Database
from aima.store.events import emit_job_finished
from aima.store.models import AnalysisResult, Job, JobChunk

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class RunLedger:
    """What a worker does with a job it runs; :class:`aima.jobs.ledger.Ledger` adds the rest."""

    def __init__(self, db: Database, settings: JobSettings, *, clock: Clock = utcnow) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    # ------------------------------------------------------------------ claim
    def claim(self, owner: str) -> Claim | None:
        """Take the most urgent runnable job (or one whose lease expired), or None."""
        while True:
            with self.db.session() as s:
                now = self.clock()
                job = s.execute(
                    select(Job)
                    .where(
                        or_(
                            and_(Job.state == JobState.QUEUED, Job.not_before <= now),
                            and_(Job.state == JobState.RUNNING, Job.lease_expires_at < now),
                        )
                    )
                    .order_by(Job.priority.desc(), Job.created_at, Job.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).scalar_one_or_none()
                if job is None:
                    return None
                if job.state == JobState.RUNNING:
                    log.warning(
                        "lease expired; taking over",
                        extra={"job_id": job.id, "from": job.lease_owner},
                    )
                    if job.cancel_requested:
                        self._finish(job, JobState.CANCELLED, now)
                        continue
                    if job.attempts >= job.max_attempts:
                        self._dead_letter(job, f"worker lost {job.attempts} times", now)
                        continue
                job.state = JobState.RUNNING
                job.attempts += 1
                job.fencing_token += 1
                job.lease_owner = owner
                job.lease_expires_at = now + timedelta(seconds=self.settings.lease_s)
                job.started_at = job.started_at or now
                job.updated_at = now
                return Claim(
                    job_id=job.id,
                    media_id=job.media_id,
                    owner=owner,
                    token=job.fencing_token,
                    attempt=job.attempts,
                    analyzers=tuple(job.analyzers),
                    options=dict(job.options),
                )

    def _fenced(self, s: Session, claim: Claim) -> Job:
        """Lock the job row, check the fence, extend the lease. Raises LeaseLost."""
        job = s.execute(select(Job).where(Job.id == claim.job_id).with_for_update()).scalar_one()
        if (
            job.fencing_token != claim.token
            or job.lease_owner != claim.owner
            or job.state != JobState.RUNNING
        ):
            raise LeaseLost(
                f"job {claim.job_id}: lease lost (token {claim.token}, now {job.fencing_token})"
            )
        now = self.clock()
        job.lease_expires_at = now + timedelta(seconds=self.settings.lease_s)
        job.updated_at = now
        return job

    def _fence(self, conn: Session | Connection, claim: Claim, **values: Any) -> Control:
        """Hot-path fence: one ``UPDATE jobs ... WHERE token/owner match RETURNING``.

        The UPDATE both checks the fence and locks the job row until commit, in one
        round trip (no SELECT ... FOR UPDATE first). Raises LeaseLost when no row matches.
        """
        now = self.clock()
        row = conn.execute(
            update(Job)
            .where(
                Job.id == claim.job_id,
                Job.fencing_token == claim.token,
                Job.lease_owner == claim.owner,
                Job.state == JobState.RUNNING,
            )
            .values(
                lease_expires_at=now + timedelta(seconds=self.settings.lease_s),
                updated_at=now,
                **values,
            )
            .returning(Job.cancel_requested, Job.cost_actual)
        ).first()
        if row is None:
            raise LeaseLost(
                f"job {claim.job_id}: lease lost (token {claim.token} is no longer current)"
            )
        return Control(bool(row[0]), float(row[1] or 0.0))

    def heartbeat(self, claim: Claim) -> Control:
        with self.db.session() as s:
            return self._fence(s, claim)

    # ----------------------------------------------------------------- chunks
    def ensure_chunks(
        self, claim: Claim, analyzer: str, spans: Sequence[tuple[float | None, float | None]]
    ) -> dict[int, dict[str, Any]]:
        """Create missing chunk rows; return results of chunks already committed (index -> result)."""
        with self.db.session() as s:
            self._fenced(s, claim)
            rows = {
                c.chunk_index: c
                for c in s.execute(
                    select(JobChunk).where(
                        JobChunk.job_id == claim.job_id, JobChunk.analyzer == analyzer
                    )
                ).scalars()
            }
            for index, (start, end) in enumerate(spans):
                if index not in rows:
                    s.add(
                        JobChunk(
                            job_id=claim.job_id,
                            analyzer=analyzer,
                            chunk_index=index,
                            start_s=start,
                            end_s=end,
                            status=ChunkStatus.PENDING,
                            updated_at=self.clock(),
                        )
                    )
            return {
                i: dict(c.result or {}) for i, c in rows.items() if c.status == ChunkStatus.DONE
            }

    def _update_chunk(
        self, conn: Connection, claim: Claim, analyzer: str, index: int, **values: Any
    ) -> None:
        conn.execute(
            update(JobChunk)
            .where(
                JobChunk.job_id == claim.job_id,
                JobChunk.analyzer == analyzer,
                JobChunk.chunk_index == index,
            )
            .values(updated_at=self.clock(), attempts=JobChunk.attempts + 1, **values)
        )

    def commit_chunk(
        self,
        claim: Claim,
        analyzer: str,
        index: int,
        result: dict[str, Any],
        *,
        duration_s: float,
        progress: float | None = None,
        message: str = "",
        spend: float = 0.0,
    ) -> Control:
        """The checkpoint: the chunk's result and the job's progress commit together, fenced.

        ``spend``: what the chunk's device time cost, added to ``jobs.cost_actual`` in the
        same statement (the returned control carries the new total for budget checks).

        Two statements in one transaction on a plain connection (no ORM unit of work):
        this is the hot path of every job. ``attempts`` counts finished executions.
        """
        extra: dict[str, Any] = {}
        if progress is not None:
            extra = {"progress": progress, "progress_message": message[:256]}
        if spend > 0:
            extra["cost_actual"] = Job.cost_actual + spend
        with self.db.engine.begin() as conn:
            control = self._fence(conn, claim, **extra)
            self._update_chunk(
                conn,
                claim,
                analyzer,
                index,
                status=ChunkStatus.DONE,
                result=result,
                error=None,
                duration_s=duration_s,
                committed_token=claim.token,
            )
            return control

    def fail_chunk(self, claim: Claim, analyzer: str, index: int, error: str) -> None:
        with self.db.engine.begin() as conn:
            self._fence(conn, claim)
            self._update_chunk(
                conn, claim, analyzer, index, status=ChunkStatus.FAILED, error=error[:4000]
            )

    # ---------------------------------------------------------------- results
    def save_result(
        self,
        claim: Claim,
        analyzer: str,
        *,
        version: str,
        model_id: str,
        config: dict[str, Any],
        config_hash: str,
        data: dict[str, Any],
    ) -> str:
        """Store an analyzer's final result and mark it succeeded in the job, atomically.

        Acceptance: the first result of an analyzer for a media is accepted; a re-run
        with the same version, model and config replaces the accepted one; a different
        version, model_id or config waits beside it for review, unless the job was submitted with
        ``options["accept"]``.
        """
        with self.db.session() as s:
            job = self._fenced(s, claim)
            existing = s.execute(
                select(AnalysisResult).where(
                    AnalysisResult.job_id == claim.job_id, AnalysisResult.analyzer == analyzer
                )
            ).scalar_one_or_none()
            if existing is not None:
                s.delete(existing)
                s.flush()
            current = (
                s.execute(
                    select(AnalysisResult).where(
                        AnalysisResult.media_id == claim.media_id,
                        AnalysisResult.analyzer == analyzer,
                        AnalysisResult.accepted.is_(True),
                    )
                )
                .scalars()
                .all()
            )
            # A new model (e.g. a stronger embedding) changes results as much as a new
            # version: it waits for review like one.
            same = all(
                r.analyzer_version == version
                and r.config_hash == config_hash
                and r.model_id == model_id
                for r in current
            )
            accept = not current or same or bool(job.options.get("accept"))
            now = self.clock()
            if accept:
                for old in current:
                    old.accepted = False
            result = AnalysisResult(
                id=new_id("res"),
                media_id=claim.media_id,
                job_id=claim.job_id,
                analyzer=analyzer,
                analyzer_version=version,
                model_id=model_id,
                config=config,
                config_hash=config_hash,
                data=data,
                created_at=now,
                accepted=accept,
                accepted_at=now if accept else None,
                accepted_by="auto" if accept else None,
            )
            s.add(result)
            job.outcome = {
                **job.outcome,
                analyzer: {
                    "status": AnalyzerStatus.SUCCEEDED,
                    "result_id": result.id,
                    "accepted": accept,
                },
            }
            return result.id

    def record_outcome(
        self, claim: Claim, analyzer: str, status: AnalyzerStatus, reason: str = ""
    ) -> None:
        with self.db.session() as s:
            job = self._fenced(s, claim)
            job.outcome = {**job.outcome, analyzer: {"status": status, "reason": reason[:2000]}}

    def set_progress(self, claim: Claim, fraction: float, message: str = "") -> Control:
        with self.db.session() as s:
            return self._fence(
                s, claim, progress=max(0.0, min(1.0, fraction)), progress_message=message[:256]
            )

    # ------------------------------------------------------------------- ends
    def complete(self, claim: Claim) -> JobState:
        """Close a run: succeeded, partial or failed from the per-analyzer outcomes."""
        with self.db.session() as s:
            job = self._fenced(s, claim)
            statuses = [job.outcome.get(a, {}).get("status") for a in job.analyzers]
            failed = [a for a, st in zip(job.analyzers, statuses, strict=True) if st == "failed"]
            ok = [st for st in statuses if st in ("succeeded", "disabled", "skipped")]
            if not failed:
                state = JobState.SUCCEEDED
            elif ok and any(st == "succeeded" for st in statuses):
                state = JobState.PARTIAL
            else:
                state = JobState.FAILED
            job.error = (
                "; ".join(f"{a}: {job.outcome[a].get('reason', '')}" for a in failed) or None
            )
            if state is not JobState.FAILED:
                job.progress = 1.0
            self._finish(job, state, self.clock())
            return state

    def stop_over_budget(self, claim: Claim, reason: str) -> None:
        """Stopped at a chunk boundary because spend passed a hard budget: ``partial``,
        committed chunks and saved results kept (``retry`` continues after the budget rises)."""
        with self.db.session() as s:
            job = self._fenced(s, claim)
            job.error = reason[:4000]
            self._finish(job, JobState.PARTIAL, self.clock())

    def mark_cancelled(self, claim: Claim) -> None:
        with self.db.session() as s:
            job = self._fenced(s, claim)
            self._finish(job, JobState.CANCELLED, self.clock())

    def release_after_error(self, claim: Claim, reason: str, *, retryable: bool) -> JobState:
        """A run broke as a whole: requeue with backoff, or dead-letter after max attempts."""
        with self.db.session() as s:
            job = self._fenced(s, claim)
            now = self.clock()
            if retryable and job.attempts < job.max_attempts:
                delay = min(
                    self.settings.backoff_max_s,
                    self.settings.backoff_base_s * 2 ** (job.attempts - 1),
                )
                job.state = JobState.QUEUED
                job.not_before = now + timedelta(seconds=delay)
                job.lease_owner = None
                job.lease_expires_at = None
                job.error = f"attempt {job.attempts} failed, retrying in {delay:.0f}s: {reason}"
                return JobState.QUEUED
            self._dead_letter(job, reason, now)
            return JobState.FAILED

    def release(self, claim: Claim) -> None:
        """Hand a job back untouched (worker shutting down): queued again at once, and the
        interrupted run does not count as an attempt. Committed chunks stay."""
        with self.db.session() as s:
            job = self._fenced(s, claim)
            job.state = JobState.QUEUED
            job.lease_owner = None
            job.lease_expires_at = None
            job.not_before = self.clock()
            job.attempts = max(0, job.attempts - 1)

    def defer(self, claim: Claim, reason: str, delay_s: float) -> None:
        """Hand a job back to wait for a condition outside it (a full disk): queued again after
        ``delay_s``, the run not counted as an attempt, committed chunks kept. ``reason`` is
        shown as the job's error meanwhile."""
        with self.db.session() as s:
            job = self._fenced(s, claim)
            job.state = JobState.QUEUED
            job.lease_owner = None
            job.lease_expires_at = None
            job.not_before = self.clock() + timedelta(seconds=max(0.0, delay_s))
            job.attempts = max(0, job.attempts - 1)
            job.error = f"retrying in {delay_s:.0f}s (not counted as an attempt): {reason}"[:4000]

    def _dead_letter(self, job: Job, reason: str, now: datetime) -> None:
        job.dead_letter = True
        job.error = f"dead-lettered after {job.attempts} attempt(s): {reason}"[:4000]
        self._finish(job, JobState.FAILED, now)

    @staticmethod
    def _finish(job: Job, state: JobState, now: datetime) -> None:
        job.state = state
        job.finished_at = now
        job.updated_at = now
        job.lease_owner = None
        job.lease_expires_at = None
        session = object_session(job)
        if session is not None:  # always: every caller holds the job in its transaction
            emit_job_finished(session, job)
