"""Request and response bodies for cost estimates, confirmation and budgets."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aima.compute.estimate import Estimate
from aima.store.models import AnalyzerCost, Budget


class _Strict(BaseModel):  # schemas.py imports this module: no import back
    model_config = ConfigDict(extra="forbid")


class AnalyzerEstimateOut(BaseModel):
    analyzer: str
    unit: str = Field(description="media_minute | image")
    units: float
    chunks: int
    seconds: float = Field(description="device seconds on the estimate's device")
    basis: str = Field(description="prior (documented table) | measured (blended with it)")
    samples: int = Field(description="measured chunks behind the rate")
    amount: float


class OfferEstimateOut(BaseModel):
    provider: str
    gpu_type: str
    gpu_memory_gb: float
    region: str | None
    price_per_hour: float
    available: bool
    duration_s: float
    amount: float


class BudgetStatusOut(BaseModel):
    id: str
    scope: str
    subject: str
    period: str
    soft_limit: float
    hard_limit: float
    spent: float


class EstimateOut(BaseModel):
    device: str = Field(description="device class here (cpu, cuda:<gpu>) or provider:gpu_type")
    duration_s: float = Field(description="estimated device seconds")
    amount: float = Field(description="estimated money; 0 on free local hardware")
    currency: str
    confirmation_required: bool = Field(description="above AIMA_COMPUTE__CONFIRM_ABOVE")
    analyzers: list[AnalyzerEstimateOut]
    offers: list[OfferEstimateOut] = Field(description="rented GPU offers, cheapest first")
    warnings: list[str] = Field(description="soft budget limits reached; a hard refusal")
    budgets: list[BudgetStatusOut] = Field(description="budgets that apply, with spend")

    @classmethod
    def of(cls, e: Estimate | dict[str, Any]) -> EstimateOut | None:
        """From an estimate, or from the one stored with a job (None for jobs from before)."""
        data = e.to_dict() if isinstance(e, Estimate) else e
        return cls.model_validate(data) if data else None


class BudgetIn(_Strict):
    scope: Literal["user", "project"]
    subject: str = Field(min_length=1, max_length=64, description="user id or project name")
    period: Literal["month", "total"] = "month"
    soft_limit: float = Field(ge=0)
    hard_limit: float = Field(ge=0)
    currency: str | None = Field(default=None, max_length=8)

    @model_validator(mode="after")
    def _ordered(self) -> BudgetIn:
        if self.soft_limit > self.hard_limit:
            raise ValueError("soft_limit must not be above hard_limit")
        return self


class BudgetOut(BaseModel):
    id: str
    scope: str
    subject: str
    period: str
    soft_limit: float
    hard_limit: float
    currency: str
    spent: float = Field(description="actual spend in the current period")
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, b: Budget, spent: float) -> BudgetOut:
        return cls(
            id=b.id,
            scope=b.scope,
            subject=b.subject,
            period=b.period,
            soft_limit=b.soft_limit,
            hard_limit=b.hard_limit,
            currency=b.currency,
            spent=round(spent, 6),
            created_by=b.created_by,
            created_at=b.created_at,
        )


class AnalyzerCostOut(BaseModel):
    analyzer: str
    analyzer_version: str
    device_class: str
    unit: str
    units: float
    cpu_s: float
    gpu_s: float
    samples: int
    seconds_per_unit: float

    @classmethod
    def of(cls, r: AnalyzerCost) -> AnalyzerCostOut:
        seconds = r.gpu_s if r.device_class.startswith("cuda") else r.cpu_s
        return cls(
            analyzer=r.analyzer,
            analyzer_version=r.analyzer_version,
            device_class=r.device_class,
            unit=r.unit,
            units=r.units,
            cpu_s=r.cpu_s,
            gpu_s=r.gpu_s,
            samples=r.samples,
            seconds_per_unit=round(seconds / r.units, 6) if r.units else 0.0,
        )
