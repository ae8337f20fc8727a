"""The people graph: who appears with whom (``GET /api/v1/persons/{id}/co-appearances``)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from aima.api.deps import Caller, RuntimeDep
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.people_graph import PeopleGraphService

router = APIRouter(prefix="/api/v1/persons", tags=["persons"])


class CoAppearanceOut(BaseModel):
    person_id: str
    name: str | None
    media: int = Field(description="media both appear in (face or voice)")
    media_ids: list[str]
    together_s: float = Field(description="seconds both faces are on screen at the same time")
    conversations: int = Field(description="media where both speak (voice observations)")


class CoAppearancesOut(BaseModel):
    person_id: str = Field(description="the live person (a merged id answers with its target)")
    name: str | None
    items: list[CoAppearanceOut] = Field(description="most shared media first")


@router.get("/{person_id}/co-appearances")
def co_appearances(
    person_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.PERSONS_READ)
) -> CoAppearancesOut:
    """Other persons in the same media as this one: shared media, time together, conversations."""
    out = PeopleGraphService(runtime.db).co_appearances(principal, person_id)
    return CoAppearancesOut.model_validate(out)
