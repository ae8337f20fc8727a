"""Usage rows (``llm_calls``) and totals per job or subject.

One row per chat-completions request the client made (a structured call that needed a
repair is two rows): tokens, latency, cost when prices are configured, outcome
(``ok`` | ``repaired`` | ``invalid`` | ``error``), attempts and the error text.
Prompts and answers are never stored — they may name people — only the prompt's id
and version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sqlalchemy import ColumnElement, func, select

from aima.core.settings import EndpointSettings
from aima.llm.prompts import CallContext, Prompt
from aima.store.db import Database
from aima.store.models import LlmCall

log = logging.getLogger(__name__)
Status = Literal["ok", "repaired", "invalid", "error"]


@dataclass(frozen=True)
class CallRecord:
    endpoint: str
    model: str
    prompt: Prompt
    ctx: CallContext
    status: Status
    attempts: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost: float | None = None
    error: str | None = None


class UsageRecorder(Protocol):
    def record(self, call: CallRecord) -> None: ...


def cost_of(settings: EndpointSettings, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Money for one request from the configured prices; None when no price is set."""
    pp, pc = settings.price_prompt_per_1k, settings.price_completion_per_1k
    if pp is None and pc is None:
        return None
    return (prompt_tokens * (pp or 0.0) + completion_tokens * (pc or 0.0)) / 1000.0


class DbUsageRecorder:
    """Writes each call as an ``LlmCall`` row in its own short transaction.

    A failure to record is logged, not raised: the answer the caller paid for is
    still returned (and the failure is visible in the logs).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, call: CallRecord) -> None:
        row = LlmCall(
            endpoint=call.endpoint[:16],
            model=call.model[:256],
            prompt_id=call.prompt.id,
            prompt_version=call.prompt.version,
            job_id=_cut(call.ctx.job_id, 40),
            media_id=_cut(call.ctx.media_id, 40),
            subject=_cut(call.ctx.subject, 64),
            status=call.status,
            attempts=call.attempts,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            latency_s=call.latency_s,
            cost=call.cost,
            error=call.error[:2000] if call.error else None,
        )
        try:
            with self.db.session() as s:
                s.add(row)
        except Exception:
            log.exception(
                "could not record an LLM call",
                extra={
                    "endpoint": call.endpoint,
                    "prompt": call.prompt.ref,
                    "job_id": call.ctx.job_id,
                },
            )


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


@dataclass(frozen=True)
class UsageTotals:
    calls: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost: float | None = None  # None: no call had a price
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def job_usage(db: Database, job_id: str) -> UsageTotals:
    """Everything the language models cost one job."""
    return _totals(db, LlmCall.job_id == job_id)


def subject_usage(db: Database, subject: str) -> UsageTotals:
    """Everything spent on one subject (``person:<id>`` / ``media:<id>``)."""
    return _totals(db, LlmCall.subject == subject)


def _totals(db: Database, where: ColumnElement[bool]) -> UsageTotals:
    with db.session() as s:
        rows = s.execute(
            select(
                LlmCall.status,
                func.count(),
                func.coalesce(func.sum(LlmCall.attempts), 0),
                func.coalesce(func.sum(LlmCall.prompt_tokens), 0),
                func.coalesce(func.sum(LlmCall.completion_tokens), 0),
                func.coalesce(func.sum(LlmCall.latency_s), 0.0),
                func.sum(LlmCall.cost),
            )
            .where(where)
            .group_by(LlmCall.status)
        ).all()
    costs = [float(r[6]) for r in rows if r[6] is not None]
    return UsageTotals(
        calls=sum(int(r[1]) for r in rows),
        attempts=sum(int(r[2]) for r in rows),
        prompt_tokens=sum(int(r[3]) for r in rows),
        completion_tokens=sum(int(r[4]) for r in rows),
        latency_s=sum(float(r[5]) for r in rows),
        cost=sum(costs) if costs else None,
        by_status={str(r[0]): int(r[1]) for r in rows},
    )
