"""Append-only, hash-chained audit trail.

Each event's hash covers its content and the previous event's hash, so editing
or deleting a row breaks the chain at that point (``verify_chain``). Appends are
serialised: SQLite's write lock does it; on PostgreSQL a transaction-level
advisory lock does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.store.models import AuditEvent

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x41494D41  # "AIMA"


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "ts": event.ts.isoformat(),
            "actor": event.actor,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "outcome": event.outcome,
            "details": event.details,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str | None = None,
    object_id: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event inside the caller's transaction (it commits with the work it describes)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev = last or GENESIS
    event = AuditEvent(
        ts=utcnow().replace(microsecond=0),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        details=details or {},
        prev_hash=prev,
    )
    event.hash = _digest(prev, event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    ok: bool
    first_bad_id: int | None = None


def verify_chain(session: Session) -> ChainReport:
    prev = GENESIS
    count = 0
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        count += 1
        if event.prev_hash != prev or _digest(prev, event) != event.hash:
            return ChainReport(count, ok=False, first_bad_id=event.id)
        prev = event.hash
    return ChainReport(count, ok=True)
