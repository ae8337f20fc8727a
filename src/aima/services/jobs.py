"""Job use cases with per-object access checks and audit events."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from aima.analyzers.registry import AnalyzerRegistry
from aima.jobs.ledger import Ledger
from aima.jobs.states import JobState
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal, get_job, get_media, require_manage, visible_jobs
from aima.store.db import Database
from aima.store.models import AnalysisResult, Job, JobChunk


@dataclass(frozen=True, slots=True)
class JobPage:
    items: builtins.list[Job]
    total: int


def scoped_key(principal: Principal, key: str | None) -> str | None:
    """Idempotency keys are private to their user: two users' "upload-1" never collide."""
    if key is None:
        return None
    owner = principal.user_id or principal.actor
    return hashlib.sha256(f"{owner}\x00{key}".encode()).hexdigest()


class JobService:
    def __init__(self, db: Database, ledger: Ledger, registry: AnalyzerRegistry) -> None:
        self.db = db
        self.ledger = ledger
        self.registry = registry

    def submit(
        self,
        principal: Principal,
        media_id: str,
        analyzers: Sequence[str],
        *,
        priority: int = 0,
        idempotency_key: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Job, bool]:
        principal.require(Permission.JOBS_CREATE)
        with self.db.session() as s:
            get_media(s, principal, media_id)
        names = self.registry.resolve(list(analyzers))
        if names != list(analyzers):
            # requirements already analysed (accepted results) are reused, not redone
            with self.db.session() as s:
                done = set(
                    s.execute(
                        select(AnalysisResult.analyzer).where(
                            AnalysisResult.media_id == media_id, AnalysisResult.accepted.is_(True)
                        )
                    ).scalars()
                )
            names = [n for n in names if n in analyzers or n not in done]
        job, created = self.ledger.submit(
            media_id,
            names,
            priority=priority,
            idempotency_key=scoped_key(principal, idempotency_key),
            options=options,
            created_by=principal.user_id,
        )
        if created:
            self._audit(principal, "job.create", job.id, {"media_id": media_id, "analyzers": names})
        return job, created

    def list(
        self,
        principal: Principal,
        *,
        state: str | None = None,
        media_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        query = visible_jobs(principal)
        if state:
            query = query.where(Job.state == JobState(state))
        if media_id:
            query = query.where(Job.media_id == media_id)
        with self.db.session() as s:
            total = s.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            items = list(
                s.execute(
                    query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset)
                ).scalars()
            )
        return JobPage(items, int(total))

    def get(self, principal: Principal, job_id: str) -> Job:
        with self.db.session() as s:
            return get_job(s, principal, job_id)

    def detail(
        self, principal: Principal, job_id: str
    ) -> tuple[Job, builtins.list[JobChunk], builtins.list[AnalysisResult]]:
        job = self.get(principal, job_id)
        return job, self.ledger.chunks(job_id), self.ledger.results(job_id)

    def cancel(self, principal: Principal, job_id: str) -> Job:
        require_manage(principal, self.get(principal, job_id))
        job = self.ledger.cancel(job_id)
        self._audit(principal, "job.cancel", job_id, {"state": job.state})
        return job

    def retry(self, principal: Principal, job_id: str) -> Job:
        require_manage(principal, self.get(principal, job_id))
        job = self.ledger.retry(job_id)
        self._audit(principal, "job.retry", job_id, {})
        return job

    def set_priority(self, principal: Principal, job_id: str, priority: int) -> Job:
        require_manage(principal, self.get(principal, job_id))
        job = self.ledger.set_priority(job_id, priority)
        self._audit(principal, "job.priority", job_id, {"priority": priority})
        return job

    def _audit(
        self, principal: Principal, action: str, job_id: str, details: dict[str, object]
    ) -> None:
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action=action,
                object_type="job",
                object_id=job_id,
                details=details,
            )
