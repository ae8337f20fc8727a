"""How many rented GPU workers to keep: a predictive policy, a reactive one, and a simulator.

Renting is slow (minutes to boot) and billed by the hour, so scaling only on the
queue you already have means every burst waits for a boot, and scaling down
late means paying for idle machines. The predictive policy looks ahead:

* **Forecast.** Arrivals per hour are learned per *hour of the week* (168 slots,
  an exponentially weighted average over past weeks, so Monday 9:00 learns
  from earlier Mondays at 9:00) and corrected by the *recent rate*: when the
  last hour ran hotter or colder than that slot usually does, the next hours are
  scaled by the same ratio (clamped, so one odd hour cannot run away).
* **Work.** Expected arrivals × GPU-hours per job (from the cost model, or a
  prior) is the GPU-hours per hour the fleet must sustain; divided by a target
  utilisation it is the number of workers, plus what it takes to clear the
  current queue within a drain time.
* **Lead time.** The forecast is taken at *now + boot time*, the earliest moment
  a worker launched now could help.

The reactive policy is the baseline: one worker per waiting or running job,
nothing kept warm. Both share the fleet's rule that an idle worker beyond the
target is stopped after ``idle_terminate_s``, except that the predictive policy
may stop a worker beyond its own (forecast-backed) target after a short grace. :func:`simulate` replays an
arrival trace through either policy and reports GPU-hours and queue waits;
``benchmarks/scaling_bench.py`` runs it on a simulated week.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select

from aima.compute.fleet import Fleet
from aima.compute.providers.base import GpuRequirement
from aima.core.settings import FleetSettings
from aima.jobs.states import JobState
from aima.store.models import Job

HOURS_PER_WEEK = 168


def hour_of_week(t: datetime) -> int:
    return t.weekday() * 24 + t.hour


class ArrivalForecaster:
    """Arrivals per hour by hour of week, corrected by the recent rate."""

    def __init__(
        self,
        *,
        weekly_alpha: float = 0.5,
        recent_window_s: float = 3600.0,
        correction_clamp: tuple[float, float] = (0.5, 2.0),
    ) -> None:
        self.weekly_alpha = weekly_alpha
        self.recent_window_s = recent_window_s
        self.clamp = correction_clamp
        self.profile: list[float | None] = [None] * HOURS_PER_WEEK
        self._recent: deque[datetime] = deque()
        self._hour: datetime | None = None
        self._count = 0

    def observe(self, t: datetime) -> None:
        """Record one arrival (call in time order)."""
        self.advance(t)
        self._count += 1
        self._recent.append(t)

    def advance(self, now: datetime) -> None:
        """Fold finished hours into the weekly profile (empty hours count as zero)."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        if self._hour is None:
            self._hour = hour
        while self._hour < hour:
            slot = hour_of_week(self._hour)
            old = self.profile[slot]
            self.profile[slot] = (
                float(self._count)
                if old is None
                else (1 - self.weekly_alpha) * old + self.weekly_alpha * self._count
            )
            self._count = 0
            self._hour += timedelta(hours=1)
        cutoff = now - timedelta(seconds=self.recent_window_s)
        while self._recent and self._recent[0] < cutoff:
            self._recent.popleft()

    def recent_rate(self) -> float:
        """Arrivals per hour over the recent window."""
        return len(self._recent) * 3600.0 / self.recent_window_s

    def rate(self, now: datetime, at: datetime) -> float:
        """Expected arrivals per hour at ``at``, as seen from ``now``."""
        self.advance(now)
        expected = self.profile[hour_of_week(at)]
        if expected is None:
            return self.recent_rate()  # no history for that slot yet: persistence
        usual_now = self._usual(now)
        if usual_now is None or usual_now <= 0:
            return expected
        lo, hi = self.clamp
        return expected * min(hi, max(lo, self.recent_rate() / usual_now))

    def _usual(self, now: datetime) -> float | None:
        """The profile's rate over the recent window (the slots it spans, averaged)."""
        start = now - timedelta(seconds=self.recent_window_s)
        slots = {hour_of_week(start), hour_of_week(now)}
        known = [p for s in slots if (p := self.profile[s]) is not None]
        return sum(known) / len(known) if known else None


class ScalingPolicy(Protocol):
    name: str
    idle_grace_s: float | None
    """Stop a surplus idle worker after this long (None: the fleet's ``idle_terminate_s``).

    A policy that forecasts can afford a short grace: the warm pool it wants is
    already inside its target, so a worker beyond it is spare by its own account."""

    def observe(self, t: datetime) -> None: ...

    def target(self, now: datetime, *, queued: int, busy: int) -> int: ...


