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

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from aima.core.ids import new_id
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.core.settings import IdentitySettings
from aima.identity import linking
from aima.identity.calibration import Calibration, calibration_for, load_stored
from aima.identity.clustering import Item, Neighbour, choose_person, recluster
from aima.identity.observations import Draft, face_drafts, keyframe_grid, voice_drafts
from aima.identity.text import object_segments, ocr_segments, scene_segments, transcript_segments
from aima.results import (
    AnalyzerResult,
    BodiesResult,
    FacesResult,
    InvalidResult,
    OcrResult,
    ScenesResult,
    SpeakersResult,
    TranscribeResult,
    load_result,
)
from aima.store.db import Database
from aima.store.events import emit_persons_matched
from aima.store.fulltext import TextEmbedder, delete_segments, replace_segments
from aima.store.models import (
    AnalysisResult,
    CannotLink,
    Correction,
    IdentitySource,
    Media,
    Observation,
    Person,
    PersonLink,
    TextSegment,
)
from aima.store.vectors import VectorStore, collection_name, decode_embedding, encode_embedding

log = logging.getLogger(__name__)
T = TypeVar("T", bound=AnalyzerResult)

# faces and voices become observations; transcripts, OCR, objects (bodies) and scene
# descriptions become searchable text segments.
IDENTITY_ANALYZERS = ("faces", "speakers", "transcribe", "ocr", "bodies", "scenes")
FRAME_LISTS = ("nsfw", "bodies")  # results that list every analysed keyframe
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


