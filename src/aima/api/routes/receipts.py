"""Erasure receipts (Auditor, Admin): read one and check its signature."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from aima.api.deps import Caller, RuntimeDep
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.receipts import ReceiptService

router = APIRouter(prefix="/api/v1/receipts", tags=["admin"])


class ReceiptOut(BaseModel):
    receipt: dict[str, Any] = Field(description="the signed receipt document, as issued")
    valid: bool = Field(description="the signature (and the stored columns) check out")
    problem: str | None = Field(description="why it does not verify; null when valid")


@router.get("/{receipt_id}")
def get_receipt(
    receipt_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.AUDIT_READ)
) -> ReceiptOut:
    """A stored erasure receipt with the verdict of its signature check."""
    return ReceiptOut.model_validate(ReceiptService(runtime.db).get(principal, receipt_id))
