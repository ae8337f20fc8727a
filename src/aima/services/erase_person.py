"""Erasing a person from every store, in one audited operation that ends in a signed receipt.

Who: an administrator (``persons:erase``), with a reason; the reason is kept in the audit
trail, so it may not contain the person's name.

What goes, in one transaction: the person and every person merged into it; their
observations (face tracks, voices) with their embeddings (vector deletes enqueued in the
outbox in the same transaction); cannot-links, corrections and face-voice links that name
them or their observations; summaries about them and about the media they appear in;
review items about them; transcript segments they said (the full-text index follows); the
events about them in the outbox. The media they appear in stay (unless ``with_media``), but
their biometric traces inside the results and job checkpoints of those media are scrubbed:
the face track's and its detections' embeddings, landmarks and crop keys, the speaker's
embedding and its analysis windows, the text of the transcript segments they said. A result
re-read later cannot recreate them (no embedding, no observation).

After the commit: their crop blobs are deleted (with encryption on, deleting a blob also
destroys its key; the destroyed keys' rows, which name the blob keys, go too; scrubbing is
in :mod:`aima.services.erase_scrub`), the vector index applies the deletes and rewrites
what held them (FAISS: fresh structures, snapshot rewritten; Milvus Lite: its file
vacuumed; a Milvus server: compacted; see ``VectorStore.purge``); on SQLite the write-ahead
log is checkpointed (deleted content was zeroed: ``secure_delete``). With ``with_media``
every media they appear in is then deleted as ``aima media delete`` would. Finally the
receipt (:mod:`aima.services.receipts`) is signed and stored with the audit record.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from aima.core.errors import AimaError, Conflict, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.identity.engine import IdentityEngine, live_person, lock
from aima.jobs.states import JobState
from aima.security import audit
from aima.security.permissions import Permission
from aima.services import receipts
from aima.services.access import Principal
from aima.services.cases import CaseUse
from aima.services.erase_media import MediaEraser, _still_referenced
from aima.services.erase_scrub import Scrubber
from aima.services.summaries import forget as forget_summaries
from aima.store.blobs import BlobStore
from aima.store.crypto_blobs import BLOB_SCOPE
from aima.store.db import Database
from aima.store.events import erase_subject
from aima.store.fulltext import delete_segments
from aima.store.models import (
    CannotLink,
    Correction,
    Job,
    LlmCall,
    Observation,
    Person,
    PersonLink,
    ReviewItem,
    TextSegment,
)
from aima.store.models_trust import DataKey
from aima.store.vectors import VectorStore

log = logging.getLogger(__name__)
FTS_TABLES = ("text_segments_fts", "text_segments_fts_stem")
_Seg = tuple[str, float, float, str | None]


class PersonEraser:
    def __init__(
        self, db: Database, blobs: BlobStore, identity: IdentityEngine, vectors: VectorStore
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.identity = identity
        self.vectors = vectors

    def erase(
        self,
        principal: Principal,
        person_id: str,
        *,
        reason: str,
        with_media: bool = False,
        case: CaseUse | None = None,
    ) -> dict[str, Any]:
        """Erase the person; returns the signed receipt (also stored in ``erasure_receipts``)."""
        principal.require(Permission.PERSONS_ERASE)
        reason = reason.strip()
        if len(reason) < 3:
            raise InvalidInput("give the reason for the erasure (kept in the audit trail)")
        receipt_id = new_id("rcp")
        with self.db.session() as s:
            lock(s)
            self._secure_delete(s, True)  # SQLite: freed space is zeroed, not left readable
            person = live_person(s, person_id)
            if person is None:
                raise NotFound(f"person {person_id} not found")
            root = person.id
            ids = _with_merged(s, root)
            names = s.execute(select(Person.name).where(Person.id.in_(ids))).scalars()
            if any(n and n.strip().casefold() in reason.casefold() for n in names):
                raise InvalidInput(
                    "the reason must not contain the person's name: it stays in the audit trail"
                )
            erased = self._erase_rows(s, ids, with_media)
            audit.record(
                s,
                actor=principal.actor,
                action="person.erase",
                object_type="erasure_receipt",
                object_id=receipt_id,
                details={
                    "reason": reason,
                    "with_media": with_media,
                    "subject_hash": receipts.subject_hash(audit.keyring_of(s), root),
                    "counts": {e["store"]: e["count"] for e in erased["stores"]},
                    **(case.audit() if case is not None else {}),
                },
            )
            self._secure_delete(s, False)  # back to the pooled connection's default
        stores: list[dict[str, Any]] = erased["stores"]
        stores.append(self._delete_blobs(erased["blobs"]))
        index = self._purge_index(erased["collections"], erased["vector_items"])
        if with_media:
            stores.append(self._erase_media(principal, erased["media"]))
        self._checkpoint()
        with self.db.session() as s:
            doc = receipts.issue(
                s,
                receipt_id=receipt_id,
                actor=principal.actor,
                person_id=root,
                created_at=datetime.now(UTC).isoformat(),
                stores=stores,
                index=index,
                with_media=with_media,
            )
        log.info("person erased", extra={"receipt_id": receipt_id})
        return doc

    # ------------------------------------------------------------------ the transaction
    def _erase_rows(self, s: Session, ids: list[str], with_media: bool) -> dict[str, Any]:
        obs = list(s.execute(select(Observation).where(Observation.person_id.in_(ids))).scalars())
        media_ids = sorted({o.media_id for o in obs})
        if with_media and media_ids:
            running = s.execute(
                select(func.count())
                .select_from(Job)
                .where(Job.media_id.in_(media_ids), Job.state == JobState.RUNNING.value)
            ).scalar_one()
            if running:
                raise Conflict("a media this person appears in has a running job; cancel it first")
        obs_ids = {o.id for o in obs}
        segments = self._their_segments(s, obs)
        seg_ids = sorted(segments)
        scrub = Scrubber(s, obs, [(m, a, b) for m, a, b, _c in segments.values()])
        scrubbed = scrub.run()  # results and checkpoints of their media; collects their crops
        crops = scrub.crops | {o.crop for o in obs if o.crop}
        n_segments = delete_segments(s, TextSegment.id.in_(seg_ids)) if seg_ids else 0
        if n_segments and self.db.dialect == "sqlite":
            for table in FTS_TABLES:  # merge away the deleted entries' terms now
                s.execute(text(f"INSERT INTO {table}({table}) VALUES('optimize')"))
        cannot = _ids(
            s,
            select(CannotLink.observation_id, CannotLink.person_id).where(
                or_(CannotLink.observation_id.in_(obs_ids), CannotLink.person_id.in_(ids))
            ),
        )
        s.execute(
            delete(CannotLink).where(
                or_(CannotLink.observation_id.in_(obs_ids), CannotLink.person_id.in_(ids))
            )
        )
        corrections = self._corrections(s, ids, obs_ids)
        links = list(
            s.execute(
                select(PersonLink.id).where(
                    or_(PersonLink.face_person_id.in_(ids), PersonLink.voice_person_id.in_(ids))
                )
            ).scalars()
        )
        s.execute(delete(PersonLink).where(PersonLink.id.in_(links)))
        reviews = self._review_items(s, ids, crops)
        company = select(Observation.person_id).where(  # their summaries may name them
            Observation.media_id.in_(media_ids), Observation.person_id.is_not(None)
        )
        others = {str(p) for p in s.execute(company).scalars()} - set(ids)
        summaries = forget_summaries(s, persons=[*ids, *sorted(others)])
        for mid in media_ids:
            summaries += forget_summaries(s, media_id=mid)
        events = sum(erase_subject(s, f"person:{pid}") for pid in ids)
        s.execute(
            update(LlmCall)
            .where(LlmCall.subject.in_([f"person:{pid}" for pid in ids]))
            .values(subject=None)
        )
        by_collection: dict[str, list[int]] = defaultdict(list)
        for o in obs:
            by_collection[o.collection].append(o.id)
        for collection, members in by_collection.items():
            VectorStore.enqueue(s, collection, members)
        s.execute(delete(Observation).where(Observation.id.in_(obs_ids)))
        s.execute(update(Person).where(Person.id.in_(ids)).values(merged_into=None))
        s.execute(delete(Person).where(Person.id.in_(ids)))
        s.flush()
        unused = sorted(crops - _still_referenced(s, crops))
        text_collections = {str(c) for *_x, c in segments.values() if c}
        stores = [
            receipts.store_entry("persons", ids),
            receipts.store_entry("observations", obs_ids),
            receipts.store_entry(
                "embeddings", [receipts.digest_of([o.embedding.hex()]) for o in obs]
            ),
            receipts.store_entry("text_segments", seg_ids),
            receipts.store_entry("cannot_links", [f"{a}:{b}" for a, b in cannot]),
            receipts.store_entry("corrections", corrections),
            receipts.store_entry("person_links", links),
            receipts.store_entry("review_items", reviews),
            {"store": "summaries", "count": summaries},
            {"store": "event_outbox", "count": events},
            receipts.store_entry("results_scrubbed", scrubbed["results"]),
            receipts.store_entry("job_chunks_scrubbed", [str(i) for i in scrubbed["chunks"]]),
        ]
        vector_items = len(obs) + sum(1 for *_x, c in segments.values() if c)
        return {
            "stores": stores,
            "blobs": unused,
            "media": media_ids,
            "collections": set(by_collection) | text_collections,
            "vector_items": vector_items,
        }

    @staticmethod
    def _their_segments(s: Session, obs: list[Observation]) -> dict[int, _Seg]:
        """Transcript segments said by one of their voices: id -> (media, start, end, collection)."""
        out: dict[int, _Seg] = {}
        for o in obs:
            if o.kind != "voice" or not o.ref.startswith("speaker:"):
                continue
            rows = s.execute(
                select(
                    TextSegment.id, TextSegment.start, TextSegment.end, TextSegment.collection
                ).where(
                    TextSegment.media_id == o.media_id,
                    TextSegment.source == "transcript",
                    TextSegment.speaker == o.ref.removeprefix("speaker:"),
                )
            ).all()
            out.update({int(i): (o.media_id, float(a), float(b), c) for i, a, b, c in rows})
        return out

    @staticmethod
    def _corrections(s: Session, ids: list[str], obs_ids: set[int]) -> list[str]:
        """Corrections about them, or whose undo snapshot names their observations or ids."""
        gone: list[str] = []
        for c in s.execute(select(Correction)).scalars():
            payload = c.payload or {}
            named = {
                int(item["id"])
                for key in ("before", "after")
                for item in payload.get(key, []) or []
                if isinstance(item, dict) and isinstance(item.get("id"), int)
            }
            blob = str(payload)
            if c.person_id in ids or named & obs_ids or any(pid in blob for pid in ids):
                gone.append(c.id)
        if gone:
            s.execute(delete(Correction).where(Correction.id.in_(gone)))
        return gone

    @staticmethod
    def _review_items(s: Session, ids: list[str], crops: set[str]) -> list[str]:
        about: list[ColumnElement[bool]] = [ReviewItem.evidence.in_(sorted(crops))] if crops else []
        about += [cast(ReviewItem.details, Text).contains(pid, autoescape=True) for pid in ids]
        found = list(s.execute(select(ReviewItem.id).where(or_(*about))).scalars())
        if found:
            s.execute(delete(ReviewItem).where(ReviewItem.id.in_(found)))
        return found

    # ------------------------------------------------------------------ after the commit
    def _delete_blobs(self, keys: list[str]) -> dict[str, Any]:
        deleted: list[str] = []
        failed = 0
        for sha256 in keys:
            try:
                if self.blobs.exists(sha256):
                    self.blobs.delete(sha256)
                deleted.append(sha256)
            except Exception:  # reported in the receipt; `aima doctor` lists orphans
                failed += 1
                log.warning("could not delete a crop blob of an erased person", exc_info=True)
        shredded = 0
        if deleted:  # encryption at rest: the destroyed keys' rows still name the blob keys
            with self.db.session() as s:
                self._secure_delete(s, True)
                done = s.execute(
                    delete(DataKey).where(
                        DataKey.scope == BLOB_SCOPE,
                        DataKey.subject_id.in_(deleted),
                        DataKey.wrapped.is_(None),
                    )
                )
                shredded = int(getattr(done, "rowcount", 0) or 0)
                self._secure_delete(s, False)
        return receipts.store_entry("blobs", deleted, failed=failed, keys_shredded=shredded)

    def _purge_index(self, collections: set[str], items: int) -> dict[str, Any]:
        """Apply the deletes, then leave no copy of the vectors in the index or its files."""
        index = self.vectors.index
        facts: dict[str, Any] = {
            "backend": "milvus" if index.shared else "faiss",
            "collections": len(collections),
            "vectors_removed": items,
        }
        try:
            self.vectors.sync()
        except Exception as exc:  # the rows are gone; the outbox replays the deletes later
            log.warning("vector index deletes after erasure failed", exc_info=True)
            facts.update(action="pending", compacted=False, error=type(exc).__name__)
            return facts
        try:  # FAISS: fresh structures, snapshot rewritten; Milvus: file rewritten or compacted
            done = self.vectors.purge(sorted(collections))
            facts.update(action=done.action, compacted=done.compacted)
            if not index.shared:
                facts["snapshot_rewritten"] = self.vectors.snapshot_dir is not None
        except Exception as exc:  # deleted (searches no longer find them), not rewritten
            log.warning("vector index purge after erasure failed", exc_info=True)
            facts.update(action="deleted", compacted=False, error=type(exc).__name__)
        facts["in_sync"] = bool(self.vectors.status()["in_sync"])
        return facts

    def _secure_delete(self, s: Session, on: bool) -> None:
        if self.db.dialect == "sqlite":
            s.execute(text(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}"))

    def _checkpoint(self) -> None:
        if self.db.dialect != "sqlite":
            return
        raw = self.db.engine.raw_connection()
        try:  # the WAL still holds pre-erasure pages until it is checkpointed
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()

    def _erase_media(self, principal: Principal, media_ids: list[str]) -> dict[str, Any]:
        eraser = MediaEraser(self.db, self.blobs, self.identity)
        done: list[str] = []
        blobs = 0
        failed = 0
        for mid in media_ids:
            try:
                report = eraser.erase(principal, mid)
            except AimaError as exc:  # e.g. a job started meanwhile: the receipt says so
                failed += 1
                log.warning("media of an erased person not deleted: %s", exc.message)
                continue
            done.append(mid)
            blobs += report.blobs_deleted
        self.vectors.sync()
        return receipts.store_entry("media", done, blobs_deleted=blobs, failed=failed)


def _with_merged(s: Session, root: str) -> list[str]:
    """The person and every person merged into it, at any depth."""
    ids = [root]
    frontier = [root]
    while frontier:
        found = list(s.execute(select(Person.id).where(Person.merged_into.in_(frontier))).scalars())
        frontier = [f for f in found if f not in ids]
        ids += frontier
    return ids


def _ids(s: Session, query: Any) -> list[tuple[Any, Any]]:
    return [(a, b) for a, b in s.execute(query).all()]
