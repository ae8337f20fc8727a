"""Job use cases with per-object access checks and audit events."""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from aima.analyzers.registry import AnalyzerRegistry
from aima.core.errors import InvalidInput
from aima.jobs.ledger import Ledger
from aima.jobs.states import ChunkStatus, JobState
from aima.media.types import MediaInfo, MediaKind
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal, get_job, get_media, require_manage, visible_jobs
from aima.store.db import Database
from aima.store.models import AnalysisResult, Job, JobChunk, Media

#: ``sort`` values of the job listing; a leading ``-`` sorts descending.
JOB_SORTS = ("created_at", "priority", "state", "progress", "finished_at")

#: Prior compute cost of each built-in analyzer on the embedded default (CPU, offline models):
#: (seconds per minute of audio/video, seconds per image). Plans blend these with the durations
#: measured on this installation's finished chunks (``job_chunks.duration_s``), so estimates
#: converge on the real machine after a few jobs. Analyzers not listed (plug-ins) use DEFAULT_PRIOR.
PRIOR_SECONDS: dict[str, tuple[float, float]] = {
    "thumbnails": (1.0, 0.2),
    "faces": (20.0, 0.5),
    "emotion": (5.0, 0.2),
    "bodies": (15.0, 0.5),
    "nsfw": (10.0, 0.3),
    "ocr": (20.0, 1.0),
    "vad": (2.0, 0.1),
    "speakers": (10.0, 0.5),
    "transcribe": (30.0, 1.0),
}
DEFAULT_PRIOR = (10.0, 0.5)
PRIOR_WEIGHT = 3.0  # the prior counts as this many measured chunks


@dataclass(frozen=True, slots=True)
class JobPage:
    items: builtins.list[Job]
    total: int
    media_names: dict[str, str]


@dataclass(frozen=True, slots=True)
class PlannedAnalyzer:
    name: str
    status: str  # run | reused | disabled | skipped
    reason: str
    requested: bool  # False: added as a requirement of another analyzer
    chunks: int
    estimate_s: float
    basis: str  # prior | measured (blended with the prior) | none
    measured_chunks: int


@dataclass(frozen=True, slots=True)
class JobPlan:
    media_id: str
    kind: str
    duration_s: float | None
    analyzers: builtins.list[PlannedAnalyzer]

    @property
    def chunks(self) -> int:
        return sum(a.chunks for a in self.analyzers)

    @property
    def estimate_s(self) -> float:
        return round(sum(a.estimate_s for a in self.analyzers), 3)


