from __future__ import annotations

from fastapi import APIRouter

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import ResultOut
from aima.security.permissions import Permission
from aima.services.access import Principal

router = APIRouter(prefix="/api/v1/results", tags=["results"])


@router.post("/{result_id}/accept")
def accept(
    result_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.RESULTS_REVIEW)
) -> ResultOut:
    """Use this result (e.g. of a new analyzer version) in the timeline instead of the current one."""
    return ResultOut.of(runtime.timelines.accept(principal, result_id))
