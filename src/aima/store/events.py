"""Domain events: written to an outbox in the transaction of the change they report.

A writer calls :func:`emit` with its own session, inside the transaction that changes
the state (a job reaching a terminal state, a flag queued for review, observations
joining a person). The event commits with the change or not at all, so a crash can
neither lose an event nor invent one. Publishers (webhooks, AMQP) read the outbox past
their cursor and hand events on, at least once, each carrying its outbox id so a
receiver can drop duplicates.

Outbox ids must become visible in id order, or a reader could move its cursor past a
row that commits later. Emitters are therefore serialised from their insert to their
commit (a PostgreSQL transaction-scoped advisory lock; SQLite writers already are, every
transaction beginning IMMEDIATE). Emit last in a transaction to hold the lock briefly.

Payloads carry ids, states and counts only -- never names of people, transcripts or
file names: they leave the system for third parties. :data:`SCHEMAS` documents each
kind's payload and version (see docs/events.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import InvalidInput
from aima.store.db import Database
from aima.store.models import AnalysisResult, EventCursor, EventOutbox, Job, Media, ReviewItem

_PG_EVENTS_LOCK = 0x41494D41_4556  # "AIMA" "EV": serialises outbox writers

#: kind -> (schema version, payload fields). The version changes when a field changes
#: meaning or disappears; adding a field keeps it.
SCHEMAS: dict[str, tuple[int, tuple[str, ...]]] = {
    "job.succeeded": (1, ("job_id", "media_id", "state", "analyzers", "attempts", "dead_letter")),
    "job.partial": (1, ("job_id", "media_id", "state", "analyzers", "attempts", "dead_letter")),
    "job.failed": (1, ("job_id", "media_id", "state", "analyzers", "attempts", "dead_letter")),
    "job.cancelled": (1, ("job_id", "media_id", "state", "analyzers", "attempts", "dead_letter")),
    "flag.raised": (1, ("flag_id", "kind", "label", "media_id", "result_id", "t", "confidence")),
    "person.matched": (1, ("person_id", "media_id", "observations", "modalities", "new_person")),
}
KINDS: tuple[str, ...] = tuple(SCHEMAS)


def emit(
    session: Session,
    kind: str,
    *,
    subject: str | None = None,
    owner_id: str | None = None,
    project: str | None = None,
    payload: dict[str, Any],
) -> None:
    """Record one event in ``session``'s transaction (it commits or rolls back with it).

    ``owner_id``: the user the event concerns (a job's submitter, a media's uploader);
    publishers deliver it to them and to roles that see every object of its kind.
    """
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise InvalidInput(f"unknown event kind {kind!r}; known: {', '.join(KINDS)}")
    version, fields = schema
    unknown = sorted(set(payload) - set(fields))
    if unknown:  # a new field must be documented first: payloads leave the system
        raise InvalidInput(f"event {kind}: undocumented payload fields {unknown}")
    _serialise(session)
    session.execute(
        insert(EventOutbox).values(
            kind=kind,
            subject=subject,
            owner_id=owner_id,
            project=project,
            payload={"v": version, **payload},
            created_at=utcnow(),
        )
    )


def emit_job_finished(session: Session, job: Job) -> None:
    """``job.<state>`` for a job that just reached a terminal state (the ledger's ``_finish``)."""
    state = str(job.state)
    outcome = job.outcome or {}
    emit(
        session,
        f"job.{state}",
        subject=f"job:{job.id}",
        owner_id=job.created_by,
        project=job.project,
        payload={
            "job_id": job.id,
            "media_id": job.media_id,
            "state": state,
            "analyzers": {
                a: str(outcome.get(a, {}).get("status") or "not_run") for a in job.analyzers
            },
            "attempts": int(job.attempts or 0),
            "dead_letter": bool(job.dead_letter),
        },
    )


def emit_flags_raised(session: Session, items: Sequence[ReviewItem]) -> None:
    """``flag.raised`` per review item just queued, owned by the submitter of its job."""
    if not items:
        return
    owner = session.execute(
        select(Job.created_by, Job.project)
        .join(AnalysisResult, AnalysisResult.job_id == Job.id)
        .where(AnalysisResult.id == items[0].result_id)
    ).first()
    for item in items:
        emit(
            session,
            "flag.raised",
            subject=f"flag:{item.id}",
            owner_id=owner[0] if owner else None,
            project=owner[1] if owner else None,
            payload={
                "flag_id": item.id,
                "kind": item.kind,
                "label": item.label,
                "media_id": item.media_id,
                "result_id": item.result_id,
                "t": float(item.t or 0.0),
                "confidence": float(item.confidence or 0.0),
            },
        )


def emit_persons_matched(
    session: Session, media_id: str, matched: dict[str, tuple[int, set[str], bool]]
) -> None:
    """``person.matched`` once per person that new observations of a media joined (or founded).

    ``matched``: person id -> (observations, modalities such as face/voice, founded now).
    The owner is the media's uploader.
    """
    if not matched:
        return
    owner = session.execute(select(Media.uploaded_by).where(Media.id == media_id)).scalar()
    for person_id, (count, modalities, new) in sorted(matched.items()):
        emit(
            session,
            "person.matched",
            subject=f"person:{person_id}",
            owner_id=owner,
            payload={
                "person_id": person_id,
                "media_id": media_id,
                "observations": count,
                "modalities": sorted(modalities),
                "new_person": new,
            },
        )


def _serialise(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_EVENTS_LOCK})