@dataclass(frozen=True, slots=True)
class _Measured:
    timed_seconds: float = 0.0  # compute seconds of chunks with a time window
    media_seconds: float = 0.0  # media seconds those chunks covered
    timed_chunks: int = 0
    image_seconds: float = 0.0  # compute seconds of whole-file (image) chunks
    image_chunks: int = 0


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
        sort: str = "-created_at",
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
            rows = s.execute(
                query.add_columns(Media.original_name)
                .join(Media, Media.id == Job.media_id)
                .order_by(*_job_order(sort))
                .limit(limit)
                .offset(offset)
            ).all()
        return JobPage([r[0] for r in rows], int(total), {r[0].id: r[1] for r in rows})

    # ----------------------------------------------------------------- planning
    def plan(self, principal: Principal, media_id: str, analyzers: Sequence[str]) -> JobPlan:
        """What ``submit`` would run, without queueing anything: the same resolution, the reasons
        analyzers would not run, chunk counts and estimated compute seconds per analyzer."""
        principal.require(Permission.JOBS_CREATE)
        with self.db.session() as s:
            media = get_media(s, principal, media_id)
            done = set(
                s.execute(
                    select(AnalysisResult.analyzer).where(
                        AnalysisResult.media_id == media_id, AnalysisResult.accepted.is_(True)
                    )
                ).scalars()
            )
        info = MediaInfo.from_dict(
            {
                **media.info,
                "kind": media.kind,
                "format": media.format,
                "mime": media.mime,
                "size": media.size,
            }
        )
        requested = set(analyzers)
        names = self.registry.resolve(list(analyzers))
        measured = self._measured(names)
        planned: list[PlannedAnalyzer] = []
        for name in names:
            planned.append(self._plan_one(name, name in requested, name in done, info, measured))
        return JobPlan(media.id, media.kind, info.duration_s, planned)

    def _plan_one(
        self,
        name: str,
        requested: bool,
        done: bool,
        info: MediaInfo,
        measured: dict[str, _Measured],
    ) -> PlannedAnalyzer:
        analyzer = self.registry.get(name)
        off = [r for r in analyzer.requires if r in self.registry.disabled]
        if not requested and done:
            status, reason = "reused", "an accepted result exists; it is reused, not redone"
        elif name in self.registry.disabled:
            status, reason = "disabled", "disabled by policy"
        elif off:
            status, reason = "disabled", f"requires {', '.join(off)}, which is disabled by policy"
        elif (skip := analyzer.skip_reason(info)) is not None:
            status, reason = "skipped", skip
        else:
            status, reason = "run", ""
        if status != "run":
            return PlannedAnalyzer(name, status, reason, requested, 0, 0.0, "none", 0)
        chunks = analyzer.plan(info)
        estimate, basis, samples = _estimate(name, info, measured.get(name, _Measured()))
        return PlannedAnalyzer(name, "run", "", requested, len(chunks), estimate, basis, samples)

    def _measured(self, names: Sequence[str]) -> dict[str, _Measured]:
        """Compute seconds measured on this installation's finished chunks, per analyzer."""
        timed = JobChunk.start_s.is_not(None) & JobChunk.end_s.is_not(None)
        with self.db.session() as s:
            rows = s.execute(
                select(
                    JobChunk.analyzer,
                    func.sum(case((timed, JobChunk.duration_s), else_=0.0)),
                    func.sum(case((timed, JobChunk.end_s - JobChunk.start_s), else_=0.0)),
                    func.sum(case((timed, 1), else_=0)),
                    func.sum(case((timed, 0.0), else_=JobChunk.duration_s)),
                    func.sum(case((timed, 0), else_=1)),
                )
                .where(
                    JobChunk.analyzer.in_(names),
                    JobChunk.status == ChunkStatus.DONE,
                    JobChunk.duration_s.is_not(None),
                )
                .group_by(JobChunk.analyzer)
            ).all()
        return {
            r[0]: _Measured(
                float(r[1] or 0), float(r[2] or 0), int(r[3] or 0), float(r[4] or 0), int(r[5] or 0)
            )
            for r in rows
        }

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


def _estimate(name: str, info: MediaInfo, m: _Measured) -> tuple[float, str, int]:
    """(compute seconds, basis, measured chunks): the prior blended with what was measured."""
    per_minute, per_image = PRIOR_SECONDS.get(name, DEFAULT_PRIOR)
    if info.kind is MediaKind.IMAGE or not info.duration_s:
        rate, samples = per_image, m.image_chunks
        if samples:
            rate = (per_image * PRIOR_WEIGHT + m.image_seconds) / (PRIOR_WEIGHT + samples)
        return round(rate, 3), "measured" if samples else "prior", samples
    rate, samples = per_minute / 60.0, m.timed_chunks
    if samples and m.media_seconds > 0:
        prior_media_s = PRIOR_WEIGHT * m.media_seconds / samples  # the prior, in chunk units
        rate = (rate * prior_media_s + m.timed_seconds) / (prior_media_s + m.media_seconds)
    else:
        samples = 0
    return round(rate * info.duration_s, 3), "measured" if samples else "prior", samples


def _job_order(sort: str) -> tuple[Any, Any]:
    descending = sort.startswith("-")
    column: Any = {
        "created_at": Job.created_at,
        "priority": Job.priority,
        "state": Job.state,
        "progress": Job.progress,
        "finished_at": Job.finished_at,
    }.get(sort.removeprefix("-"))
    if column is None:
        raise InvalidInput(f"unknown sort {sort!r}; one of {JOB_SORTS}")
    ordered = column.desc() if descending else column.asc()
    return ordered.nulls_last(), Job.id.desc() if descending else Job.id.asc()