@dataclass
class ReactivePolicy:
    """One worker per job waiting or running; nothing kept warm."""

    max_workers: int
    name: str = "reactive"
    idle_grace_s: float | None = None

    def observe(self, t: datetime) -> None:
        return None

    def target(self, now: datetime, *, queued: int, busy: int) -> int:
        return min(self.max_workers, queued + busy)


@dataclass
class PredictivePolicy:
    """Reactive's floor plus a warm pool sized for the load forecast at now + boot time.

    The warm pool is square-root staffing: offered load ``a`` = arrivals/hour ×
    GPU-hours/job workers' worth of work, plus ``z·√a`` spare for Poisson bursts,
    so a job arriving in a burst usually finds a booted worker instead of waiting
    for one to boot. Waiting and running jobs are always covered (never fewer
    workers than the reactive policy would have).
    """

    max_workers: int
    work_per_job_h: float
    boot_s: float
    spare_z: float = 1.0
    min_workers: int = 0
    idle_grace_s: float | None = 120.0
    forecaster: ArrivalForecaster = field(default_factory=ArrivalForecaster)
    name: str = "predictive"

    def observe(self, t: datetime) -> None:
        self.forecaster.observe(t)

    def warm(self, now: datetime) -> float:
        """Workers' worth of load expected by the time a worker launched now is up."""
        ahead = now + timedelta(seconds=self.boot_s)
        rate = max(self.forecaster.rate(now, ahead), self.forecaster.rate(now, now))
        load = rate * self.work_per_job_h
        return load + self.spare_z * math.sqrt(load) if load > 0 else 0.0

    def target(self, now: datetime, *, queued: int, busy: int) -> int:
        want = max(queued + busy, math.ceil(self.warm(now) - 1e-9), self.min_workers)
        return min(self.max_workers, want)


# --- simulation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    at: datetime
    work_s: float


@dataclass
class _SimWorker:
    ready_at: datetime
    launched_at: datetime
    busy_until: datetime | None = None
    idle_since: datetime | None = None


@dataclass(frozen=True)
class SimResult:
    policy: str
    jobs: int
    gpu_hours: float
    cost: float
    wait_p50_s: float
    wait_p95_s: float
    wait_max_s: float
    launches: int


