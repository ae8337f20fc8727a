"""Rented GPU workers: pick the cheapest fitting offer, fail over, watch, and stop them.

The fleet is the only code that spends money on providers, so it is careful in
one place:

* **Selection.** Prices are re-read from every provider right before a launch
  (a price list from a minute ago is a guess on a spot market); offers are
  filtered by the requirement and by each provider's price cap, then tried
  cheapest first.
* **Failover.** "No capacity" moves on to the next offer. A provider that fails
  (5xx, 429 after retries, timeouts) counts against its circuit breaker; after
  ``circuit_failures`` in a row it is skipped for ``circuit_reset_s``. Bad
  credentials open the circuit at once. A machine that is not running within
  ``launch_timeout_s`` is terminated (so it stops costing) and the next offer
  is tried.
* **Preemption.** A spot machine taken back is marked ``preempted``; nothing
  else is needed, because the job it held keeps its lease in the ledger, the
  lease expires, and another worker resumes from the last committed chunk.
* **Idle.** A worker that held no job lease for ``idle_terminate_s`` is
  terminated, unless the scaling policy wants it kept warm.

Every machine is a row in ``compute_workers`` from the moment we ask for it
(so a crash mid-launch leaves a trace to clean up), with its spend so far.
Time comes from an injectable :class:`Clock`, so tests drive boots and idle
periods without waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select

from aima.compute.providers.base import (
    Bootstrap,
    GpuRequirement,
    Instance,
    NoCapacity,
    Offer,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
)
from aima.core.clock import utcnow
from aima.core.errors import NotFound
from aima.core.ids import new_id
from aima.core.settings import FleetSettings, Settings
from aima.store.db import Database
from aima.store.models import ComputeWorker, Job

log = logging.getLogger(__name__)

ACTIVE_STATES = ("launching", "running")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class _Circuit:
    failures: int = 0
    open_until: datetime | None = None
    last_error: str = ""


@dataclass
class CircuitBreaker:
    """Per provider: closed → open after N consecutive failures → half-open after a pause."""

    threshold: int
    reset_s: float
    clock: Clock
    _state: dict[str, _Circuit] = field(default_factory=dict)

    def allow(self, provider: str) -> bool:
        c = self._state.get(provider)
        return c is None or c.open_until is None or self.clock.now() >= c.open_until

    def success(self, provider: str) -> None:
        self._state[provider] = _Circuit()

    def failure(self, provider: str, error: str, *, trip: bool = False) -> None:
        c = self._state.setdefault(provider, _Circuit())
        c.failures += 1
        c.last_error = error
        if trip or c.failures >= self.threshold:
            c.open_until = self.clock.now() + timedelta(seconds=self.reset_s)
            log.warning(
                "provider circuit opened",
                extra={"provider": provider, "failures": c.failures, "error": error[:200]},
            )

    def state(self, provider: str) -> str:
        c = self._state.get(provider)
        if c is None or c.open_until is None:
            return "closed"
        return "open" if self.clock.now() < c.open_until else "half-open"

    def last_error(self, provider: str) -> str:
        c = self._state.get(provider)
        return c.last_error if c else ""


@dataclass(frozen=True)
class WorkerView:
    """A ``compute_workers`` row, detached from the session."""

    id: str
    provider: str
    offer_id: str
    instance_id: str | None
    gpu_type: str
    gpu_count: int
    region: str | None
    price_per_hour: float
    state: str
    reason: str | None
    launched_at: datetime
    last_busy_at: datetime | None
    terminated_at: datetime | None
    spend: float

    @classmethod
    def of(cls, row: ComputeWorker) -> WorkerView:
        return cls(
            id=row.id,
            provider=row.provider,
            offer_id=row.offer_id,
            instance_id=row.instance_id,
            gpu_type=row.gpu_type,
            gpu_count=row.gpu_count,
            region=row.region,
            price_per_hour=row.price_per_hour,
            state=row.state,
            reason=row.reason,
            launched_at=row.launched_at,
            last_busy_at=row.last_busy_at,
            terminated_at=row.terminated_at,
            spend=row.spend,
        )


class Fleet:
    """Launches, watches and stops rented GPU workers; also a live ``PriceSource``."""

    def __init__(
        self,
        db: Database,
        providers: Mapping[str, Provider],
        settings: FleetSettings,
        *,
        bootstrap: Bootstrap | None = None,
        clock: Clock | None = None,
        price_caps: Mapping[str, float] | None = None,
        requirement: GpuRequirement | None = None,
        poll_s: float = 10.0,
    ) -> None:
        self.db = db
        self.providers = dict(providers)
        self.settings = settings
        self.bootstrap = bootstrap or Bootstrap(image=settings.image, env={})
        self.clock = clock or SystemClock()
        self.price_caps = dict(price_caps or {})
        self.requirement = requirement or GpuRequirement()
        self.poll_s = poll_s
        self.breaker = CircuitBreaker(
            settings.circuit_failures, settings.circuit_reset_s, self.clock
        )

    # --- prices ---------------------------------------------------------------------------

    def offers(self, req: GpuRequirement | None = None) -> list[Offer]:
        """Live offers from every provider whose circuit is closed, cheapest first.

        A provider that fails here is skipped (and counted against its circuit); the
        others still answer, so one outage never hides every price.
        """
        req = req or self.requirement
        out: list[Offer] = []
        for name, provider in self.providers.items():
            if not self.breaker.allow(name):
                continue
            try:
                found = provider.offers(req)
            except ProviderAuthError as exc:
                self.breaker.failure(name, exc.message, trip=True)
                continue
            except ProviderError as exc:
                self.breaker.failure(name, exc.message)
                continue
            self.breaker.success(name)
            cap = self.price_caps.get(name)
            out.extend(o for o in found if o.available and (cap is None or o.price_per_hour <= cap))
        return sorted(out, key=_rank)

    # --- launch with failover -------------------------------------------------------------

    def launch(self, req: GpuRequirement | None = None) -> WorkerView:
        """Start one worker on the cheapest offer that boots; raises :class:`NoCapacity`."""
        req = req or self.requirement
        if (
            self.settings.max_workers
            and len(self.workers(active=True)) >= self.settings.max_workers
        ):
            raise NoCapacity(
                "fleet",
                f"already {self.settings.max_workers} rented workers (compute.fleet.max_workers); "
                "raise the limit or wait for one to finish",
            )
        candidates = self.offers(req)  # prices re-read right before spending
        if not candidates:
            raise NoCapacity("fleet", _nothing_fits(req, self.providers, self.breaker))
        tried: list[str] = []
        for offer in candidates:
            if not self.breaker.allow(offer.provider):
                continue
            view = self._try_offer(offer, req)
            if view is not None:
                return view
            tried.append(f"{offer.provider}:{offer.offer_id}")
        raise NoCapacity(
            "fleet",
            f"no offer could be started ({len(tried)} tried: {', '.join(tried[:6])}); "
            "see compute_workers.reason for each, or relax the GPU requirement",
        )

    def _try_offer(self, offer: Offer, req: GpuRequirement) -> WorkerView | None:
        provider = self.providers[offer.provider]
        wid = new_id("cw")
        now = self.clock.now()
        with self.db.session() as s:
            s.add(
                ComputeWorker(
                    id=wid,
                    provider=offer.provider,
                    offer_id=offer.offer_id,
                    gpu_type=offer.gpu_type,
                    gpu_count=offer.gpu_count,
                    region=offer.region,
                    price_per_hour=offer.price_per_hour,
                    state="launching",
                    launched_at=now,
                    spend=0.0,
                )
            )
        boot = replace(
            self.bootstrap,
            env={**self.bootstrap.env, "AIMA_FLEET_WORKER_ID": wid},
            command=(*self.bootstrap.command, "--worker-id", wid),
        )
        try:
            inst = provider.launch(offer, boot, name=f"aima-{wid}")
        except NoCapacity as exc:
            self.breaker.success(offer.provider)  # it answered; the offer just went
            self._close(wid, "failed", f"no capacity: {exc.message}")
            return None
        except ProviderAuthError as exc:
            self.breaker.failure(offer.provider, exc.message, trip=True)
            self._close(wid, "failed", exc.message)
            return None
        except ProviderError as exc:
            self.breaker.failure(offer.provider, exc.message)
            self._close(wid, "failed", exc.message)
            return None
        self.breaker.success(offer.provider)
        with self.db.session() as s:
            row = s.get_one(ComputeWorker, wid)
            row.instance_id = inst.instance_id
            if inst.price_per_hour:
                row.price_per_hour = inst.price_per_hour
        return self._await_running(wid, provider, inst)

    def _await_running(self, wid: str, provider: Provider, inst: Instance) -> WorkerView | None:
        start = self.clock.now()
        deadline = start + timedelta(seconds=self.settings.launch_timeout_s)
        while inst.state != "running":
            if inst.final:
                self._close(wid, "failed", f"{inst.state} while booting: {inst.detail}")
                return None
            if self.clock.now() >= deadline:
                self._terminate_instance(provider, inst.instance_id)
                self._close(
                    wid,
                    "failed",
                    f"not running after {self.settings.launch_timeout_s:.0f}s "
                    f"(last state {inst.state}); terminated, trying the next offer",
                )
                return None
            self.clock.sleep(self.poll_s)
            try:
                inst = provider.status(inst.instance_id)
            except ProviderUnavailable as exc:
                log.warning("status poll failed", extra={"worker": wid, "error": exc.message})
        now = self.clock.now()
        with self.db.session() as s:
            row = s.get_one(ComputeWorker, wid)
            row.state = "running"
            row.last_busy_at = now  # a fresh worker gets the full idle allowance
            row.spend = _spend(row, now)
            log.info(
                "rented worker running",
                extra={"worker": wid, "provider": row.provider, "price": row.price_per_hour},
            )
            return WorkerView.of(row)

    # --- watching -------------------------------------------------------------------------

    def refresh(self) -> list[WorkerView]:
        """Poll every active worker: spend so far, preemption, machines that vanished."""
        for view in self.workers(active=True):
            provider = self.providers.get(view.provider)
            if provider is None or view.instance_id is None:
                continue
            try:
                inst = provider.status(view.instance_id)
            except ProviderError as exc:
                log.warning("status poll failed", extra={"worker": view.id, "error": exc.message})
                continue
            if inst.state in ("preempting", "preempted"):
                self._terminate_instance(provider, view.instance_id)
                self._close(
                    view.id,
                    "preempted",
                    f"spot machine reclaimed by {view.provider} ({inst.detail or inst.state}); "
                    "its job resumes elsewhere when the lease expires",
                )
            elif inst.final:
                self._close(view.id, inst.state, inst.detail or f"{inst.state} at the provider")
            else:
                with self.db.session() as s:
                    row = s.get_one(ComputeWorker, view.id)
                    row.spend = _spend(row, self.clock.now())
        return self.workers(active=True)

    def busy_ids(self) -> set[str]:
        """Active workers holding an unexpired job lease right now (pool ids: ``<id>-<n>``)."""
        active = [v.id for v in self.workers(active=True)]
        if not active:
            return set()
        now = self.clock.now()
        conds = [Job.lease_owner == wid for wid in active] + [
            Job.lease_owner.like(f"{wid}-%") for wid in active
        ]
        with self.db.session() as s:
            owners = s.scalars(
                select(Job.lease_owner).where(or_(*conds), Job.lease_expires_at > now)
            ).all()
        return {
            wid for wid in active for o in owners if o and (o == wid or o.startswith(wid + "-"))
        }

    def reap_idle(self, *, keep: int = 0) -> list[str]:
        """Terminate running workers idle for ``idle_terminate_s``, keeping ``keep`` warm."""
        now = self.clock.now()
        busy = self.busy_ids()
        running = [v for v in self.workers(active=True) if v.state == "running"]
        with self.db.session() as s:
            for v in running:
                if v.id in busy:
                    s.get_one(ComputeWorker, v.id).last_busy_at = now
        idle = [
            v
            for v in running
            if v.id not in busy
            and (now - (v.last_busy_at or v.launched_at)).total_seconds()
            >= self.settings.idle_terminate_s
        ]
        spare = max(0, len(running) - keep)
        # the longest-idle go first; never dip below `keep` running workers
        idle.sort(key=lambda v: v.last_busy_at or v.launched_at)
        stopped: list[str] = []
        for v in idle[:spare]:
            self.terminate(v.id, reason=f"idle for {self.settings.idle_terminate_s:.0f}s")
            stopped.append(v.id)
        return stopped

    def scale_to(self, target: int, req: GpuRequirement | None = None) -> tuple[int, int]:
        """Bring the running count towards ``target``: launch or reap idle; (launched, stopped)."""
        self.refresh()
        target = min(target, self.settings.max_workers)
        stopped = len(self.reap_idle(keep=target))
        launched = 0
        while len(self.workers(active=True)) < target:
            try:
                self.launch(req)
            except NoCapacity as exc:
                log.warning("scale-up stopped", extra={"error": exc.message})
                break
            launched += 1
        return launched, stopped

    def terminate(self, worker_id: str, *, reason: str = "stopped by request") -> WorkerView:
        with self.db.session() as s:
            row = s.get(ComputeWorker, worker_id)
            if row is None:
                raise NotFound(f"no rented worker {worker_id!r}; see `aima fleet status`")
            provider_name, instance_id, state = row.provider, row.instance_id, row.state
        if state in ACTIVE_STATES and instance_id:
            provider = self.providers.get(provider_name)
            if provider is None:
                raise ProviderError(
                    provider_name,
                    f"worker {worker_id} runs there but the provider is not configured; "
                    "configure it again to stop the machine, or stop it in its console",
                )
            provider.terminate(instance_id)
        return self._close(worker_id, "terminated", reason)

    def workers(self, *, active: bool = False) -> list[WorkerView]:
        with self.db.session() as s:
            q = select(ComputeWorker).order_by(ComputeWorker.launched_at)
            if active:
                q = q.where(ComputeWorker.state.in_(ACTIVE_STATES))
            return [WorkerView.of(r) for r in s.scalars(q)]

    def circuits(self) -> Iterator[tuple[str, str, str]]:
        for name in self.providers:
            yield name, self.breaker.state(name), self.breaker.last_error(name)

    # --- helpers --------------------------------------------------------------------------

    def _terminate_instance(self, provider: Provider, instance_id: str) -> None:
        try:
            provider.terminate(instance_id)
        except ProviderError as exc:
            log.error(
                "could not terminate a machine; stop it in the provider's console",
                extra={"provider": provider.name, "instance": instance_id, "error": exc.message},
            )

    def _close(self, wid: str, state: str, reason: str) -> WorkerView:
        now = self.clock.now()
        with self.db.session() as s:
            row = s.get_one(ComputeWorker, wid)
            if row.state in ACTIVE_STATES:
                row.spend = _spend(row, now)
                row.terminated_at = now
                row.state = state
                row.reason = reason
            return WorkerView.of(row)


def _spend(row: ComputeWorker, now: datetime) -> float:
    """Money so far: hourly price × time since launch (providers bill from the request)."""
    hours = max(0.0, (now - row.launched_at).total_seconds()) / 3600.0
    return round(row.price_per_hour * hours, 6)


def _rank(o: Offer) -> tuple[float, float, str]:
    """Cheapest first; among equal prices the more reliable, then a stable order."""
    return (o.price_per_hour, -(o.reliability or 0.0), f"{o.provider}:{o.offer_id}")


def _nothing_fits(
    req: GpuRequirement, providers: Mapping[str, Provider], breaker: CircuitBreaker
) -> str:
    if not providers:
        return (
            "no GPU provider is configured; add one under compute.providers "
            "(see docs/compute-providers.md)"
        )
    down = [f"{n} ({breaker.last_error(n)[:80]})" for n in providers if breaker.state(n) == "open"]
    what = (
        f"≥{req.min_gpu_memory_gb:g} GB GPU memory, {req.gpu_count} GPU(s)"
        + (f", types {', '.join(req.gpu_types)}" if req.gpu_types else "")
        + (f", regions {', '.join(req.regions)}" if req.regions else "")
        + (f", reliability ≥{req.min_reliability:g}" if req.min_reliability else "")
        + ("" if req.spot_ok else ", no spot")
    )
    tail = f"; unavailable now: {', '.join(down)}" if down else ""
    return f"no available offer satisfies {what}{tail}; relax the requirement or add a provider"


class CachedPrices:
    """A :class:`~aima.compute.estimate.PriceSource` over the fleet's live offers, cached briefly.

    Estimates are shown on every job submission; asking every provider each time
    would be slow and rate-limited, and prices a minute old are fine for an
    estimate. Launches never use this cache (:meth:`Fleet.launch` re-reads).
    """

    def __init__(self, fleet: Fleet, *, max_age_s: float = 60.0) -> None:
        self.fleet = fleet
        self.max_age_s = max_age_s
        self._at: datetime | None = None
        self._offers: list[Offer] = []

    def offers(self) -> list[Offer]:
        now = self.fleet.clock.now()
        if self._at is None or (now - self._at).total_seconds() >= self.max_age_s:
            self._offers = self.fleet.offers() if self.fleet.providers else []
            self._at = now
        return list(self._offers)


def build_fleet(settings: Settings, db: Database) -> Fleet:
    """The fleet the settings describe (no providers configured: an empty, harmless fleet)."""
    from aima.compute.providers import build_providers

    compute = settings.compute
    return Fleet(
        db,
        build_providers(compute),
        compute.fleet,
        price_caps={
            name: p.max_price_per_hour
            for name, p in compute.providers.items()
            if p.max_price_per_hour is not None
        },
    )
