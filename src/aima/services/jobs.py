"""Job use cases with per-object access checks and audit events."""

from __future__ import annotations

import builtins
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, func, select

from aima.analyzers.registry import AnalyzerRegistry
from aima.compute.budgets import BudgetBook, BudgetExceeded
from aima.compute.costs import DEFAULT_PRIOR, PRIOR_SECONDS, PRIOR_WEIGHT, CostModel, unit_of
from aima.compute.estimate import Estimate, Estimator, Work
from aima.core.errors import Forbidden, Gone, InvalidInput
from aima.core.ids import new_id
from aima.core.settings import ComputeSettings
from aima.jobs.ledger import Ledger
from aima.jobs.states import JobState
from aima.media.types import MediaInfo, MediaKind
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import (
    Principal,
    get_job,
    get_media,
    name_column,
    require_manage,
    visible_jobs,
)
from aima.services.quotas import QuotaExceeded, QuotaService
from aima.store.db import Database
from aima.store.models import AnalysisResult, Job, JobChunk, Media

#: ``sort`` values of the job listing; a leading ``-`` sorts descending.
JOB_SORTS = ("created_at", "priority", "state", "progress", "finished_at")

# The documented priors live with the measured cost model (compute/costs.py); re-exported here
# because the plan is where users meet them.
__all__ = ["DEFAULT_PRIOR", "PRIOR_SECONDS", "PRIOR_WEIGHT", "JobPlan", "JobService"]


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
    estimate: Estimate | None = None  # duration, device, money, budget warnings

    @property
    def chunks(self) -> int:
        return sum(a.chunks for a in self.analyzers)

    @property
    def estimate_s(self) -> float:
        return round(sum(a.estimate_s for a in self.analyzers), 3)


def scoped_key(principal: Principal, key: str | None) -> str | None:
    """Idempotency keys are private to their user: two users' "upload-1" never collide."""
    if key is None:
        return None
    owner = principal.user_id or principal.actor
    return hashlib.sha256(f"{owner}\x00{key}".encode()).hexdigest()


