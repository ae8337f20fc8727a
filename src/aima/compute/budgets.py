"""Spending caps per user and per project: warn at the soft limit, refuse past the hard one.

Spend is what jobs actually cost (``jobs.cost_actual``, charged chunk by chunk by the
runner), summed over the budget's period: the current calendar month (UTC) or all time.
A job is charged to its creator's user budgets and to its project's budgets; every
budget that applies must allow it.

Three moments check a budget:

- **before a job is queued**: spend so far + the job's estimate past a hard limit →
  refused (:class:`BudgetExceeded`, nothing queued); past a soft limit → a warning that
  is stored with the job's estimate and shown;
- **at each chunk boundary** while it runs: spend (this job's actual cost included)
  past a hard limit → the job stops there, keeps what was committed and ends
  ``partial`` with the reason;
- nothing else: budgets never cancel queued jobs behind the user's back.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import func, or_, select

from aima.compute.costs import CostModel, Pricing, Sample, unit_of
from aima.core.clock import utcnow
from aima.core.errors import AimaError, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.core.settings import ComputeSettings
from aima.store.db import Database
from aima.store.models import Budget, Job

Scope = Literal["user", "project"]
Period = Literal["month", "total"]
SCOPES: tuple[str, ...] = ("user", "project")
PERIODS: tuple[str, ...] = ("month", "total")


class BudgetExceeded(AimaError):
    """The job would take spend past a hard limit (402: it needs money the budget refuses)."""

    status = 402
    code = "budget_exceeded"


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """What the applicable budgets say about spending ``amount`` more."""

    warnings: list[str] = field(default_factory=list)
    refusal: str | None = None
    budgets: list[dict[str, object]] = field(default_factory=list)  # each: limits and spend


def period_start(period: str, now: datetime) -> datetime | None:
    if period == "month":
        return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return None


class BudgetBook:
    """Budgets (``budgets`` table) and the spend they are held against."""

    def __init__(self, db: Database, *, currency: str = "USD") -> None:
        self.db = db
        self.currency = currency

    # ------------------------------------------------------------------ CRUD
    def list(self) -> list[Budget]:
        with self.db.session() as s:
            return list(
                s.execute(select(Budget).order_by(Budget.scope, Budget.subject, Budget.period))
                .scalars()
                .all()
            )

    def put(
        self,
        scope: str,
        subject: str,
        *,
        period: str = "month",
        soft_limit: float,
        hard_limit: float,
        created_by: str,
        currency: str | None = None,
    ) -> Budget:
        """Create the budget for (scope, subject, period), or change its limits."""
        if scope not in SCOPES:
            raise InvalidInput(f"budget scope {scope!r}: use one of {', '.join(SCOPES)}")
        if period not in PERIODS:
            raise InvalidInput(f"budget period {period!r}: use one of {', '.join(PERIODS)}")
        if not subject or len(subject) > 64:
            raise InvalidInput("budget subject: a user id or project name of 1-64 characters")
        if soft_limit < 0 or hard_limit < 0:
            raise InvalidInput("budget limits cannot be negative")
        if soft_limit > hard_limit:
            raise InvalidInput(
                f"soft limit {soft_limit} is above hard limit {hard_limit}; "
                "the soft limit warns before the hard one refuses"
            )
        currency = currency or self.currency
        if currency != self.currency:
            raise InvalidInput(
                f"budget currency {currency!r} differs from AIMA_COMPUTE__CURRENCY "
                f"{self.currency!r}; spend is recorded in {self.currency}"
            )
        with self.db.session() as s:
            budget = s.execute(
                select(Budget).where(
                    Budget.scope == scope, Budget.subject == subject, Budget.period == period
                )
            ).scalar_one_or_none()
            if budget is None:
                budget = Budget(
                    id=new_id("bud"),
                    scope=scope,
                    subject=subject,
                    period=period,
                    created_by=created_by,
                    created_at=utcnow(),
                )
                s.add(budget)
            budget.soft_limit = float(soft_limit)
            budget.hard_limit = float(hard_limit)
            budget.currency = currency
            s.flush()
            return budget

    def get(self, budget_id: str) -> Budget:
        with self.db.session() as s:
            budget = s.get(Budget, budget_id)
            if budget is None:
                raise NotFound(f"budget {budget_id} not found")
            return budget

    def delete(self, budget_id: str) -> Budget:
        with self.db.session() as s:
            budget = s.get(Budget, budget_id)
            if budget is None:
                raise NotFound(f"budget {budget_id} not found")
            s.delete(budget)
            return budget

    # ----------------------------------------------------------------- spend
    def applicable(self, user_id: str | None, project: str | None) -> builtins.list[Budget]:
        clauses = []
        if user_id:
            clauses.append((Budget.scope == "user") & (Budget.subject == user_id))
        if project:
            clauses.append((Budget.scope == "project") & (Budget.subject == project))
        if not clauses:
            return []
        with self.db.session() as s:
            return list(s.execute(select(Budget).where(or_(*clauses))).scalars().all())

    def spend(
        self,
        scope: str,
        subject: str,
        period: str,
        *,
        now: datetime | None = None,
        exclude_job: str | None = None,
    ) -> float:
        """Actual spend charged to a budget's subject within its period."""
        column = Job.created_by if scope == "user" else Job.project
        query = select(func.coalesce(func.sum(Job.cost_actual), 0.0)).where(column == subject)
        start = period_start(period, now or utcnow())
        if start is not None:
            query = query.where(Job.created_at >= start)
        if exclude_job is not None:
            query = query.where(Job.id != exclude_job)
        with self.db.session() as s:
            return float(s.execute(query).scalar_one())

    def check(
        self,
        user_id: str | None,
        project: str | None,
        amount: float,
        *,
        job_id: str | None = None,
        budgets: Sequence[Budget] | None = None,
    ) -> BudgetCheck:
        """Would spending ``amount`` (more) stay within every applicable budget?

        ``job_id``: the running job whose ``amount`` is its actual cost so far (its own
        recorded spend is left out of the sum so it is not counted twice).
        """
        warnings: builtins.list[str] = []
        refusal: str | None = None
        seen: builtins.list[dict[str, object]] = []
        for b in budgets if budgets is not None else self.applicable(user_id, project):
            spent = self.spend(b.scope, b.subject, b.period, exclude_job=job_id)
            total = spent + amount
            name = f"{b.scope} {b.subject} ({b.period})"
            seen.append(
                {
                    "id": b.id,
                    "scope": b.scope,
                    "subject": b.subject,
                    "period": b.period,
                    "soft_limit": b.soft_limit,
                    "hard_limit": b.hard_limit,
                    "spent": round(spent, 6),
                }
            )
            if total > b.hard_limit + 1e-9 and refusal is None:
                refusal = (
                    f"budget {name} would be exceeded: spent {spent:.2f} + {amount:.2f} "
                    f"> hard limit {b.hard_limit:.2f} {b.currency}; raise the budget "
                    "(aima budgets set) or analyse less"
                )
            elif total > b.soft_limit + 1e-9:
                warnings.append(
                    f"budget {name}: {total:.2f} of soft limit {b.soft_limit:.2f} {b.currency}"
                )
        return BudgetCheck(warnings, refusal, seen)


