"""The human review queue for flagged findings (restraints from the ``scenes`` analyzer).

A restraint the VLM reports is a flag, never a fact: :meth:`ReviewService.sync` turns the
restraints of every *accepted* ``scenes`` result into ``review_items`` rows (idempotent:
one row per result and ref, unique in the database), each ``unreviewed``. An Analyst or
Admin (``review:decide``) then confirms or dismisses it:

* ``confirm``: the note is optional; the restraint now enters the person's dossier.
* ``dismiss``: a note is **required** (what it really was), so a dismissal can be
  understood later; a dismissed flag never enters a dossier.
* a decision may be changed later (a correction), recorded with the state it replaced;
  deciding the state an item already has is a conflict (409).

Every decision is written to the audit chain in the same transaction. Reading the queue
and the evidence frame needs ``review:read`` (Admin, Analyst, Auditor); Viewer and
Uploader get 403. Confirmed and dismissed decisions also calibrate the analyzer's
confidence (:meth:`decisions`, used by ``aima.analyzers._scenes_calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from aima.core.clock import utcnow
from aima.core.errors import Conflict, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.results import ScenesResult, load_result
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.events import emit_flags_raised
from aima.store.models import AnalysisResult, ReviewItem

STATES = ("unreviewed", "confirmed", "dismissed")
Decision = Literal["confirmed", "dismissed"]
MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class ReviewView:
    id: str
    kind: str
    label: str
    media_id: str
    result_id: str
    ref: str
    t: float
    box: list[float] | None
    evidence: str | None
    confidence: float
    raw_confidence: float | None
    details: dict[str, Any]
    state: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: ReviewItem) -> ReviewView:
        raw = row.details.get("raw_confidence")
        return cls(
            id=row.id,
            kind=row.kind,
            label=row.label,
            media_id=row.media_id,
            result_id=row.result_id,
            ref=row.ref,
            t=row.t,
            box=row.box,
            evidence=row.evidence,
            confidence=row.confidence,
            raw_confidence=None if raw is None else float(raw),
            details=dict(row.details),
            state=row.state,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            note=row.note,
            created_at=row.created_at,
        )


class ReviewService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    # ------------------------------------------------------------------ filling the queue

    def sync(self) -> int:
        """Queue the restraints of accepted ``scenes`` results that are not queued yet."""
        added = 0
        queued = exists().where(
            ReviewItem.result_id == AnalysisResult.id, ReviewItem.kind == "restraint"
        )
        with self.db.session() as s:
            rows = s.execute(
                select(AnalysisResult).where(
                    AnalysisResult.analyzer == "scenes",
                    AnalysisResult.accepted.is_(True),
                    ~queued,
                )
            ).scalars()
            todo = [(r.id, r.media_id, r.data) for r in rows]
        for result_id, media_id, data in todo:
            added += self._queue(result_id, media_id, data)
        return added

    def _queue(self, result_id: str, media_id: str, data: dict[str, Any]) -> int:
        result = load_result("scenes", data)
        assert isinstance(result, ScenesResult)
        items = [
            ReviewItem(
                id=new_id("rev"),
                kind="restraint",
                label=r.label,
                media_id=media_id,
                result_id=result_id,
                ref=r.ref,
                t=frame.t,
                box=r.box,
                evidence=r.evidence,
                confidence=r.confidence,
                details={
                    "raw_confidence": r.raw_confidence,
                    "person": r.person,
                    "end": frame.end,
                    "description": frame.description,
                    "model": result.model,
                    "prompt": result.prompt,
                    "calibration": result.calibration.model_dump(),
                },
                state="unreviewed",
            )
            for frame, r in result.restraints()
        ]
        if not items:
            return 0
        try:
            with self.db.session() as s:
                s.add_all(items)
                s.flush()  # a duplicate fails here, before any event is written
                emit_flags_raised(s, items)
        except IntegrityError:  # another worker queued this result at the same time
            return 0
        return len(items)

    # ------------------------------------------------------------------ reading

    def items(
        self,
        principal: Principal,
        *,
        state: str | None = None,
        media_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ReviewView]:
        principal.require(Permission.REVIEW_READ)
        if state is not None and state not in STATES:
            raise InvalidInput(f"unknown review state {state!r}; use one of {', '.join(STATES)}")
        self.sync()
        query = select(ReviewItem)
        if state is not None:
            query = query.where(ReviewItem.state == state)
        if media_id is not None:
            query = query.where(ReviewItem.media_id == media_id)
        query = query.order_by(ReviewItem.created_at, ReviewItem.id).limit(limit).offset(offset)
        with self.db.session() as s:
            return [ReviewView.of(r) for r in s.execute(query).scalars()]

    def get(self, principal: Principal, item_id: str) -> ReviewView:
        principal.require(Permission.REVIEW_READ)
        with self.db.session() as s:
            return ReviewView.of(self._row(s, item_id))

    def evidence(self, principal: Principal, item_id: str) -> bytes:
        """The JPEG evidence frame of an item; reading it is audited like a face crop."""
        principal.require(Permission.REVIEW_READ)
        with self.db.session() as s:
            row = self._row(s, item_id)
            if row.evidence is None or not self.blobs.exists(row.evidence):
                raise NotFound(f"review item {item_id} has no stored evidence frame")
            audit.record(
                s,
                actor=principal.actor,
                action="review.evidence",
                object_type="review_item",
                object_id=item_id,
            )
            key = row.evidence
        return self.blobs.get_bytes(key)

    def decisions(self, kind: str = "restraint") -> list[tuple[float, bool]]:
        """(raw confidence, confirmed?) of every decided item: the calibration's data."""
        with self.db.session() as s:
            rows = s.execute(
                select(ReviewItem.details, ReviewItem.state).where(
                    ReviewItem.kind == kind, ReviewItem.state.in_(("confirmed", "dismissed"))
                )
            ).all()
        return [
            (float(d["raw_confidence"]), state == "confirmed")
            for d, state in rows
            if d.get("raw_confidence") is not None
        ]

    # ------------------------------------------------------------------ deciding

    def decide(
        self, principal: Principal, item_id: str, decision: Decision, note: str | None = None
    ) -> ReviewView:
        principal.require(Permission.REVIEW_DECIDE)
        if decision not in ("confirmed", "dismissed"):
            raise InvalidInput(f"a decision is 'confirmed' or 'dismissed', not {decision!r}")
        note = (note or "").strip() or None
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidInput(f"the note is {len(note)} characters; at most {MAX_NOTE}")
        if decision == "dismissed" and note is None:
            raise InvalidInput(
                "dismissing a flag needs a note saying what it is instead "
                "(e.g. --note 'a wristwatch, not handcuffs')"
            )
        with self.db.session() as s:
            row = self._row(s, item_id, lock=True)
            if row.state == decision:
                raise Conflict(f"review item {item_id} is already {decision}")
            before = row.state
            row.state = decision
            row.note = note
            row.decided_by = principal.actor
            row.decided_at = utcnow()
            audit.record(
                s,
                actor=principal.actor,
                action=f"review.{'confirm' if decision == 'confirmed' else 'dismiss'}",
                object_type="review_item",
                object_id=item_id,
                details={
                    "from": before,
                    "to": decision,
                    "label": row.label,
                    "media_id": row.media_id,
                    "note": note,
                },
            )
            s.flush()
            return ReviewView.of(row)

    @staticmethod
    def _row(s: Any, item_id: str, *, lock: bool = False) -> ReviewItem:
        query = select(ReviewItem).where(ReviewItem.id == item_id)
        if lock:
            query = query.with_for_update()
        row: ReviewItem | None = s.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFound(f"review item {item_id} not found")
        return row