class JobService:
    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        registry: AnalyzerRegistry,
        *,
        estimator: Estimator | None = None,
        budgets: BudgetBook | None = None,
        quotas: QuotaService | None = None,
    ) -> None:
        self.quotas = quotas  # per-user GPU-seconds / money per month (None: no quotas)
        self.db = db
        self.ledger = ledger
        self.registry = registry
        self.estimator = estimator or Estimator(CostModel(db), ComputeSettings())
        self.budgets = budgets or BudgetBook(db, currency=self.estimator.settings.currency)

    def submit(
        self,
        principal: Principal,
        media_id: str,
        analyzers: Sequence[str],
        *,
        priority: int = 0,
        idempotency_key: str | None = None,
        options: dict[str, Any] | None = None,
        project: str | None = None,
        confirmed: bool = False,
    ) -> tuple[Job, bool]:
        """Queue a job after its estimate: refused (nothing queued) when it would pass a hard
        budget; ``awaiting_confirmation`` when it costs more than ``compute.confirm_above``,
        unless ``confirmed`` (the caller already accepted the estimate, e.g. ``--yes``)."""
        principal.require(Permission.JOBS_CREATE)
        with self.db.session() as s:
            if get_media(s, principal, media_id).raw_deleted_at is not None:
                raise Gone(
                    f"media {media_id}: its original file was deleted by a retention rule; "
                    "its results stay, but it cannot be analysed again"
                )
        estimate, refusal = self._estimate(principal, media_id, analyzers, project)
        if refusal is not None:
            self._audit(
                principal,
                "job.refused",
                media_id,
                {"reason": refusal, "amount": estimate.amount},
                object_type="media",
            )
            raise BudgetExceeded(refusal, details={"estimate": estimate.to_dict()})
        job_id = new_id("job")  # the quota reservation names the job before it exists
        held = self._reserve_quota(principal, estimate.to_dict(), media_id, job_id)
        try:
            names = self.registry.resolve(list(analyzers))
            if names != list(analyzers):
                # requirements already analysed (accepted results) are reused, not redone
                with self.db.session() as s:
                    done = set(
                        s.execute(
                            select(AnalysisResult.analyzer).where(
                                AnalysisResult.media_id == media_id,
                                AnalysisResult.accepted.is_(True),
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
                project=project,
                estimate=estimate.to_dict(),
                awaiting_confirmation=estimate.confirmation_required,
                job_id=job_id,
            )
            if created:
                self._audit(
                    principal,
                    "job.create",
                    job.id,
                    {"media_id": media_id, "analyzers": names, "amount": estimate.amount},
                )
                if estimate.confirmation_required and confirmed:
                    job = self.ledger.confirm(job.id, principal.actor)
                    self._audit(principal, "job.confirm", job.id, {"amount": estimate.amount})
            return job, created
        finally:
            if self.quotas is not None:
                self.quotas.release(held)  # the queued job now counts by itself

    def _estimate(
        self, principal: Principal, media_id: str, analyzers: Sequence[str], project: str | None
    ) -> tuple[Estimate, str | None]:
        plan = self.plan(principal, media_id, analyzers, project=project)
        assert plan.estimate is not None
        check = self.budgets.check(principal.user_id, project, plan.estimate.amount)
        return plan.estimate, check.refusal

    # --------------------------------------------------------- confirm / reject
    def confirm(self, principal: Principal, job_id: str) -> Job:
        """Accept a job's estimated cost (its creator, or whoever manages budgets). The budget
        is checked again: spend may have grown since the job was submitted."""
        job = self._may_decide(principal, job_id)
        amount = float(job.estimate.get("amount", 0.0))
        check = self.budgets.check(job.created_by, job.project, amount)
        if check.refusal is not None:
            raise BudgetExceeded(check.refusal)
        self._check_quota(principal, job.created_by, job.estimate, job_id, job_id=job_id)
        job = self.ledger.confirm(job_id, principal.actor)
        self._audit(principal, "job.confirm", job_id, {"amount": amount})
        return job

    def reject(self, principal: Principal, job_id: str) -> Job:
        """Decline a job's estimated cost: cancelled without running."""
        job = self._may_decide(principal, job_id)
        job = self.ledger.reject(job_id, principal.actor)
        self._audit(principal, "job.reject", job_id, {"amount": job.estimate.get("amount", 0.0)})
        return job

    def _may_decide(self, principal: Principal, job_id: str) -> Job:
        principal.require(Permission.JOBS_MANAGE)
        job = self.get(principal, job_id)
        if job.created_by != principal.user_id and not principal.can(Permission.BUDGETS_MANAGE):
            raise Forbidden(
                f"job {job_id} was submitted by another user; only its creator or an admin "
                "may accept or reject its cost"
            )
        return job

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
        count, page = _list_statements(principal, state, media_id, sort)
        with self.db.reading() as s:
            total = s.connection().execute(count).scalar_one()
            rows = s.execute(page.limit(limit).offset(offset)).all()
        return JobPage([r[0] for r in rows], int(total), {r[0].id: r[1] for r in rows})

    # ----------------------------------------------------------------- planning
    def plan(
        self,
        principal: Principal,
        media_id: str,
        analyzers: Sequence[str],
        *,
        project: str | None = None,
    ) -> JobPlan:
        """What ``submit`` would run, without queueing anything: the same resolution, the reasons
        analyzers would not run, chunk counts, estimated compute seconds per analyzer (the cost
        model: priors refined by measured chunks), money, and what the budgets say."""
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
        planned = [self._plan_one(name, name in requested, name in done, info) for name in names]
        work = [self._work(a.name, a.chunks, info) for a in planned if a.status == "run"]
        estimate = self.estimator.estimate(work)
        check = self.budgets.check(principal.user_id, project, estimate.amount)
        notes = check.warnings + ([check.refusal] if check.refusal else [])
        estimate = estimate.with_budget(notes, check.budgets)
        by_name = {a.analyzer: a for a in estimate.analyzers}
        planned = [
            replace(
                p,
                estimate_s=by_name[p.name].seconds,
                basis=by_name[p.name].basis,
                measured_chunks=by_name[p.name].samples,
            )
            if p.name in by_name
            else p
            for p in planned
        ]
        return JobPlan(media.id, media.kind, info.duration_s, planned, estimate)

    def estimate_new(
        self,
        principal: Principal,
        info: MediaInfo,
        analyzers: Sequence[str],
        project: str | None = None,
        *,
        job_id: str | None = None,
    ) -> tuple[Estimate, str | None]:
        """The estimate and budget verdict for media being stored right now (nothing in the
        database yet): what upload-time jobs are gated on, like ``submit``. ``job_id``: the id
        the job will be queued under; its GPU-seconds and money are then reserved (released by
        :func:`aima.services.quotas.consume_job`), not only checked."""
        requested = set(analyzers)
        names = self.registry.resolve(list(analyzers))
        planned = [self._plan_one(name, name in requested, False, info) for name in names]
        work = [self._work(a.name, a.chunks, info) for a in planned if a.status == "run"]
        estimate = self.estimator.estimate(work)
        check = self.budgets.check(principal.user_id, project, estimate.amount)
        refusal = check.refusal
        if refusal is None and self.quotas is not None:
            over = None
            if job_id is None:
                over = self.quotas.job_refusal(principal.user_id, estimate.to_dict())
            else:
                try:
                    self.quotas.reserve_job(principal.user_id, estimate.to_dict(), job_id=job_id)
                except QuotaExceeded as exc:
                    over = exc
            refusal = over.message if over is not None else None
        notes = check.warnings + ([refusal] if refusal else [])
        return estimate.with_budget(notes, check.budgets), refusal

    def _check_quota(
        self,
        principal: Principal,
        owner: str | None,
        estimate: dict[str, Any],
        object_id: str,
        *,
        job_id: str | None = None,
    ) -> None:
        """Refuse (429, nothing queued or confirmed) a job past its owner's GPU-seconds or money
        quota for the month; the error names the quota, what is left and when it resets."""
        if self.quotas is None:
            return
        over = self.quotas.job_refusal(owner, estimate, job_id=job_id)
        if over is None:
            return
        self._audit(
            principal,
            "job.refused",
            object_id,
            {"reason": over.message, "quota": over.details.get("quota")},
            object_type="media" if job_id is None else "job",
        )
        raise over

    def _reserve_quota(
        self, principal: Principal, estimate: dict[str, Any], media_id: str, job_id: str
    ) -> str | None:
        """Hold the job's GPU-seconds and money against its submitter's month, so concurrent
        submissions cannot pass the quota together; refused (429, nothing queued, audited)
        when they do not fit."""
        if self.quotas is None:
            return None
        try:
            return self.quotas.reserve_job(principal.user_id, estimate, job_id=job_id)
        except QuotaExceeded as over:
            self._audit(
                principal,
                "job.refused",
                media_id,
                {"reason": over.message, "quota": over.details.get("quota")},
                object_type="media",
            )
            raise

    def _work(self, name: str, chunks: int, info: MediaInfo) -> Work:
        analyzer = self.registry.get(name)
        if info.kind is MediaKind.IMAGE or not info.duration_s:
            unit, units = unit_of(None, None)
        else:
            unit, units = unit_of(0.0, info.duration_s)
        return Work(name, analyzer.version, unit, units, chunks)

    def _plan_one(
        self,
        name: str,
        requested: bool,
        done: bool,
        info: MediaInfo,
    ) -> PlannedAnalyzer:
        analyzer = self.registry.get(name)
        off = self.registry.disabled_reason(name) or self.registry.blocked_by(name)
        if not requested and done:
            status, reason = "reused", "an accepted result exists; it is reused, not redone"
        elif off is not None:
            status, reason = "disabled", off
        elif (skip := analyzer.skip_reason(info)) is not None:
            status, reason = "skipped", skip
        else:
            status, reason = "run", ""
        if status != "run":
            return PlannedAnalyzer(name, status, reason, requested, 0, 0.0, "none", 0)
        chunks = analyzer.plan(info)
        return PlannedAnalyzer(name, "run", "", requested, len(chunks), 0.0, "prior", 0)

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
        self,
        principal: Principal,
        action: str,
        job_id: str,
        details: dict[str, object],
        *,
        object_type: str = "job",
    ) -> None:
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action=action,
                object_type=object_type,
                object_id=job_id,
                details=details,
            )


@functools.lru_cache(maxsize=256)
def _list_statements(
    principal: Principal, state: str | None, media_id: str | None, sort: str
) -> tuple[Select[Any], Select[Any]]:
    """(count, page without limit/offset) of the job listing; built once per caller, filter
    and sort (building the expressions cost more than running them)."""
    query = visible_jobs(principal)
    if state:
        query = query.where(Job.state == JobState(state))
    if media_id:
        query = query.where(Job.media_id == media_id)
    count = select(func.count()).select_from(query.subquery())
    page = (
        query.add_columns(name_column(principal))  # the caller's name for it
        .join(Media, Media.id == Job.media_id)
        .order_by(*_job_order(sort))
    )
    return count, page


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
    if column.nullable:  # NOT NULL columns keep the plain order, which their index serves
        ordered = ordered.nulls_last()
    return ordered, Job.id.desc() if descending else Job.id.asc()
