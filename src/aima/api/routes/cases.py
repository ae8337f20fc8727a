"""Cases: the purpose a search for people runs under (purpose binding).

Opening a case, adding or removing members and closing it needs ``cases:manage`` (Admin,
Analyst); reading needs ``cases:read``, and shows only the cases the caller is a member of
(Admin: every case). Every change is audited. Guarded routes (face and voice search,
"seen before?", dossiers, exports) take the case id in the ``X-AIMA-Case`` header.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import Strict, error_responses
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.cases import LEGAL_BASES, MIN_JUSTIFICATION

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

LegalBasis = Literal[
    "consent",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
    "law_enforcement",
]
assert set(get_args(LegalBasis)) == set(LEGAL_BASES)  # one list, spelled twice for OpenAPI
CaseState = Literal["open", "closed"]
Who = Annotated[str, Field(min_length=1, max_length=64, description="username or user id")]


class CaseIn(Strict):
    title: str = Field(min_length=1, max_length=256)
    legal_basis: LegalBasis
    justification: str = Field(
        min_length=MIN_JUSTIFICATION,
        max_length=10_000,
        description="why searching for people is necessary and proportionate here",
    )
    members: list[Who] = Field(
        default_factory=list, max_length=100, description="users who may work under the case"
    )


class MemberIn(Strict):
    user: Who


class MemberOut(BaseModel):
    user_id: str
    username: str
    added_by: str | None
    created_at: datetime


class CaseOut(BaseModel):
    id: str = Field(description="send it as the X-AIMA-Case header of guarded requests")
    title: str
    legal_basis: str
    justification: str
    state: CaseState
    created_by: str | None
    created_at: datetime
    closed_at: datetime | None
    members: list[MemberOut]


@router.get("", responses=error_responses(403))
def list_cases(
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.CASES_READ),
    state: Annotated[CaseState | None, Query(description="only open / only closed")] = None,
) -> list[CaseOut]:
    """The cases the caller is a member of (Admin: every case), newest first."""
    return [CaseOut.model_validate(c) for c in runtime.cases.list(principal, state=state)]


@router.post("", status_code=201, responses=error_responses(403, 404, 409, 422))
def create_case(
    body: CaseIn, runtime: RuntimeDep, principal: Principal = Caller(Permission.CASES_MANAGE)
) -> CaseOut:
    """Open a case; its creator and ``members`` may run guarded actions under it."""
    return CaseOut.model_validate(
        runtime.cases.create(
            principal,
            title=body.title,
            legal_basis=body.legal_basis,
            justification=body.justification,
            members=body.members,
        )
    )


@router.get("/{case_id}", responses=error_responses(403, 404))
def get_case(
    case_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.CASES_READ)
) -> CaseOut:
    """One case and its members (403 for a case the caller is not a member of)."""
    return CaseOut.model_validate(runtime.cases.get(principal, case_id))


@router.post("/{case_id}/members", responses=error_responses(403, 404, 409))
def add_member(
    case_id: str,
    body: MemberIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.CASES_MANAGE),
) -> CaseOut:
    """Add a user to an open case (idempotent)."""
    return CaseOut.model_validate(runtime.cases.add_member(principal, case_id, body.user))


@router.delete("/{case_id}/members/{user}", responses=error_responses(403, 404, 409))
def remove_member(
    case_id: str,
    user: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.CASES_MANAGE),
) -> CaseOut:
    """Take a user (username or id) off an open case."""
    return CaseOut.model_validate(runtime.cases.remove_member(principal, case_id, user))


@router.post("/{case_id}/close", responses=error_responses(403, 404, 409))
def close_case(
    case_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.CASES_MANAGE)
) -> CaseOut:
    """Close the case: nothing more runs under it; it stays listed for the record."""
    return CaseOut.model_validate(runtime.cases.close(principal, case_id))
