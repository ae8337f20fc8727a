"""Reading media: listings, details with results, downloads (audited)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select

from aima.core.errors import NotFound
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal, get_media, visible_media
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import AnalysisResult, Media


@dataclass(frozen=True, slots=True)
class MediaPage:
    items: builtins.list[Media]
    total: int


class MediaService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def list(
        self, principal: Principal, *, kind: str | None = None, limit: int = 50, offset: int = 0
    ) -> MediaPage:
        query = visible_media(principal)
        if kind:
            query = query.where(Media.kind == kind)
        with self.db.session() as s:
            total = s.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            items = list(
                s.execute(
                    query.order_by(Media.created_at.desc(), Media.id.desc())
                    .limit(limit)
                    .offset(offset)
                ).scalars()
            )
        return MediaPage(items, int(total))

    def get(self, principal: Principal, media_id: str) -> Media:
        with self.db.session() as s:
            return get_media(s, principal, media_id)

    def results(self, principal: Principal, media_id: str) -> builtins.list[AnalysisResult]:
        principal.require(Permission.RESULTS_READ)
        with self.db.session() as s:
            get_media(s, principal, media_id)
            return list(
                s.execute(
                    select(AnalysisResult)
                    .where(AnalysisResult.media_id == media_id)
                    .order_by(AnalysisResult.analyzer, AnalysisResult.created_at.desc())
                ).scalars()
            )

    def download(self, principal: Principal, media_id: str) -> tuple[Media, Iterator[bytes]]:
        principal.require(Permission.MEDIA_DOWNLOAD)
        with self.db.session() as s:
            media = get_media(s, principal, media_id)
            audit.record(
                s,
                actor=principal.actor,
                action="media.download",
                object_type="media",
                object_id=media_id,
            )
        return media, self.blobs.stream(media.sha256)

    def artifact(self, principal: Principal, media_id: str, sha256: str) -> Iterator[bytes]:
        """A blob produced by an analyzer for this media (e.g. a thumbnail)."""
        principal.require(Permission.RESULTS_READ)
        for result in self.results(principal, media_id):
            if sha256 in _blob_refs(result.data):
                return self.blobs.stream(sha256)
        raise NotFound(f"no artifact {sha256} for media {media_id}")


def _blob_refs(data: object) -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        for value in data.values():
            found |= _blob_refs(value)
    elif isinstance(data, list):
        for value in data:
            found |= _blob_refs(value)
    elif isinstance(data, str) and len(data) == 64:
        found.add(data)
    return found
