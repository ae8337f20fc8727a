"""People across the library: accepted face/voice results -> observations -> persons.

``sync`` is idempotent and crash-safe by construction: it is driven by the results
table (which accepted results have no ``identity_sources`` row yet, which ingested ones
are no longer accepted), and everything one media changes -- observations, text
segments, the vector outbox, the source markers -- commits in one transaction. A
crash before the commit leaves nothing; the next ``sync`` redoes it.

Writers are serialised (a PostgreSQL advisory lock; SQLite's ``BEGIN IMMEDIATE``), so
two workers never found two persons for one face and outbox ids commit in order.

New observations are *assigned incrementally* (nearest person within the model's
threshold, honouring cannot-links; a usable one founds a new person otherwise); the
rest of the library is not re-clustered. ``recluster`` redoes one model's clustering
completely, keeping pinned observations and person ids (see ``clustering``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from aima.core.progress import Progress, ProgressHook, no_progress
from aima.core.settings import IdentitySettings
from aima.identity import linking
from aima.identity.assignment import PersonAssigner
from aima.identity.calibration import load_stored
from aima.identity.ingest import (
    IDENTITY_ANALYZERS,
    emit_matched,
    frames_of,
    observation_row,
    retire,
    sync_text,
    typed_result,
)
from aima.identity.observations import face_drafts, voice_drafts
from aima.results import FacesResult, SpeakersResult
from aima.store.db import Database
from aima.store.fulltext import TextEmbedder
from aima.store.models import AnalysisResult, IdentitySource, Observation, Person
from aima.store.vectors import VectorStore, collection_name, decode_embedding

_PG_IDENTITY_LOCK = 0x41494D41_1D  # "AIMA" + identity


@dataclass(slots=True)
class SyncReport:
    media: int = 0
    sources: int = 0
    retired: int = 0
    observations: int = 0
    assigned: int = 0
    new_persons: int = 0
    unassigned: int = 0
    text_segments: int = 0
    links: dict[str, int] = field(default_factory=dict)


def lock(session: Session) -> None:
    """Serialise identity writers (SQLite already is: every transaction is BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_IDENTITY_LOCK})


def live_person(session: Session, person_id: str) -> Person | None:
    """Follow ``merged_into`` to the person that now stands for ``person_id``."""
    seen: set[str] = set()
    person = session.get(Person, person_id)
    while person is not None and person.merged_into and person.id not in seen:
        seen.add(person.id)
        person = session.get(Person, person.merged_into)
    return person


