"""Who is asking, and which objects they may see. Checked on every object, not only per route."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import Session

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


def get_media(s: Session, principal: Principal, media_id: str) -> Media:
    media = s.execute(visible_media(principal).where(Media.id == media_id)).scalar_one_or_none()
    if media is None:  # same answer for "absent" and "not yours": no probing of ids
        raise NotFound(f"media {media_id} not found")
    return media


def visible_jobs(principal: Principal) -> Select[Job]:
    query = select(Job)
    if principal.can(Permission.JOBS_READ_ALL):
        return query
    principal.require(Permission.JOBS_READ)
    granted = exists().where(
        MediaGrant.media_id == Job.media_id, MediaGrant.user_id == principal.user_id
    )
    return query.where(or_(Job.created_by == principal.user_id, granted))


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
