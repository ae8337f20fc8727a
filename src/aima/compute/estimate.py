"""What a job will take before it runs: duration, device and money, per offer.

The estimate multiplies the work a job plan describes (per analyzer: media minutes or
images, and chunks) by the cost model's rates (:mod:`aima.compute.costs`), then prices
the device time:

- **on this machine** with ``AIMA_COMPUTE__CPU_PRICE_PER_HOUR`` /
  ``GPU_PRICE_PER_HOUR`` (both 0 by default: local work is free and needs no
  confirmation);
- **per rented offer** when a :class:`PriceSource` is given (the provider adapters
  implement it): the rate measured on that GPU type when there is history, else the
  local rate (no speed-up assumed, so the money shown is an upper bound).

When offers are available the cheapest one is the device the estimate is for;
otherwise this machine. Device time is billed per chunk in
``AIMA_COMPUTE__BILLING_INCREMENT_S`` increments, as the runner charges it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from aima.compute.costs import CostModel, Pricing, Unit
from aima.core.settings import ComputeSettings


class Offer(Protocol):
    """One rentable GPU machine at a price (the provider adapters' offers satisfy this)."""

    @property
    def provider(self) -> str: ...
    @property
    def gpu_type(self) -> str: ...
    @property
    def gpu_memory_gb(self) -> float: ...
    @property
    def price_per_hour(self) -> float: ...
    @property
    def region(self) -> str | None: ...
    @property
    def available(self) -> bool: ...


class PriceSource(Protocol):
    """Live offers with prices; implemented by the GPU provider adapters."""

    def offers(self) -> Sequence[Offer]: ...


@dataclass(frozen=True, slots=True)
class Work:
    """One analyzer's share of a job: what the plan says it will process."""

    analyzer: str
    version: str
    unit: Unit
    units: float  # media minutes or images
    chunks: int


@dataclass(frozen=True, slots=True)
class AnalyzerEstimate:
    analyzer: str
    unit: str
    units: float
    chunks: int
    seconds: float  # device seconds on the estimate's device
    basis: str  # prior | measured
    samples: int  # measured chunks behind the rate
    amount: float


@dataclass(frozen=True, slots=True)
class OfferEstimate:
    provider: str
    gpu_type: str
    gpu_memory_gb: float
    region: str | None
    price_per_hour: float
    available: bool
    duration_s: float
    amount: float


@dataclass(frozen=True, slots=True)
class Estimate:
    device: str  # device class, or provider:gpu_type for a rented offer
    duration_s: float
    amount: float
    currency: str
    analyzers: list[AnalyzerEstimate]
    offers: list[OfferEstimate] = field(default_factory=list)
    confirmation_required: bool = False
    warnings: list[str] = field(default_factory=list)
    budgets: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_budget(self, warnings: list[str], budgets: list[dict[str, object]]) -> Estimate:
        return Estimate(
            self.device,
            self.duration_s,
            self.amount,
            self.currency,
            self.analyzers,
            self.offers,
            self.confirmation_required,
            [*self.warnings, *warnings],
            budgets,
        )


class Estimator:
    def __init__(
        self,
        costs: CostModel,
        settings: ComputeSettings,
        prices: PriceSource | None = None,
    ) -> None:
        self.costs = costs
        self.settings = settings
        self.prices = prices

    def estimate(self, work: Sequence[Work]) -> Estimate:
        local = Pricing.local(self.settings)
        analyzers = self._priced(work, local)
        device = local.device_class
        duration = sum(a.seconds for a in analyzers)
        amount = sum(a.amount for a in analyzers)
        offers = self._offers(work)
        usable = [o for o in offers if o.available]
        if usable:
            best = usable[0]
            device = f"{best.provider}:{best.gpu_type}"
            gpu = Pricing(
                f"cuda:{best.gpu_type}",
                best.price_per_hour,
                self.settings.billing_increment_s,
                self.settings.currency,
            )
            analyzers = self._priced(work, gpu)
            duration, amount = best.duration_s, best.amount
        return Estimate(
            device=device,
            duration_s=round(duration, 3),
            amount=round(amount, 6),
            currency=self.settings.currency,
            analyzers=analyzers,
            offers=offers,
            confirmation_required=amount > self.settings.confirm_above + 1e-12,
        )

    def _priced(self, work: Sequence[Work], pricing: Pricing) -> list[AnalyzerEstimate]:
        out: list[AnalyzerEstimate] = []
        for unit in ("media_minute", "image"):
            items = [w for w in work if w.unit == unit]
            if not items:
                continue
            rates = self.costs.rates(
                [(w.analyzer, w.version) for w in items], pricing.device_class, unit
            )
            for w in items:
                r = rates[w.analyzer]
                seconds = r.seconds_per_unit * w.units
                per_chunk = seconds / w.chunks if w.chunks else 0.0
                money = pricing.money(per_chunk) * w.chunks if w.chunks else 0.0
                out.append(
                    AnalyzerEstimate(
                        w.analyzer,
                        unit,
                        round(w.units, 6),
                        w.chunks,
                        round(seconds, 3),
                        r.basis,
                        r.samples,
                        round(money, 6),
                    )
                )
        order = {w.analyzer: i for i, w in enumerate(work)}
        return sorted(out, key=lambda a: order[a.analyzer])

    def _offers(self, work: Sequence[Work]) -> list[OfferEstimate]:
        if self.prices is None:
            return []
        out: list[OfferEstimate] = []
        for offer in self.prices.offers():
            pricing = Pricing(
                f"cuda:{offer.gpu_type}",
                offer.price_per_hour,
                self.settings.billing_increment_s,
                self.settings.currency,
            )
            priced = self._priced(work, pricing)
            out.append(
                OfferEstimate(
                    provider=offer.provider,
                    gpu_type=offer.gpu_type,
                    gpu_memory_gb=offer.gpu_memory_gb,
                    region=offer.region,
                    price_per_hour=offer.price_per_hour,
                    available=offer.available,
                    duration_s=round(sum(a.seconds for a in priced), 3),
                    amount=round(sum(a.amount for a in priced), 6),
                )
            )
        return sorted(out, key=lambda o: (not o.available, o.amount, o.provider))
