"""Deleting a media and everything derived from it, in one audited transaction.

Who: an administrator any media; anyone else only media they uploaded (a media the caller may
not delete answers 404, like one they may not see: ids cannot be probed) and that no other user
holds a grant for (they uploaded the same bytes: 409, an administrator decides). A media with a
job running on a worker is refused (409): cancel the job first.

What goes: the media row, its jobs (with their chunks), results, identity sources, text
segments (the full-text index follows through its triggers / expression index), observations
(each one's vector delete is enqueued in the outbox in the same transaction, as identity does
when it retires a result) and grants; the media's summary and those of the persons seen in it
(the next read writes them again from what remains).

Persons: a person who loses observations is kept when it is named or a user decided about it
(corrections, cannot-links, confirmed or rejected face-voice links, merges) and then shows 0
appearances; an unnamed, automatic person left with nothing goes away
(``IdentityEngine.drop_empty_persons``, the same rule re-clustering uses). A face-voice link
*suggestion* whose only evidence was this media goes first, so it keeps no one alive.

Blobs are content-addressed and shared: the media's bytes, thumbnails, waveforms and face crops
are deleted only when no remaining media, result, job chunk or observation references them,
and only after the transaction committed (a failed delete never loses bytes).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from aima.core.errors import Conflict, NotFound
from aima.identity.engine import IdentityEngine, lock
from aima.jobs.states import JobState
from aima.security import audit
from aima.security.permissions import Permission, Role
from aima.services.access import Principal, visible_media
from aima.services.summaries import forget as forget_summaries
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.fulltext import delete_segments
from aima.store.models import (
    AnalysisResult,
    IdentitySource,
    Job,
    JobChunk,
    Media,
    MediaGrant,
    Observation,
    PersonLink,
    TextSegment,
)
from aima.store.vectors import VectorStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EraseReport:
    """What deleting one media removed."""

    media_id: str
    results: int
    jobs: int
    observations: int
    text_segments: int
    grants: int
    persons_removed: int
    blobs_deleted: int


class MediaEraser:
    def __init__(self, db: Database, blobs: BlobStore, identity: IdentityEngine) -> None:
        self.db = db
        self.blobs = blobs
        self.identity = identity

    def erase(self, principal: Principal, media_id: str) -> EraseReport:
        principal.require(Permission.MEDIA_UPLOAD)
        with self.db.session() as s:
            lock(s)  # observations and persons change: serialise with identity writers
            media = self._deletable(s, principal, media_id)
            running = s.execute(
                select(func.count())
                .select_from(Job)
                .where(Job.media_id == media_id, Job.state == JobState.RUNNING.value)
            ).scalar_one()
            if running:
                raise Conflict(f"media {media_id} has a running job; cancel it first")
            if principal.role != Role.ADMIN:
                self._not_shared(s, principal, media_id)
            candidates = self._blobs_of(s, media)
            seen = select(Observation.person_id).where(  # their summaries may quote this media
                Observation.media_id == media_id, Observation.person_id.is_not(None)
            )
            forget_summaries(
                s, media_id=media_id, persons={str(p) for p in s.execute(seen).scalars()}
            )
            self._drop_suggestions(s, media_id)
            observations = self._drop_observations(s, media_id)
            segments = delete_segments(s, TextSegment.media_id == media_id)  # + vector outbox
            _delete(s, IdentitySource, IdentitySource.media_id == media_id)
            results = _delete(s, AnalysisResult, AnalysisResult.media_id == media_id)
            job_ids = select(Job.id).where(Job.media_id == media_id).scalar_subquery()
            _delete(s, JobChunk, JobChunk.job_id.in_(job_ids))
            jobs = _delete(s, Job, Job.media_id == media_id)
            grants = _delete(s, MediaGrant, MediaGrant.media_id == media_id)
            s.execute(delete(Media).where(Media.id == media_id))
            persons = self.identity.drop_empty_persons(s)
            s.flush()
            unused = sorted(candidates - _still_referenced(s, candidates))
            report = EraseReport(
                media_id=media_id,
                results=results,
                jobs=jobs,
                observations=observations,
                text_segments=segments,
                grants=grants,
                persons_removed=persons,
                blobs_deleted=0,
            )
            audit.record(
                s,
                actor=principal.actor,
                action="media.delete",
                object_type="media",
                object_id=media_id,
                details={
                    "name": media.original_name,
                    "sha256": media.sha256,
                    **_counts(report),
                    "blobs_unreferenced": len(unused),
                },
            )
        deleted = 0
        for sha256 in unused:  # after the commit: a rolled-back delete keeps every byte
            try:
                if self.blobs.exists(sha256):
                    self.blobs.delete(sha256)
                    deleted += 1
            except Exception:  # a leftover blob is an orphan `aima doctor` reports, not an error
                log.warning("could not delete blob %s of media %s", sha256, media_id, exc_info=True)
        return replace(report, blobs_deleted=deleted)

    @staticmethod
    def _deletable(s: Session, principal: Principal, media_id: str) -> Media:
        query = visible_media(principal).where(Media.id == media_id)
        if principal.role != Role.ADMIN:
            query = query.where(Media.uploaded_by == principal.user_id)
        media = s.execute(query).scalar_one_or_none()
        if media is None or (principal.role != Role.ADMIN and principal.user_id is None):
            raise NotFound(f"media {media_id} not found")
        return media

    @staticmethod
    def _not_shared(s: Session, principal: Principal, media_id: str) -> None:
        """Others who uploaded the same bytes hold grants: only an administrator deletes it."""
        others = s.execute(
            select(func.count())
            .select_from(MediaGrant)
            .where(MediaGrant.media_id == media_id, MediaGrant.user_id != principal.user_id)
        ).scalar_one()
        if others:
            raise Conflict(
                f"media {media_id} is shared with {others} other user(s); an administrator "
                "may delete it"
            )

    @staticmethod
    def _blobs_of(s: Session, media: Media) -> set[str]:
        found = {media.sha256}
        for data in s.execute(
            select(AnalysisResult.data).where(AnalysisResult.media_id == media.id)
        ).scalars():
            found |= blob_refs(data)
        chunks = select(JobChunk.result).join(Job, Job.id == JobChunk.job_id)
        for data in s.execute(chunks.where(Job.media_id == media.id)).scalars():
            found |= blob_refs(data)
        crops = select(Observation.crop).where(
            Observation.media_id == media.id, Observation.crop.is_not(None)
        )
        found |= {c for c in s.execute(crops).scalars() if c}
        return found

    @staticmethod
    def _drop_suggestions(s: Session, media_id: str) -> None:
        """Face-voice link suggestions whose only evidence was this media go with it; links a
        user confirmed or rejected (and automatic merges) are decisions and stay."""
        persons = select(Observation.person_id).where(
            Observation.media_id == media_id, Observation.person_id.is_not(None)
        )
        links = s.execute(
            select(PersonLink).where(
                PersonLink.state == "suggested",
                or_(
                    PersonLink.face_person_id.in_(persons),
                    PersonLink.voice_person_id.in_(persons),
                ),
            )
        ).scalars()
        for link in links:
            if set(link.evidence.get("media") or {}) <= {media_id}:
                s.delete(link)

    @staticmethod
    def _drop_observations(s: Session, media_id: str) -> int:
        rows = s.execute(
            select(Observation.id, Observation.collection).where(Observation.media_id == media_id)
        ).all()
        by_collection: dict[str, list[int]] = defaultdict(list)
        for oid, collection in rows:
            by_collection[collection].append(oid)
        for collection, ids in by_collection.items():
            VectorStore.enqueue(s, collection, ids)  # the indexes drop them when they replay
        s.execute(delete(Observation).where(Observation.media_id == media_id))
        return len(rows)


def _delete(s: Session, model: type[Any], where: ColumnElement[bool]) -> int:
    count = s.execute(select(func.count()).select_from(model).where(where)).scalar_one()
    s.execute(delete(model).where(where))
    return int(count)


def _counts(report: EraseReport) -> dict[str, int]:
    return {
        "results": report.results,
        "jobs": report.jobs,
        "observations": report.observations,
        "text_segments": report.text_segments,
        "grants": report.grants,
        "persons_removed": report.persons_removed,
    }


def _still_referenced(s: Session, candidates: set[str]) -> set[str]:
    """The candidate blobs something that remains still points at."""
    if not candidates:
        return set()
    keys = sorted(candidates)
    used = set(s.execute(select(Media.sha256).where(Media.sha256.in_(keys))).scalars())
    crops = s.execute(select(Observation.crop).where(Observation.crop.in_(keys))).scalars()
    used |= {c for c in crops if c}
    for column in (AnalysisResult.data, JobChunk.result):
        text = cast(column, Text)
        for start in range(0, len(keys), 50):
            batch = keys[start : start + 50]
            hits = s.execute(
                select(column).where(or_(*(text.contains(k, autoescape=True) for k in batch)))
            ).scalars()
            for data in hits:
                used |= blob_refs(data) & candidates
    return used


def blob_refs(data: object) -> set[str]:
    """Every 64-hex-character string inside a result's JSON (blob keys)."""
    found: set[str] = set()
    stack: list[object] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) == 64 and _is_hex(item):
            found.add(item)
    return found


def _is_hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value)
