"""Per-user quotas: an Admin's overrides (``quotas:manage``) and every user's own usage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from aima.api.deps import Caller, RuntimeDep, authenticated
from aima.api.schemas import error_responses
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.quotas import QuotaReport

router = APIRouter(prefix="/api/v1", tags=["quotas"])


class QuotaLimitsOut(BaseModel):
    """The limits in force (0: unlimited)."""

    uploads_per_day: int
    bytes_per_day: int
    gpu_seconds_per_month: float
    money_per_month: float
    requests_per_minute: int


class QuotaUsageOut(BaseModel):
    uploads_today: int = Field(description="uploads since 00:00 UTC (new files and duplicates)")
    bytes_today: int
    gpu_seconds_month: float = Field(
        description="GPU seconds of jobs created this month (unfinished jobs: their estimate)"
    )
    money_month: float = Field(description="spend of jobs created this month")
    day_resets_at: datetime
    month_resets_at: datetime


class QuotaOut(BaseModel):
    username: str
    user_id: str
    limits: QuotaLimitsOut
    overridden: list[str] = Field(description="limits an Admin set for this user")
    usage: QuotaUsageOut
    remaining: dict[str, float | None] = Field(description="per quota; null: unlimited")
    currency: str
    updated_by: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, r: QuotaReport) -> QuotaOut:
        lim, use = r.limits, r.usage
        return cls(
            username=r.username,
            user_id=r.user_id,
            limits=QuotaLimitsOut(
                uploads_per_day=lim.uploads_per_day,
                bytes_per_day=lim.bytes_per_day,
                gpu_seconds_per_month=lim.gpu_seconds_per_month,
                money_per_month=lim.money_per_month,
                requests_per_minute=lim.requests_per_minute,
            ),
            overridden=list(lim.overridden),
            usage=QuotaUsageOut(
                uploads_today=use.uploads_today,
                bytes_today=use.bytes_today,
                gpu_seconds_month=use.gpu_seconds_month,
                money_month=use.money_month,
                day_resets_at=use.day_resets_at,
                month_resets_at=use.month_resets_at,
            ),
            remaining=dict(r.remaining),
            currency=r.currency,
            updated_by=r.updated_by,
            updated_at=r.updated_at,
        )


class QuotaIn(BaseModel):
    """Every override of one user: null (or absent) = the server default, 0 = unlimited."""

    model_config = ConfigDict(extra="forbid")

    uploads_per_day: int | None = Field(default=None, ge=0)
    bytes_per_day: int | None = Field(default=None, ge=0)
    gpu_seconds_per_month: float | None = Field(default=None, ge=0)
    money_per_month: float | None = Field(default=None, ge=0)
    requests_per_minute: int | None = Field(default=None, ge=0)


@router.get("/users/{username}/quota", responses=error_responses(401, 403, 404))
def get_quota(
    username: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.QUOTAS_MANAGE)
) -> QuotaOut:
    """A user's limits (defaults merged with overrides), usage and when each resets."""
    return QuotaOut.of(runtime.quotas.report(principal, username))


@router.put("/users/{username}/quota", responses=error_responses(401, 403, 404, 422))
def put_quota(
    username: str,
    body: QuotaIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.QUOTAS_MANAGE),
) -> QuotaOut:
    """Replace a user's overrides (audited). The request limit applies within 30 s on every
    API process (at once on this one); upload and job quotas at the next upload or job."""
    return QuotaOut.of(runtime.quotas.set(principal, username, body.model_dump()))


@router.get("/me/quota", responses=error_responses(401))
def my_quota(
    runtime: RuntimeDep, principal: Annotated[Principal, Depends(authenticated)]
) -> QuotaOut:
    """The caller's own limits, usage and resets."""
    return QuotaOut.of(runtime.quotas.report(principal, principal.username))