def envelope(row: EventOutbox) -> dict[str, Any]:
    """What publishers send: the outbox row as a versioned, self-describing document."""
    data = dict(row.payload or {})
    version = int(data.pop("v", 1))
    created: datetime = row.created_at
    return {
        "id": int(row.id),
        "event": row.kind,
        "version": version,
        "created_at": created.isoformat(),
        "subject": row.subject,
        "project": row.project,
        "data": data,
    }


# ------------------------------------------------------------------------- readers
def pending(session: Session, after: int, limit: int) -> Sequence[EventOutbox]:
    """Outbox rows past ``after``, oldest first."""
    return (
        session.execute(
            select(EventOutbox).where(EventOutbox.id > after).order_by(EventOutbox.id).limit(limit)
        )
        .scalars()
        .all()
    )


def max_id(session: Session) -> int:
    return int(session.scalar(select(func.max(EventOutbox.id))) or 0)


def read_cursor(db: Database, name: str) -> int:
    with db.session() as s:
        row = s.get(EventCursor, name)
        return int(row.applied_id) if row is not None else 0


def locked_cursor(session: Session, name: str) -> EventCursor:
    """The cursor row, locked for this transaction (created at 0 when missing)."""
    row = session.execute(
        select(EventCursor).where(EventCursor.name == name).with_for_update()
    ).scalar_one_or_none()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(EventCursor(name=name, applied_id=0, updated_at=utcnow()))
    except IntegrityError:  # another process created it first
        pass
    return session.execute(
        select(EventCursor).where(EventCursor.name == name).with_for_update()
    ).scalar_one()


def advance_cursor(db: Database, name: str, applied_id: int) -> None:
    """Move a cursor forward to ``applied_id`` (never back: concurrent publishers may race)."""
    with db.session() as s:
        locked_cursor(s, name)
        s.execute(
            update(EventCursor)
            .where(EventCursor.name == name, EventCursor.applied_id < applied_id)
            .values(applied_id=applied_id, updated_at=utcnow())
        )


def erase_subject(session: Session, subject: str) -> int:
    """Delete the events about ``subject`` (e.g. ``person:<id>``) in the caller's transaction.

    For erasure: no id of an erased person stays in the outbox (their webhook deliveries
    go with it, by cascade). Events not yet published are then never published.
    """
    result = session.execute(delete(EventOutbox).where(EventOutbox.subject == subject))
    return int(getattr(result, "rowcount", 0) or 0)
