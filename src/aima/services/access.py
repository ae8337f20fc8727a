"""Who is asking, and which objects they may see. Checked on every object, not only per route.

A media is shown to each caller through their own *view* (``MediaView``): roles that read
all media see the original name and uploader; an uploader sees the name they uploaded it
under; a user who uploaded the same bytes again (a *duplicate*) sees only their own name,
never the first uploader's name, id, jobs or corrections; a user it was *shared* with sees
the owner's name and uploader. See docs/security.md, "Duplicate uploads and sharing".
"""

from __future__ import annotations

import functools
import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Executable,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import QueryableAttribute, Session

from aima.core.errors import Forbidden, NotFound
from aima.security.permissions import Permission, Role, has_permission
from aima.store.models import Job, Media, MediaGrant


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str | None
    username: str
    role: str
    via: str = "api"  # "api" or "cli"

    @property
    def actor(self) -> str:
        return f"{self.via}:{self.username}"

    def can(self, permission: Permission) -> bool:
        return has_permission(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(f"role {self.role!r} lacks permission {permission.value!r}")


def cli_principal() -> Principal:
    """The local operator: whoever can run the CLI against the data directory is an admin."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return Principal(user_id=None, username=name, role=Role.ADMIN, via="cli")


def visible_media(principal: Principal) -> Select[Media]:
    query = select(Media)
    if principal.can(Permission.MEDIA_READ_ALL):
        return query
    principal.require(Permission.MEDIA_READ)
    granted = exists().where(
        MediaGrant.media_id == Media.id, MediaGrant.user_id == principal.user_id
    )
    return query.where(granted)


#: How a grant came about (``MediaGrant.via``) and, with ``all``, how a caller sees a media.
VIA_UPLOAD, VIA_DUPLICATE, VIA_SHARE, ACCESS_ALL = "upload", "duplicate", "share", "all"


@dataclass(frozen=True, slots=True)
class MediaView:
    """What one caller is shown of one media: its name, whose it is, and why they see it."""

    media_id: str
    name: str
    uploaded_by: str | None  # None for a duplicate viewer: the first uploader stays unknown
    access: str  # all | upload | duplicate | share

    @property
    def restricted(self) -> bool:
        """Only what the bytes carry: no other user's name, id, jobs or corrections."""
        return self.access == VIA_DUPLICATE


def media_views(s: Session, principal: Principal, media: Iterable[Media]) -> dict[str, MediaView]:
    """The caller's view of each media (by id), in one query whatever the number of media."""
    items = list(media)
    if principal.can(Permission.MEDIA_READ_ALL):
        return {m.id: MediaView(m.id, m.original_name, m.uploaded_by, ACCESS_ALL) for m in items}
    grants: dict[str, Any] = {}
    if items and principal.user_id:
        params = {"user_id": principal.user_id, "ids": [m.id for m in items]}
        conn = s.connection()
        grants = {g.media_id: g for g in conn.execute(_grants_of_user(conn.dialect.name), params)}
    return {m.id: _view(m, grants.get(m.id), principal.user_id) for m in items}


@functools.cache
def _grants_of_user(dialect: str) -> Executable:
    """One user's grants on a set of media (``ids``), as plain rows."""
    return select(MediaGrant.media_id, MediaGrant.display_name, MediaGrant.via).where(
        MediaGrant.user_id == bindparam("user_id"), id_in(MediaGrant.media_id, dialect)
    )


def id_in(column: QueryableAttribute[str], dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the ``ids`` parameter (a list of ids). PostgreSQL gets one array
    parameter (``= ANY``): the same statement text whatever the number of ids, so the driver
    prepares it once; elsewhere an ``IN`` list expanded at execution."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(String)))
    return column.in_(bindparam("ids", expanding=True))


class _Grant(Protocol):
    display_name: str | None
    via: str


def media_view(s: Session, principal: Principal, media: Media) -> MediaView:
    return media_views(s, principal, [media])[media.id]


def media_names(s: Session, principal: Principal, media_ids: Iterable[str]) -> dict[str, str]:
    """The caller's name for each media id (ids of media that do not exist are left out)."""
    ids = set(media_ids)
    if not ids:
        return {}
    rows = s.execute(select(Media).where(Media.id.in_(ids))).scalars()
    return {i: v.name for i, v in media_views(s, principal, rows).items()}


def _view(m: Media, grant: _Grant | None, user_id: str | None) -> MediaView:
    own = grant.display_name if grant is not None and grant.display_name else None
    if m.uploaded_by is not None and m.uploaded_by == user_id:
        return MediaView(m.id, own or m.original_name, m.uploaded_by, VIA_UPLOAD)
    if grant is not None and grant.via == VIA_SHARE:
        return MediaView(m.id, own or m.original_name, m.uploaded_by, VIA_SHARE)
    # a duplicate upload, or a grant from before views existed that is not the uploader's:
    # their own name if they gave one, else the media id, never the first uploader's name
    return MediaView(m.id, own or m.id, None, VIA_DUPLICATE)


def name_column(principal: Principal) -> ColumnElement[Any]:
    """The caller's name of ``Media`` as SQL, so filtering and sorting by name use it too
    (a duplicate viewer cannot probe the first uploader's name through ``q`` or ``sort``)."""
    if principal.can(Permission.MEDIA_READ_ALL):
        return Media.original_name.expression
    uid = principal.user_id
    own = func.coalesce(MediaGrant.display_name, Media.original_name)
    name = case(
        (and_(Media.uploaded_by.is_not(None), Media.uploaded_by == uid), own),
        (MediaGrant.via == VIA_SHARE, own),
        else_=func.coalesce(MediaGrant.display_name, Media.id),
    )
    return (
        select(name)
        .where(MediaGrant.media_id == Media.id, MediaGrant.user_id == uid)
        .correlate(Media)
        .scalar_subquery()
    )


def get_media(s: Session, principal: Principal, media_id: str) -> Media:
    media = s.execute(visible_media(principal).where(Media.id == media_id)).scalar_one_or_none()
    if media is None:  # same answer for "absent" and "not yours": no probing of ids
        raise NotFound(f"media {media_id} not found")
    return media


def visible_jobs(principal: Principal) -> Select[Job]:
    """Jobs a caller may see: all (``jobs:read_all``), else their own and every job on media
    they uploaded or that was shared with them, never other users' jobs on a duplicate."""
    query = select(Job)
    if principal.can(Permission.JOBS_READ_ALL):
        return query
    principal.require(Permission.JOBS_READ)
    return query.where(_own_jobs(principal))


def job_filter(principal: Principal) -> ColumnElement[bool] | None:
    """The condition on ``Job`` for jobs this caller may see (None: every job; no jobs at all
    for a caller without ``jobs:read``), for listings that show jobs next to media."""
    if principal.can(Permission.JOBS_READ_ALL):
        return None
    if not principal.can(Permission.JOBS_READ):
        return Job.id.is_(None)
    return _own_jobs(principal)


def _own_jobs(principal: Principal) -> ColumnElement[bool]:
    uid = principal.user_id
    # never correlated: a listing that joins Media must not turn these into "this row's media"
    uploaded = (
        select(Media.id)
        .where(Media.uploaded_by.is_not(None), Media.uploaded_by == uid)
        .correlate(None)
    )
    shared = (
        select(MediaGrant.media_id)
        .where(MediaGrant.user_id == uid, MediaGrant.via == VIA_SHARE)
        .correlate(None)
    )
    return or_(Job.created_by == uid, Job.media_id.in_(uploaded), Job.media_id.in_(shared))


def get_job(s: Session, principal: Principal, job_id: str) -> Job:
    job = s.execute(visible_jobs(principal).where(Job.id == job_id)).scalar_one_or_none()
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


def require_manage(principal: Principal, job: Job) -> None:
    if principal.can(Permission.JOBS_MANAGE_ALL):
        return
    principal.require(Permission.JOBS_MANAGE)
    if job.created_by != principal.user_id:
        raise Forbidden(f"job {job.id} was submitted by another user; you may only manage your own")
