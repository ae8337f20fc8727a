"""Append-only audit trail that an insider with database access cannot rewrite.

Three locks, each against a different attack:

* **Hash chain** — each row's sha256 covers its content and the previous row's hash:
  editing or deleting a row breaks the chain at that point.
* **HMAC with a key outside the database** (:mod:`aima.security.audit_keys`) over
  ``(id, seq, hash)``: re-chaining after an edit, appending a forged row with a correct
  sha256, renumbering ids or reordering needs the key, which the database does not hold.
  ``seq`` is gap-free (1, 2, 3, ...) and assigned under the append lock, so a deleted row
  leaves a gap even where database ids may skip (sequences do on rollback).
* **Signed anchors outside the database** (:mod:`aima.security.audit_anchor`): a chain head
  (seq, hash) exported to a file or an S3 object-lock bucket; verify checks the chain still
  contains every anchored head, which catches truncating the tail or deleting every row.

Appends are serialised: SQLite's write lock does it; on PostgreSQL a transaction-level
advisory lock does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import ConfigError
from aima.security.audit_keys import AuditKeyring
from aima.store.models import AuditEvent

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x41494D41  # "AIMA"
KEYRING = "audit_keyring"  # the key in ``session.info`` (set by the composition root)


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


def _mac_message(event_id: int, seq: int, event_hash: str) -> bytes:
    return f"aima-audit:{event_id}:{seq}:{event_hash}".encode()


def keyring_of(session: Session) -> AuditKeyring:
    keyring = session.info.get(KEYRING)
    if not isinstance(keyring, AuditKeyring):
        raise ConfigError(
            "this database handle has no audit keyring (build it with aima.runtime.build_runtime)"
        )
    return keyring


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
    keyring = keyring_of(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(AuditEvent.hash, AuditEvent.seq).order_by(AuditEvent.id.desc()).limit(1)
    ).one_or_none()
    prev, prev_seq = (last[0], last[1] or 0) if last else (GENESIS, 0)
    event = AuditEvent(
        ts=utcnow().replace(microsecond=0),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        details=details or {},
        prev_hash=prev,
        seq=prev_seq + 1,
        key_id=keyring.current,
    )
    event.hash = _digest(prev, event)
    session.add(event)
    session.flush()  # the id is known now; the MAC covers it
    event.mac = keyring.mac(keyring.current, _mac_message(event.id, prev_seq + 1, event.hash))
    session.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(mac=event.mac))
    return event


@dataclass(frozen=True, slots=True)
class Head:
    """A chain head: what an anchor records."""

    seq: int
    hash: str
    events: int


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    ok: bool
    first_bad_id: int | None = None
    problem: str | None = None  # what is wrong, in words
    first_bad_seq: int | None = None
    legacy: int = 0  # rows from before the key existed (hash-chained, not authenticated)
    anchored_seq: int | None = None  # the newest anchor the chain was checked against
    head: Head | None = None


def _bad(events: int, row: AuditEvent | None, problem: str, **kw: Any) -> ChainReport:
    return ChainReport(
        events,
        ok=False,
        first_bad_id=row.id if row is not None else None,
        first_bad_seq=row.seq if row is not None else kw.pop("seq", None),
        problem=problem,
        **kw,
    )


def verify_chain(
    session: Session, keyring: AuditKeyring | None = None, anchors: Sequence[Head] = ()
) -> ChainReport:
    """Check every row in chain order, then that the chain still holds every anchored head.

    The first row that fails any check is reported (the edited one, not a later one).
    """
    keyring = keyring or keyring_of(session)
    rows = list(
        session.execute(select(AuditEvent).order_by(AuditEvent.seq, AuditEvent.id)).scalars()
    )
    prev, last_id, legacy, authenticated = GENESIS, 0, 0, False
    for expected, row in enumerate(rows, start=1):
        n = len(rows)
        if row.seq is None:
            return _bad(n, row, "an event without a sequence number (inserted by hand?)")
        if row.seq != expected:
            what = "missing (deleted)" if row.seq > expected else "duplicated"
            return _bad(n, row, f"event #{expected} is {what}: the next one found is #{row.seq}")
        if row.id <= last_id:
            return _bad(n, row, "events are out of order (ids renumbered or reordered)")
        if row.prev_hash != prev:
            return _bad(n, row, "the link to the previous event is broken (one was removed?)")
        if _digest(prev, row) != row.hash:
            return _bad(n, row, "the event's content does not match its hash (edited)")
        if row.mac is None:
            if authenticated:
                return _bad(n, row, "an unauthenticated event after authenticated ones (forged)")
            legacy += 1
        else:
            want = keyring.mac(row.key_id or "", _mac_message(row.id, row.seq, row.hash))
            if want is None:
                return _bad(n, row, f"signed with key {row.key_id!r}, which the keyring lacks")
            if want != row.mac:
                return _bad(n, row, "the event's authentication code is wrong (forged/re-chained)")
            authenticated = True
        prev, last_id = row.hash, row.id
    n = len(rows)
    head = Head(rows[-1].seq or 0, rows[-1].hash, n) if rows else None
    by_seq = {r.seq: r for r in rows}
    newest = max(anchors, key=lambda a: a.seq, default=None)
    for anchor in sorted(anchors, key=lambda a: a.seq):
        anchored = by_seq.get(anchor.seq)
        if anchored is None:
            return _bad(
                n,
                None,
                f"an anchor records event #{anchor.seq} but the chain ends at #{n}: "
                "events were removed from the end",
                seq=n + 1,
                legacy=legacy,
                anchored_seq=anchor.seq,
                head=head,
            )
        if anchored.hash != anchor.hash:
            return _bad(
                n,
                anchored,
                f"event #{anchor.seq} differs from the anchored one (the chain was rewritten)",
                legacy=legacy,
                anchored_seq=anchor.seq,
                head=head,
            )
    return ChainReport(
        n,
        ok=True,
        legacy=legacy,
        anchored_seq=newest.seq if newest else None,
        head=head,
    )


def head(session: Session) -> Head | None:
    row = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq.desc(), AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    count = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    return Head(row.seq or 0, row.hash, int(count))