class IdentityEngine:
    def __init__(
        self,
        db: Database,
        vectors: VectorStore,
        settings: IdentitySettings,
        text_embedder: TextEmbedder | None = None,
    ) -> None:
        self.db = db
        self.vectors = vectors
        self.settings = settings
        self.text_embedder = text_embedder  # None: semantic search off, segments not embedded

    def calibration(self, kind: str, model_id: str, hint: float | None = None) -> Calibration:
        return calibration_for(kind, model_id, self.settings, hint=hint)

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
                self._retire(s, result_id)
                s.delete(src)
                report.retired += 1
        new = [r for r in accepted.values() if r.id not in sources]
        if not new:
            return
        created: list[Observation] = []
        for result in new:
            items = 0
            faces = _typed(result, FacesResult) if result.analyzer == "faces" else None
            voices = _typed(result, SpeakersResult) if result.analyzer == "speakers" else None
            if faces is not None or voices is not None:
                drafts = (
                    face_drafts(faces, self.settings, **self._frames_of(s, media_id))
                    if faces is not None
                    else voice_drafts(voices, self.settings)
                    if voices is not None
                    else []
                )
                rows = [self._observation(media_id, result, d) for d in drafts]
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
            report.text_segments += self._text(s, media_id, accepted)
        s.flush()
        for row in created:
            VectorStore.enqueue(s, row.collection, [row.id])
        report.observations += len(created)
        self._assign_new(s, created, report)
        self._emit_matched(s, media_id, created)

    @staticmethod
    def _emit_matched(s: Session, media_id: str, created: Sequence[Observation]) -> None:
        """One ``person.matched`` event per person the new observations joined or founded."""
        counts: dict[str, tuple[int, set[str]]] = {}
        for row in created:
            if row.person_id is not None:
                n, kinds = counts.get(row.person_id, (0, set()))
                counts[row.person_id] = (n + 1, kinds | {row.kind})
        if not counts:
            return
        existed = set(
            s.execute(
                select(Observation.person_id)
                .where(
                    Observation.person_id.in_(list(counts)),
                    Observation.id.not_in([row.id for row in created]),
                )
                .distinct()
            ).scalars()
        )
        matched = {p: (n, kinds, p not in existed) for p, (n, kinds) in counts.items()}
        emit_persons_matched(s, media_id, matched)  # last in the transaction: a brief lock

    def _frames_of(self, s: Session, media_id: str) -> dict[str, Any]:
        """The media's length and the keyframe times other frame analyzers listed.

        Face presence runs until the next analysed keyframe (see ``observations``); the
        faces result lists only frames with a face, nsfw/bodies list every frame.
        """
        media = s.get(Media, media_id)
        info = (media.info if media is not None else None) or {}
        duration = info.get("duration_s")
        listed = [
            load_result(name, data)
            for name, data in s.execute(
                select(AnalysisResult.analyzer, AnalysisResult.data).where(
                    AnalysisResult.media_id == media_id,
                    AnalysisResult.accepted.is_(True),
                    AnalysisResult.analyzer.in_(FRAME_LISTS),
                )
            ).all()
        ]
        return {
            "grid": keyframe_grid(listed),
            "duration": float(duration) if isinstance(duration, int | float) else None,
        }

    def _observation(self, media_id: str, result: AnalysisResult, d: Draft) -> Observation:
        return Observation(
            kind=d.kind,
            media_id=media_id,
            result_id=result.id,
            collection=collection_name(d.kind, d.model_id),
            model_id=d.model_id,
            ref=d.ref,
            start=d.start,
            end=d.end,
            duration_s=d.duration_s,
            count=d.count,
            spans=d.spans,
            quality=d.quality,
            usable=d.usable,
            confidence=d.confidence,
            embedding=encode_embedding(d.embedding),
            dim=len(d.embedding),
            crop=d.crop,
        )

    def _retire(self, s: Session, result_id: str) -> None:
        rows = s.execute(
            select(Observation.id, Observation.collection).where(Observation.result_id == result_id)
        ).all()
        by_collection: dict[str, list[int]] = defaultdict(list)
        for oid, coll in rows:
            by_collection[coll].append(oid)
        for coll, ids in by_collection.items():
            VectorStore.enqueue(s, coll, ids)
        s.execute(delete(Observation).where(Observation.result_id == result_id))
        delete_segments(s, TextSegment.result_id == result_id)

    def _text(self, s: Session, media_id: str, accepted: dict[str, AnalysisResult]) -> int:
        """Text segments of the media: transcript (with speakers), OCR, objects, scenes.

        With a text embedder each segment is embedded and queued for the vector index in
        this transaction (semantic search).
        """
        count = 0
        transcribe, speakers, ocr, bodies, scenes = (
            accepted.get(a) for a in ("transcribe", "speakers", "ocr", "bodies", "scenes")
        )
        turns = _typed(speakers, SpeakersResult) if speakers is not None else None
        parts: list[tuple[AnalysisResult, str, list[dict[str, Any]]]] = []
        said = _typed(transcribe, TranscribeResult) if transcribe is not None else None
        if transcribe is not None and said is not None:
            parts.append((transcribe, "transcript", transcript_segments(said, turns)))
        lines = _typed(ocr, OcrResult) if ocr is not None else None
        if ocr is not None and lines is not None:
            parts.append((ocr, "ocr", ocr_segments(lines)))
        objects = _typed(bodies, BodiesResult) if bodies is not None else None
        if bodies is not None and objects is not None:
            parts.append((bodies, "object", object_segments(objects)))
        seen = _typed(scenes, ScenesResult) if scenes is not None else None
        if scenes is not None and seen is not None:
            described, named = scene_segments(seen)
            parts += [(scenes, "scene", described), (scenes, "object", named)]
        embedder = self._text_embedder()
        for result, source, segments in parts:
            count += replace_segments(
                s,
                media_id=media_id,
                result_id=result.id,
                source=source,
                segments=segments,
                embedder=embedder,
            )
        return count

    def _text_embedder(self) -> TextEmbedder | None:
        """The text embedder when its model is there; without it text is still found by its
        words, and `aima index rebuild` embeds it once the model is installed."""
        if self.text_embedder is None or self.text_embedder.available():
            return self.text_embedder
        log.error(
            "text embedding model missing: segments stored without embeddings "
            "(run `aima models`, install it, then `aima index rebuild`)"
        )
        return None

    # --- assignment ---------------------------------------------------------------------

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

    def neighbours(
        self,
        s: Session,
        collection: str,
        vec: np.ndarray[Any, Any],
        *,
        k: int | None = None,
        extra: Sequence[tuple[int, np.ndarray[Any, Any]]] = (),
        exclude: Iterable[int] = (),
    ) -> list[Neighbour]:
        """Nearest observations (from the index, plus uncommitted ``extra``) with their persons.

        The index gives candidates only; persons are read from the rows in this
        transaction, so a stale index entry can never put a face in the wrong person.
        """
        k = k or self.settings.neighbours
        skip = set(exclude)
        found: dict[int, float] = {}
        # Straight to the index: syncing it here would open a second transaction while the
        # caller holds the write lock (callers sync before they begin).
        query = np.ascontiguousarray(vec.reshape(1, -1), dtype=np.float32)
        for hit in self.vectors.index.search(collection, query, k + len(skip))[0]:
            found[hit.item_id] = hit.distance
        for oid, other in extra:
            found[oid] = float(np.sqrt(max(0.0, 2.0 - 2.0 * float(np.dot(vec, other)))))
        for oid in skip:
            found.pop(oid, None)
        if not found:
            return []
        persons = dict(
            s.execute(
                select(Observation.id, Observation.person_id).where(Observation.id.in_(list(found)))
            ).all()
        )
        out = [Neighbour(oid, d, persons[oid]) for oid, d in found.items() if oid in persons]
        return sorted(out, key=lambda n: n.distance)[:k]

    def assign(
        self,
        s: Session,
        row: Observation,
        vec: np.ndarray[Any, Any],
        extra: Sequence[tuple[int, np.ndarray[Any, Any]]] = (),
        *,
        cannot: set[str] | None = None,
    ) -> str:
        """Attach one observation: 'joined' a person, founded a 'new' one, or 'unassigned'.

        ``cannot``: the persons it may not join, when the caller knows them (a row created
        in this transaction has none); read from its cannot-links otherwise.
        """
        cal = self.calibration(row.kind, row.model_id)
        if cannot is None:
            cannot = set(
                s.execute(
                    select(CannotLink.person_id).where(CannotLink.observation_id == row.id)
                ).scalars()
            )
        near = self.neighbours(s, row.collection, vec, extra=extra, exclude=[row.id])
        choice = choose_person(near, cal.max_distance, cannot)
        if choice is not None:
            row.person_id, row.distance = choice
            row.assigned_by = "auto"
            return "joined"
        if row.usable:
            person = Person(id=new_id("per"))
            s.add(person)
            s.flush()
            row.person_id, row.distance, row.assigned_by = person.id, 0.0, "auto"
            return "new"
        row.person_id, row.distance, row.assigned_by = None, None, "unmatched"
        return "unassigned"

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

    def _recluster(self, s: Session, coll: str) -> dict[str, int]:
        rows = s.execute(
            select(
                Observation.id,
                Observation.kind,
                Observation.model_id,
                Observation.usable,
                Observation.pinned,
                Observation.person_id,
                Observation.embedding,
            )
            .where(Observation.collection == coll)
            .order_by(Observation.id)
        ).all()
        if not rows:
            return {"observations": 0, "changed": 0, "new_persons": 0}
        cannot: dict[int, set[str]] = defaultdict(set)
        for oid, pid in s.execute(
            select(CannotLink.observation_id, CannotLink.person_id)
            .join(Observation, Observation.id == CannotLink.observation_id)
            .where(Observation.collection == coll)
        ).all():
            cannot[oid].add(pid)
        items = [
            Item(
                id=r.id,
                usable=r.usable,
                pinned=r.person_id if r.pinned else None,
                prior=r.person_id,
                cannot=frozenset(cannot.get(r.id, ())),
            )
            for r in rows
        ]
        vectors = np.stack([decode_embedding(r.embedding) for r in rows])
        cal = self.calibration(rows[0].kind, rows[0].model_id)
        mapping = recluster(items, vectors, cal.max_distance, k=self.settings.neighbours)
        fresh: dict[str, str] = {}
        changed = 0
        for r in rows:
            target = mapping.get(r.id)
            if target is not None and target.startswith("new:"):
                if target not in fresh:
                    person = Person(id=new_id("per"))
                    s.add(person)
                    fresh[target] = person.id
                target = fresh[target]
            if target != r.person_id:
                changed += 1
                s.execute(
                    update(Observation)
                    .where(Observation.id == r.id)
                    .values(
                        person_id=target,
                        assigned_by="recluster" if target else "unmatched",
                        distance=None,
                    )
                )
        s.flush()
        self.drop_empty_persons(s)
        return {"observations": len(rows), "changed": changed, "new_persons": len(fresh)}

    def drop_empty_persons(self, s: Session) -> int:
        """Unnamed automatic persons left without observations or constraints go away."""
        has_obs = select(Observation.person_id).where(Observation.person_id.is_not(None))
        constrained = select(CannotLink.person_id)
        corrected = select(Correction.person_id).where(Correction.person_id.is_not(None))
        linked = select(PersonLink.face_person_id).union(select(PersonLink.voice_person_id))
        merged = select(Person.merged_into).where(Person.merged_into.is_not(None))
        empty = (
            s.execute(
                select(Person.id).where(
                    Person.name.is_(None),
                    Person.merged_into.is_(None),
                    Person.id.not_in(has_obs),
                    Person.id.not_in(constrained),
                    Person.id.not_in(corrected),
                    Person.id.not_in(linked),
                    Person.id.not_in(merged),
                )
            )
            .scalars()
            .all()
        )
        if empty:
            s.execute(delete(Person).where(Person.id.in_(empty)))
        return len(empty)

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


def _typed(row: AnalysisResult, kind: type[T]) -> T | None:
    """A stored result through its model; a row the model rejects is skipped and logged.

    Such a row cannot become observations or text (its shape is unknown); re-running the
    analyzer replaces it. The media's other results are still synced.
    """
    try:
        return kind.load(row.data)
    except InvalidResult as exc:
        log.warning(
            "skipping an unreadable result",
            extra={"media_id": row.media_id, "result_id": row.id, "reason": exc.message},
        )
        return None
