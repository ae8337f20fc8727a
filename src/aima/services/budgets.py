"""Budget use cases: who may set spending caps (``budgets:manage``), audited, and the
measured cost model shown next to them."""

from __future__ import annotations

import builtins

from aima.compute.budgets import BudgetBook
from aima.compute.costs import CostModel
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.db import Database
from aima.store.models import AnalyzerCost, Budget


class BudgetService:
    def __init__(self, db: Database, book: BudgetBook, costs: CostModel) -> None:
        self.db = db
        self.book = book
        self.costs = costs

    def list(self, principal: Principal) -> builtins.list[tuple[Budget, float]]:
        """Every budget with its current spend."""
        principal.require(Permission.BUDGETS_MANAGE)
        return [(b, self.book.spend(b.scope, b.subject, b.period)) for b in self.book.list()]

    def put(
        self,
        principal: Principal,
        scope: str,
        subject: str,
        *,
        period: str,
        soft_limit: float,
        hard_limit: float,
        currency: str | None = None,
    ) -> tuple[Budget, float]:
        principal.require(Permission.BUDGETS_MANAGE)
        budget = self.book.put(
            scope,
            subject,
            period=period,
            soft_limit=soft_limit,
            hard_limit=hard_limit,
            created_by=principal.actor,
            currency=currency,
        )
        self._audit(
            principal,
            "budget.set",
            budget.id,
            {
                "scope": scope,
                "subject": subject,
                "period": period,
                "soft_limit": soft_limit,
                "hard_limit": hard_limit,
            },
        )
        return budget, self.book.spend(budget.scope, budget.subject, budget.period)

    def delete(self, principal: Principal, budget_id: str) -> Budget:
        principal.require(Permission.BUDGETS_MANAGE)
        budget = self.book.delete(budget_id)
        self._audit(
            principal,
            "budget.delete",
            budget_id,
            {"scope": budget.scope, "subject": budget.subject},
        )
        return budget

    def cost_model(self, principal: Principal) -> builtins.list[AnalyzerCost]:
        principal.require(Permission.BUDGETS_MANAGE)
        return self.costs.rows()

    def _audit(
        self, principal: Principal, action: str, budget_id: str, details: dict[str, object]
    ) -> None:
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action=action,
                object_type="budget",
                object_id=budget_id,
                details=details,
            )
