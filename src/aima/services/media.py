"""Reading media: listings (grid cards), details with results, content streaming (audited)."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    and_,
    case,
    exists,
    func,
    select,
)

from aima.core.errors import Forbidden, Gone, InvalidInput, NotFound
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import (
    VIA_SHARE,
    MediaView,
    Principal,
    get_media,
    id_in,
    job_filter,
    media_view,
    media_views,
    name_column,
    visible_media,
)
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import AnalysisResult, Job, Media, MediaGrant, Observation, User

#: ``sort`` values of the media listing; a leading ``-`` sorts descending.
MEDIA_SORTS = ("created_at", "name", "size", "duration", "kind")
CARD_ANALYZERS = ("thumbnails", "faces", "speakers", "transcribe", "nsfw")


@dataclass(frozen=True, slots=True)
class MediaFilter:
    kind: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None  # name contains (case-insensitive)
    job_state: str | None = None  # state of the media's latest job
    flagged: bool | None = None  # an accepted nsfw result flagged it
    has_faces: bool | None = None
    has_speech: bool | None = None
    person_id: str | None = None


@dataclass(frozen=True, slots=True)
class LatestJob:
    id: str
    state: str
    progress: float
    progress_message: str
    analyzers: list[str]
    error: str | None


@dataclass(slots=True)
class CardCounts:
    faces: int = 0  # face tracks
    persons: int = 0  # distinct persons seen (faces and voices)
    speakers: int = 0
    words: int = 0  # whitespace-separated words of the transcript
    flags: int = 0  # nsfw spans


@dataclass(slots=True)
class MediaCard:
    media: Media
    view: MediaView | None = None  # the caller's name for it, and whose it is (access.py)
    thumbnail: str | None = None  # blob sha256 of the representative frame
    waveform: str | None = None
    flagged: bool = False
    job: LatestJob | None = None
    counts: CardCounts = field(default_factory=CardCounts)


@dataclass(frozen=True, slots=True)
class MediaPage:
    items: builtins.list[Media]
    total: int


@dataclass(frozen=True, slots=True)
class CardPage:
    items: builtins.list[MediaCard]
    total: int


@dataclass(frozen=True, slots=True)
class ShareOutcome:
    media_id: str
    username: str
    access: str  # the grant's ``via`` after sharing: share, or upload for the owner
    created: bool  # false: they could already see it


class MediaService:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    # ------------------------------------------------------------------ listing
    def list(
        self, principal: Principal, *, kind: str | None = None, limit: int = 50, offset: int = 0
    ) -> MediaPage:
        page = self.cards(principal, MediaFilter(kind=kind), limit=limit, offset=offset)
        return MediaPage([c.media for c in page.items], page.total)

    def cards(
        self,
        principal: Principal,
        where: MediaFilter,
        *,
        sort: str = "-created_at",
        limit: int = 50,
        offset: int = 0,
    ) -> CardPage:
        """One page of grid cards in six queries (seven through grants), whatever its size,
        on one read snapshot. The statements are built once per caller, filter and sort (see
        :func:`_page_statements`) and once per database dialect (:func:`_card_statements`):
        building SQL expressions cost more than running them."""
        count, page = _page_statements(principal, where, sort)
        extra = _card_statements(self.db.dialect)
        jobs = _jobs_statement(principal, self.db.dialect)
        with self.db.reading() as s:
            conn = s.connection()  # plain rows below: no ORM bookkeeping
            total = conn.execute(count).scalar_one()
            media = list(s.execute(page.limit(limit).offset(offset)).scalars())
            views = media_views(s, principal, media)
            cards = {m.id: MediaCard(m, views[m.id]) for m in media}
            if cards:
                ids = {"ids": list(cards)}
                _add_jobs(cards, conn.execute(jobs, ids))
                _add_results(cards, conn.execute(extra.results, ids))
                for media_id, persons in conn.execute(extra.persons, ids):
                    cards[media_id].counts.persons = int(persons)
        return CardPage([cards[m.id] for m in media], int(total))

    # ------------------------------------------------------------------ details
    def get(self, principal: Principal, media_id: str) -> Media:
        with self.db.session() as s:
            return get_media(s, principal, media_id)

    def view(self, principal: Principal, media_id: str) -> tuple[Media, MediaView]:
        """The media with the caller's view of it (their name, the uploader when they may know)."""
        with self.db.session() as s:
            media = get_media(s, principal, media_id)
            return media, media_view(s, principal, media)

    # ------------------------------------------------------------------ sharing
    def share(self, principal: Principal, media_id: str, username: str) -> ShareOutcome:
        """Let ``username`` see a media as its owner does (name, uploader, jobs); audited. Only
        the uploader or an admin (``users:manage``) may; a duplicate viewer keeps their name."""
        with self.db.session() as s:
            media = get_media(s, principal, media_id)
            owner = principal.user_id is not None and media.uploaded_by == principal.user_id
            if not owner and not principal.can(Permission.USERS_MANAGE):
                raise Forbidden(f"only the uploader of media {media_id} or an admin may share it")
            user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None or not user.is_active:
                raise NotFound(f"user {username!r} not found")
            grant = s.get(MediaGrant, (media.id, user.id))
            before = grant.via if grant is not None else None
            if grant is None:
                grant = MediaGrant(media_id=media.id, user_id=user.id, via=VIA_SHARE)
                s.add(grant)
            elif media.uploaded_by != user.id:
                grant.via = VIA_SHARE
            audit.record(
                s,
                actor=principal.actor,
                action="media.share",
                object_type="media",
                object_id=media.id,
                details={"user": user.username, "user_id": user.id, "before": before},
            )
            return ShareOutcome(media.id, user.username, grant.via, before is None)

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

    # ------------------------------------------------------------------ content
    def content(self, principal: Principal, media_id: str) -> Media:
        """The media a caller may download or play (no audit: see ``record_playback``)."""
        principal.require(Permission.MEDIA_DOWNLOAD)
        with self.db.session() as s:
            media = get_media(s, principal, media_id)
        if media.raw_deleted_at is not None:  # results, timeline and thumbnails stay readable
            raise Gone(
                f"the original file of media {media_id} was deleted by a retention rule on "
                f"{media.raw_deleted_at:%Y-%m-%d %H:%M} UTC; its results and timeline remain"
            )
        return media

    def record_playback(self, principal: Principal, media: Media, *, how: str) -> None:
        """One audit event per download or playback session (the request that starts at byte 0)."""
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action="media.download",
                object_type="media",
                object_id=media.id,
                details={"how": how},
            )

    def read(self, media: Media, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The media's bytes, streamed from the blob store (a range never loads the whole file)."""
        if start == 0 and (length is None or length >= media.size):
            return self.blobs.stream(media.sha256)
        return self.blobs.stream_range(
            media.sha256, start, media.size - start if length is None else length
        )

    def download(self, principal: Principal, media_id: str) -> tuple[Media, Iterator[bytes]]:
        media = self.content(principal, media_id)
        self.record_playback(principal, media, how="download")
        return media, self.read(media)

    def artifact(self, principal: Principal, media_id: str, sha256: str) -> Iterator[bytes]:
        """A blob produced by an analyzer for this media (e.g. a thumbnail)."""
        principal.require(Permission.RESULTS_READ)
        for result in self.results(principal, media_id):
            if sha256 in _blob_refs(result.data):
                return self.blobs.stream(sha256)
        raise NotFound(f"no artifact {sha256} for media {media_id}")


# ---------------------------------------------------------------------- listing statements
@dataclass(frozen=True, slots=True)
class _CardStatements:
    results: Executable  # per media: thumbnail, waveform and counts of accepted results
    persons: Executable  # per media: distinct persons seen


@functools.lru_cache(maxsize=256)
def _page_statements(
    principal: Principal, where: MediaFilter, sort: str
) -> tuple[Select[Any], Select[Any]]:
    """(count, page without limit/offset) for this caller, filter and sort; cached, since a
    client pages and refreshes the same listing over and over."""
    name = name_column(principal)
    query = _filtered(visible_media(principal), where, name)
    count = select(func.count()).select_from(query.subquery())
    return count, query.order_by(*_media_order(sort, name))


@functools.lru_cache(maxsize=256)
def _jobs_statement(principal: Principal, dialect: str) -> Select[Any]:
    """The latest job per media (``ids``) among those the caller may see (not others' on a
    duplicate)."""
    visible = job_filter(principal)
    ranked = (
        select(
            Job.id,
            Job.media_id,
            Job.state,
            Job.progress,
            Job.progress_message,
            Job.analyzers,
            Job.error,
            func.row_number()
            .over(partition_by=Job.media_id, order_by=(Job.created_at.desc(), Job.id.desc()))
            .label("rank"),
        )
        .where(id_in(Job.media_id, dialect))
        .where(*([] if visible is None else [visible]))
        .subquery()
    )
    return select(ranked).where(ranked.c.rank == 1)


@functools.cache
def _card_statements(dialect: str) -> _CardStatements:
    data, analyzer = AnalysisResult.data, AnalysisResult.analyzer

    def array_len(key: str) -> ColumnElement[Any]:
        if dialect == "postgresql":
            return func.jsonb_array_length(data[key])
        return func.json_array_length(data, f"$.{key}")

    text = func.trim(data["text"].as_string())
    words = case(
        (
            func.length(text) > 0,
            func.length(text) - func.length(func.replace(text, " ", "")) + 1,
        ),
        else_=0,
    )
    results = select(
        AnalysisResult.media_id,
        analyzer,
        case((analyzer == "thumbnails", data["thumbnail"].as_string())),
        case((analyzer == "thumbnails", data["waveform"].as_string())),
        case((analyzer == "faces", array_len("tracks"))),
        case((analyzer == "speakers", array_len("speakers"))),
        case((analyzer == "transcribe", words)),
        case((analyzer == "nsfw", array_len("spans"))),
        case((analyzer == "nsfw", data["flagged"].as_boolean())),
    ).where(
        id_in(AnalysisResult.media_id, dialect),
        AnalysisResult.accepted.is_(True),
        analyzer.in_(CARD_ANALYZERS),
    )
    persons = (
        select(Observation.media_id, func.count(func.distinct(Observation.person_id)))
        .where(id_in(Observation.media_id, dialect), Observation.person_id.is_not(None))
        .group_by(Observation.media_id)
    )
    return _CardStatements(results, persons)


def _add_jobs(cards: dict[str, MediaCard], rows: Iterable[Any]) -> None:
    for row in rows:
        cards[row.media_id].job = LatestJob(
            row.id,
            row.state,
            row.progress,
            row.progress_message,
            list(row.analyzers),
            row.error,
        )


def _add_results(cards: dict[str, MediaCard], rows: Iterable[Any]) -> None:
    for media_id, name, thumb, wave, tracks, speakers, n_words, spans, flagged in rows:
        card = cards[media_id]
        if name == "thumbnails":
            card.thumbnail, card.waveform = thumb, wave
        elif name == "faces":
            card.counts.faces = int(tracks or 0)
        elif name == "speakers":
            card.counts.speakers = int(speakers or 0)
        elif name == "transcribe":
            card.counts.words = int(n_words or 0)
        elif name == "nsfw":
            card.counts.flags = int(spans or 0)
            card.flagged = bool(flagged)


def _filtered(query: Select[Any], where: MediaFilter, name: ColumnElement[Any]) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = []
    if where.kind:
        conditions.append(Media.kind == where.kind)
    if where.created_from:
        conditions.append(Media.created_at >= where.created_from)
    if where.created_to:
        conditions.append(Media.created_at < where.created_to)
    if where.q:
        escaped = where.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(name.ilike(f"%{escaped}%", escape="\\"))
    if where.job_state:
        latest = (
            select(Job.state)
            .where(Job.media_id == Media.id)
            .order_by(Job.created_at.desc(), Job.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        conditions.append(latest == where.job_state)
    data = AnalysisResult.data
    for wanted, analyzer, test in (
        (where.flagged, "nsfw", data["flagged"].as_boolean().is_(True)),
        (where.has_faces, "faces", data["count"].as_integer() > 0),
    ):
        if wanted is not None:
            conditions.append(_has_result(analyzer, test) == wanted)
    if where.has_speech is not None:
        speech = _has_result("vad", data["speech_s"].as_float() > 0) | _has_result(
            "transcribe", func.length(func.trim(data["text"].as_string())) > 0
        )
        conditions.append(speech == where.has_speech)
    if where.person_id:
        conditions.append(
            exists().where(
                Observation.media_id == Media.id, Observation.person_id == where.person_id
            )
        )
    return query.where(and_(*conditions)) if conditions else query


def _has_result(analyzer: str, test: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        AnalysisResult.media_id == Media.id,
        AnalysisResult.analyzer == analyzer,
        AnalysisResult.accepted.is_(True),
        test,
    )


def _media_order(sort: str, name_col: ColumnElement[Any]) -> Sequence[Any]:
    descending = sort.startswith("-")
    name = sort.removeprefix("-")
    column: Any = {
        "created_at": Media.created_at,
        "name": func.lower(name_col),
        "size": Media.size,
        "duration": Media.info["duration_s"].as_float(),
        "kind": Media.kind,
    }.get(name)
    if column is None:
        raise InvalidInput(f"unknown sort {sort!r}; one of {MEDIA_SORTS}")
    ordered = column.desc() if descending else column.asc()
    if name != "created_at":  # NOT NULL: the plain order, which ix_media_created serves
        ordered = ordered.nulls_last()
    tie = Media.id.desc() if descending else Media.id.asc()
    return (ordered, tie)


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
