"""Budgets (spending caps per user and per project) and the measured cost model: Admin."""

from __future__ import annotations

from fastapi import APIRouter, Response

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import error_responses
from aima.api.schemas_compute import AnalyzerCostOut, BudgetIn, BudgetOut
from aima.security.permissions import Permission
from aima.services.access import Principal

router = APIRouter(prefix="/api/v1/budgets", tags=["budgets"])


@router.get("", responses=error_responses(401, 403))
def list_budgets(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.BUDGETS_MANAGE)
) -> list[BudgetOut]:
    """Every budget with what was spent in its current period (month: since the 1st, UTC)."""
    return [BudgetOut.of(b, spent) for b, spent in runtime.budgets.list(principal)]


@router.put("", responses=error_responses(401, 403, 422))
def put_budget(
    body: BudgetIn, runtime: RuntimeDep, principal: Principal = Caller(Permission.BUDGETS_MANAGE)
) -> BudgetOut:
    """Create or change the budget of (scope, subject, period). Soft limit: a warning in
    estimates and jobs; hard limit: jobs refused before they start and stopped at the next
    chunk boundary once actual spend passes it."""
    budget, spent = runtime.budgets.put(
        principal,
        body.scope,
        body.subject,
        period=body.period,
        soft_limit=body.soft_limit,
        hard_limit=body.hard_limit,
        currency=body.currency,
    )
    return BudgetOut.of(budget, spent)


@router.delete("/{budget_id}", status_code=204, responses=error_responses(401, 403, 404))
def delete_budget(
    budget_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.BUDGETS_MANAGE)
) -> Response:
    runtime.budgets.delete(principal, budget_id)
    return Response(status_code=204)


@router.get("/costs", responses=error_responses(401, 403))
def cost_model(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.BUDGETS_MANAGE)
) -> list[AnalyzerCostOut]:
    """The measured cost model: device seconds per media minute / image, per analyzer
    version and device class, learned from finished chunks."""
    return [AnalyzerCostOut.of(r) for r in runtime.budgets.cost_model(principal)]