class IdentityEngine(PersonAssigner):
    """Keeps persons in step with the accepted results; assignment rules come from
    :class:`~aima.identity.assignment.PersonAssigner`."""

    def __init__(
        self,
        db: Database,
        vectors: VectorStore,
        settings: IdentitySettings,
        text_embedder: TextEmbedder | None = None,
    ) -> None:
        super().__init__(vectors, settings)
        self.db = db
        self.text_embedder = text_embedder  # None: semantic search off, segments not embedded

    # --- sync -------------------------------------------------------------------------

    def pending_media(self) -> list[str]:
        """Media with accepted results not yet ingested, or ingested results since replaced."""
        with self.db.session() as s:
            new = s.execute(
                select(AnalysisResult.media_id)
                .outerjoin(IdentitySource, IdentitySource.result_id == AnalysisResult.id)
                .where(
                    AnalysisResult.accepted.is_(True),
                    AnalysisResult.analyzer.in_(IDENTITY_ANALYZERS),
                    IdentitySource.result_id.is_(None),
                )
            ).scalars()
            stale = s.execute(
                select(IdentitySource.media_id)
                .join(AnalysisResult, AnalysisResult.id == IdentitySource.result_id)
                .where(AnalysisResult.accepted.is_(False))
            ).scalars()
            return sorted(set(new) | set(stale))

    def sync(self, progress: ProgressHook = no_progress) -> SyncReport:
        """Bring persons, observations and text segments in step with the accepted results."""
        report = SyncReport()
        if not self.settings.enabled:
            return report
        todo = self.pending_media()
        if todo:
            load_stored(self.db)  # thresholds applied by any process, read unlocked
        self.vectors.sync()  # the index must hold every committed observation before we assign
        for i, media_id in enumerate(todo):
            progress(Progress("identity", i, len(todo), f"media {media_id}"))
            with self.db.session() as s:
                lock(s)
                self._sync_media(s, media_id, report)
            report.media += 1
            self.vectors.sync()
        if todo and self._has_voices(todo):
            progress(Progress("identity", len(todo), len(todo), "linking faces and voices"))
            report.links = self.update_links()
        self.vectors.sync()
        return report

    def _has_voices(self, media_ids: Sequence[str]) -> bool:
        """Links change only where someone speaks: a faces-only sync leaves them alone."""
        with self.db.session() as s:
            return (
                s.execute(
                    select(Observation.id)
                    .where(Observation.media_id.in_(media_ids), Observation.kind == "voice")
                    .limit(1)
                ).first()
                is not None
            )

    def _sync_media(self, s: Session, media_id: str, report: SyncReport) -> None:
        accepted = {
            r.analyzer: r
            for r in s.execute(
                select(AnalysisResult)
                .where(
                    AnalysisResult.media_id == media_id,
                    AnalysisResult.accepted.is_(True),
                    AnalysisResult.analyzer.in_(IDENTITY_ANALYZERS),
                )
                .order_by(AnalysisResult.created_at)
            ).scalars()
        }
        sources = {
            src.result_id: src
            for src in s.execute(
                select(IdentitySource).where(IdentitySource.media_id == media_id)
            ).scalars()
        }
        current = {r.id for r in accepted.values()}
        for result_id, src in sources.items():
            if result_id not in current:  # replaced by another accepted result
                retire(s, result_id)
                s.delete(src)
                report.retired += 1
        new = [r for r in accepted.values() if r.id not in sources]
        if not new:
            return
        created: list[Observation] = []
        for result in new:
            items = 0
            faces = typed_result(result, FacesResult) if result.analyzer == "faces" else None
            voices = typed_result(result, SpeakersResult) if result.analyzer == "speakers" else None
            if faces is not None or voices is not None:
                drafts = (
                    face_drafts(faces, self.settings, **frames_of(s, media_id))
                    if faces is not None
                    else voice_drafts(voices, self.settings)
                    if voices is not None
                    else []
                )
                rows = [observation_row(media_id, result, d) for d in drafts]
                s.add_all(rows)
                created += rows
                items = len(rows)
            s.add(
                IdentitySource(
                    result_id=result.id, media_id=media_id, analyzer=result.analyzer, items=items
                )
            )
            report.sources += 1
        if {r.analyzer for r in new} & {"transcribe", "speakers", "ocr", "bodies", "scenes"}:
            report.text_segments += sync_text(s, media_id, accepted, self.text_embedder)
        s.flush()
        for row in created:
            VectorStore.enqueue(s, row.collection, [row.id])
        report.observations += len(created)
        self._assign_new(s, created, report)
        emit_matched(s, media_id, created)

    def _assign_new(self, s: Session, rows: Sequence[Observation], report: SyncReport) -> None:
        """Usable observations first (they may found persons), best quality first."""
        pending: dict[str, list[tuple[int, np.ndarray[Any, Any]]]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: (not r.usable, -r.count, -r.confidence, r.id)):
            vec = decode_embedding(row.embedding)
            outcome = self.assign(s, row, vec, pending.get(row.collection, []), cannot=set())
            pending[row.collection].append((row.id, vec))
            if outcome == "new":
                report.new_persons += 1
            if row.person_id is None:
                report.unassigned += 1
            else:
                report.assigned += 1

    # --- full re-cluster ---------------------------------------------------------------

    def recluster(
        self, collections: Sequence[str] | None = None, progress: ProgressHook = no_progress
    ) -> dict[str, dict[str, int]]:
        """Re-cluster every observation of each collection, honouring the corrections."""
        load_stored(self.db)
        with self.db.session() as s:
            names = list(
                collections or s.execute(select(Observation.collection).distinct()).scalars()
            )
        out: dict[str, dict[str, int]] = {}
        for n, coll in enumerate(names):
            progress(Progress("recluster", n, len(names), coll))
            with self.db.session() as s:
                lock(s)
                out[coll] = self._recluster(s, coll)
        progress(Progress("recluster", len(names), len(names), "done"))
        self.update_links()
        return out

    # --- face <-> voice ------------------------------------------------------------------

    def update_links(self) -> dict[str, int]:
        with self.db.session() as s:
            lock(s)
            return linking.update_links(s, self.settings, actor="system:identity")

    # --- search ----------------------------------------------------------------------------

    def match(
        self,
        kind: str,
        model_id: str,
        vectors: np.ndarray[Any, Any],
        *,
        k: int = 10,
        min_score: float | None = None,
    ) -> list[list[dict[str, Any]]]:
        """For each query vector: the nearest observations with calibrated scores."""
        cal = self.calibration(kind, model_id)
        floor = self.settings.search_min_score if min_score is None else min_score
        coll = collection_name(kind, model_id)
        hits = self.vectors.search(coll, np.asarray(vectors, dtype=np.float32), k)
        ids = {h.item_id for row in hits for h in row}
        with self.db.session() as s:
            rows = {
                o.id: o
                for o in s.execute(select(Observation).where(Observation.id.in_(ids))).scalars()
            }
        out = []
        for row in hits:
            matches = []
            for h in row:
                o = rows.get(h.item_id)
                score = cal.score(h.distance)
                if o is None or score < floor:
                    continue
                matches.append(
                    {
                        "observation_id": o.id,
                        "person_id": o.person_id,
                        "media_id": o.media_id,
                        "kind": o.kind,
                        "start": o.start,
                        "end": o.end,
                        "spans": o.spans,
                        "crop": o.crop,
                        "distance": round(h.distance, 4),
                        "score": score,
                    }
                )
            out.append(matches)
        return out
