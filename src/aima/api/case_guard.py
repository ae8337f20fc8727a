"""Purpose binding for routes: ``case: CaseUse = CaseFor("face_search")``.

The caller names the case an action runs under in the ``X-AIMA-Case`` header (or the
``case`` query parameter, for links a browser follows). With
``AIMA_PRIVACY__CASES_REQUIRED`` on (the default) the case is mandatory and must be open
and have the caller as a member (Admins: any open case); with it off a case is optional
but still checked when given. The route hands the :class:`CaseUse` to the service, whose
audit event then names the case and the purpose.

Declare the guard *after* the route's ``Caller(...)`` so a role without the permission is
refused with 403 before the case is looked at, and add ``responses=CASE_RESPONSES`` (merged
with the route's own) so the OpenAPI document lists the refusals.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Query

from aima.api.deps import RuntimeDep, current_principal
from aima.api.schemas import ErrorOut
from aima.services.access import Principal
from aima.services.cases import CASE_HEADER, CaseUse

__all__ = ["CASE_HEADER", "CASE_RESPONSES", "CaseFor", "CaseUse"]

CASE_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorOut,
        "description": f"no case: this action needs an open case in the {CASE_HEADER} header "
        "(or ?case=) when AIMA_PRIVACY__CASES_REQUIRED is on",
    },
    403: {
        "model": ErrorOut,
        "description": "the role lacks the permission, or the caller is not a member of the case",
    },
    404: {"model": ErrorOut, "description": "the case (or the object) was not found"},
    409: {"model": ErrorOut, "description": "the case is closed: nothing more may run under it"},
}

CaseHeader = Annotated[
    str | None,
    Header(
        alias=CASE_HEADER,
        max_length=64,
        description="the id of the open case this action runs under (purpose binding)",
    ),
]
CaseQuery = Annotated[
    str | None,
    Query(
        alias="case",
        max_length=64,
        description=f"the case id, for clients that cannot send the {CASE_HEADER} header",
    ),
]


def CaseFor(purpose: str) -> Any:
    """A dependency resolving to the :class:`CaseUse` the request runs under, or refusing it.

    ``purpose`` names the action in the audit trail and in error messages, e.g.
    ``face_search``, ``dossier``, ``erasure``, ``subject_export``.
    """

    def dependency(
        runtime: RuntimeDep,
        principal: Annotated[Principal, Depends(current_principal)],
        header: CaseHeader = None,
        query: CaseQuery = None,
    ) -> CaseUse:
        return runtime.cases.authorize(principal, header or query, purpose)

    dependency.__name__ = f"case_for_{purpose}"
    return Depends(dependency)


def with_case_responses(
    responses: dict[int | str, dict[str, Any]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The route's own ``responses=`` plus the case refusals (the route's entries win)."""
    return {**CASE_RESPONSES, **(responses or {})}