class OverBudget(Exception):
    """Raised inside the runner at a chunk boundary when spend passed a hard limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JobMeter:
    """One job's charges while it runs: prices each chunk on the device it ran on, keeps
    the samples the cost model learns from, and says when spend passed a hard budget."""

    def __init__(
        self,
        costs: CostModel,
        book: BudgetBook,
        settings: ComputeSettings,
        job_id: str,
        user_id: str | None,
        project: str | None,
    ) -> None:
        self.costs = costs
        self.book = book
        self.settings = settings
        self.job_id = job_id
        self.user_id = user_id
        self.project = project
        self.samples: list[Sample] = []

    def charge(
        self,
        analyzer: str,
        version: str,
        span: tuple[float | None, float | None],
        seconds: float,
        device: str | None = None,
    ) -> float:
        """Money one finished chunk cost; the chunk is remembered for the cost model.

        ``device``: where the executor ran it (``cpu``, ``cuda:<gpu>``); default: this
        worker's configured device class."""
        pricing = Pricing.local(self.settings, device)
        unit, units = unit_of(*span)
        seconds = max(0.0, seconds)
        self.samples.append(Sample(analyzer, version, pricing.device_class, unit, units, seconds))
        return pricing.money(seconds)

    def over_cap(self, cost_actual: float) -> str | None:
        """The reason to stop now, or None. Free jobs never query budgets."""
        if cost_actual <= 0:
            return None
        check = self.book.check(self.user_id, self.project, cost_actual, job_id=self.job_id)
        if check.refusal is None:
            return None
        return f"stopped at a chunk boundary: {check.refusal.replace('would be', 'was')}"

    def flush(self) -> None:
        """Teach the cost model what this run measured (also after a stop or a crash)."""
        samples, self.samples = self.samples, []
        if samples:
            self.costs.record(samples)


class SpendMeter:
    """Makes a :class:`JobMeter` per job for the runner (the composition root builds one)."""

    def __init__(self, costs: CostModel, book: BudgetBook, settings: ComputeSettings) -> None:
        self.costs = costs
        self.book = book
        self.settings = settings

    def start(self, job: Job) -> JobMeter:
        return JobMeter(self.costs, self.book, self.settings, job.id, job.created_by, job.project)
