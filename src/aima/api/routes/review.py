"""The review queue of flagged findings (restraints): list, evidence, confirm, dismiss.

Reading needs ``review:read`` (Admin, Analyst, Auditor); deciding needs ``review:decide``
(Admin, Analyst). Dismissing requires a note; every decision is audited by the service
(``aima.services.review``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import Strict
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.review import MAX_NOTE, ReviewView

router = APIRouter(prefix="/api/v1/review", tags=["review"])

State = Literal["unreviewed", "confirmed", "dismissed"]


class DecisionIn(Strict):
    note: Annotated[str, Field(max_length=MAX_NOTE)] | None = Field(
        default=None, description="optional to confirm; required to dismiss"
    )


class ReviewItemOut(BaseModel):
    id: str
    kind: str
    label: str
    media_id: str
    result_id: str
    ref: str
    t: float
    box: list[float] | None
    evidence: str | None
    confidence: float = Field(description="calibrated")
    raw_confidence: float | None = Field(description="as the model said")
    details: dict[str, Any]
    state: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime

    @classmethod
    def of(cls, view: ReviewView) -> ReviewItemOut:
        return cls(**asdict(view))


@router.get("")
def list_items(
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.REVIEW_READ),
    state: State | None = None,
    media_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[ReviewItemOut]:
    """Flagged findings, oldest first; ``state=unreviewed`` is the work queue."""
    items = runtime.review.items(
        principal, state=state, media_id=media_id, limit=limit, offset=offset
    )
    return [ReviewItemOut.of(v) for v in items]


@router.get("/{item_id}")
def get_item(
    item_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.REVIEW_READ)
) -> ReviewItemOut:
    return ReviewItemOut.of(runtime.review.get(principal, item_id))


@router.get("/{item_id}/evidence", response_class=Response)
def evidence(
    item_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.REVIEW_READ)
) -> Response:
    """The evidence frame (JPEG) the flag was raised on; each read is audited."""
    data = runtime.review.evidence(principal, item_id)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/{item_id}/confirm")
def confirm(
    item_id: str,
    body: DecisionIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.REVIEW_DECIDE),
) -> ReviewItemOut:
    """It is what the model said: it now counts (dossiers show confirmed restraints)."""
    return ReviewItemOut.of(runtime.review.decide(principal, item_id, "confirmed", body.note))


@router.post("/{item_id}/dismiss")
def dismiss(
    item_id: str,
    body: DecisionIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.REVIEW_DECIDE),
) -> ReviewItemOut:
    """It is not (the note, required, says what it is instead)."""
    return ReviewItemOut.of(runtime.review.decide(principal, item_id, "dismissed", body.note))