def simulate(
    arrivals: Sequence[Arrival],
    policy: ScalingPolicy,
    *,
    boot_s: float,
    idle_terminate_s: float,
    price_per_hour: float,
    step_s: float = 60.0,
    measure_from: datetime | None = None,
) -> SimResult:
    """Replay ``arrivals`` through ``policy`` in ``step_s`` ticks.

    Workers boot for ``boot_s``, run one job at a time, and an idle worker beyond the
    target is stopped after ``idle_terminate_s`` (the fleet's rule). Costs and waits
    count from ``measure_from`` (earlier arrivals only teach the forecaster).
    """
    if not arrivals:
        return SimResult(policy.name, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    start = arrivals[0].at.replace(minute=0, second=0, microsecond=0)
    end = arrivals[-1].at + timedelta(hours=2)
    measure_from = measure_from or start
    step = timedelta(seconds=step_s)
    grace = policy.idle_grace_s if policy.idle_grace_s is not None else idle_terminate_s
    pending = deque(arrivals)
    queue: deque[Arrival] = deque()
    workers: list[_SimWorker] = []
    waits: list[float] = []
    alive_s = 0.0
    launches = 0
    now = start
    while now < end or queue or any(w.busy_until for w in workers):
        while pending and pending[0].at <= now:
            a = pending.popleft()
            policy.observe(a.at)
            queue.append(a)
        for w in workers:
            if w.busy_until is not None and w.busy_until <= now:
                w.busy_until, w.idle_since = None, w.busy_until
            if w.busy_until is None and w.idle_since is None and w.ready_at <= now:
                w.idle_since = w.ready_at
        for w in workers:
            if queue and w.busy_until is None and w.ready_at <= now:
                job = queue.popleft()
                if job.at >= measure_from:
                    waits.append((now - job.at).total_seconds())
                w.busy_until = now + timedelta(seconds=job.work_s)
                w.idle_since = None
        busy = sum(1 for w in workers if w.busy_until is not None)
        target = policy.target(now, queued=len(queue), busy=busy)
        while len(workers) < target:
            workers.append(_SimWorker(ready_at=now + timedelta(seconds=boot_s), launched_at=now))
            launches += 1 if now >= measure_from else 0
        surplus = len(workers) - target
        if surplus > 0:
            idle = sorted(
                (w for w in workers if w.idle_since is not None and w.busy_until is None),
                key=lambda w: w.idle_since or now,
            )
            for w in idle[:surplus]:
                if w.idle_since is not None and (now - w.idle_since).total_seconds() >= grace:
                    workers.remove(w)
        if now >= measure_from:
            alive_s += len(workers) * step_s
        now += step
    waits.sort()
    gpu_hours = alive_s / 3600.0
    return SimResult(
        policy=policy.name,
        jobs=len(waits),
        gpu_hours=round(gpu_hours, 2),
        cost=round(gpu_hours * price_per_hour, 2),
        wait_p50_s=_pct(waits, 0.50),
        wait_p95_s=_pct(waits, 0.95),
        wait_max_s=waits[-1] if waits else 0.0,
        launches=launches,
    )


def _pct(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def simulated_weeks(
    start: datetime,
    *,
    weeks: int = 3,
    peak_per_hour: float = 40.0,
    night_per_hour: float = 2.0,
    weekend_factor: float = 0.35,
    mean_work_s: float = 360.0,
    noise: float = 0.2,
    seed: int = 0,
) -> list[Arrival]:
    """A seeded arrival trace: office-hours peak, quiet nights, lighter weekends, noise.

    The hourly rate follows a smooth day curve (peak mid-afternoon) scaled down on
    Saturday/Sunday and jittered ±``noise`` per hour; arrivals within an hour are
    Poisson, work per job is exponential around ``mean_work_s``.
    """
    rng = random.Random(seed)
    out: list[Arrival] = []
    t0 = start.replace(minute=0, second=0, microsecond=0)
    for h in range(weeks * HOURS_PER_WEEK):
        hour_start = t0 + timedelta(hours=h)
        day_curve = max(0.0, math.sin(math.pi * (hour_start.hour - 7) / 13))
        rate = night_per_hour + (peak_per_hour - night_per_hour) * day_curve
        if hour_start.weekday() >= 5:
            rate *= weekend_factor
        rate *= 1 + rng.uniform(-noise, noise)
        t = 0.0
        while True:
            t += rng.expovariate(rate) * 3600.0 if rate > 0 else 3600.0
            if t >= 3600.0:
                break
            work = max(10.0, rng.expovariate(1.0 / mean_work_s))
            out.append(Arrival(hour_start + timedelta(seconds=t), work))
    return out


def policy_from_settings(settings: FleetSettings) -> ScalingPolicy:
    """The policy ``compute.fleet.scaling`` names, sized from the fleet settings."""
    if settings.scaling == "reactive":
        return ReactivePolicy(max_workers=settings.max_workers)
    return PredictivePolicy(
        max_workers=settings.max_workers,
        work_per_job_h=1.0 / settings.jobs_per_worker_hour,
        boot_s=settings.boot_s,
    )


class FleetAutoscaler:
    """Drives a :class:`~aima.compute.fleet.Fleet` from the job ledger with a policy.

    Each :meth:`tick` feeds the policy the jobs submitted since the last tick, reads
    the queue depth and the workers holding leases, and asks the fleet to move
    towards the policy's target (launching, or stopping idle workers past it).
    """

    def __init__(
        self,
        fleet: Fleet,
        policy: ScalingPolicy,
        *,
        requirement: GpuRequirement | None = None,
    ) -> None:
        self.fleet = fleet
        self.policy = policy
        self.requirement = requirement
        self._seen_until: datetime | None = None

    def tick(self) -> tuple[int, int, int]:
        """One control step; returns (target, launched, stopped)."""
        now = self.fleet.clock.now()
        with self.fleet.db.session() as s:
            q = select(Job.created_at).where(Job.created_at <= now)
            if self._seen_until is not None:
                q = q.where(Job.created_at > self._seen_until)
            for created in sorted(s.scalars(q)):
                self.policy.observe(created)
            queued = s.scalar(
                select(func.count()).select_from(Job).where(Job.state == JobState.QUEUED.value)
            )
        self._seen_until = now
        busy = len(self.fleet.busy_ids())
        target = self.policy.target(now, queued=int(queued or 0), busy=busy)
        launched, stopped = self.fleet.scale_to(target, self.requirement)
        return target, launched, stopped
