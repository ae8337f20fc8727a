"""Request and response bodies of the public API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from aima.api.schemas_compute import EstimateOut
from aima.results import load_result
from aima.results.schema import ResultData
from aima.services.access import MediaView
from aima.store.models import AnalysisResult, Job, JobChunk, Media, User


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. not_found, csrf_failed")
    message: str = Field(description="what happened, to what, and what to do")
    details: Any | None = Field(default=None, description="structured context, when there is any")


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


_ERROR_TEXT = {
    304: "not modified (the ETag in If-None-Match matches)",
    400: "bad request",
    401: "not authenticated: no or an invalid token or session cookie",
    403: "forbidden: the role lacks the permission, or a cookie request lacks X-CSRF-Token",
    404: "not found (or not visible to the caller)",
    402: "over budget: the job would pass a hard spending limit",
    409: "conflict",
    410: "gone: the file was deleted by a retention rule (its results remain)",
    413: "payload too large",
    415: "unsupported media",
    416: "range not satisfiable",
    422: "invalid request: a parameter or body field is out of range or malformed",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the shared error body (304: no body)."""
    return {
        code: {"description": _ERROR_TEXT[code]}
        if code == 304
        else {"model": ErrorOut, "description": _ERROR_TEXT[code]}
        for code in codes
    }


class SessionOut(BaseModel):
    user_id: str
    username: str
    role: str
    csrf_token: str = Field(description="echo in X-CSRF-Token on POST/PUT/PATCH/DELETE")
    expires_in: int = Field(description="seconds until the session cookie's access token expires")


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(Strict):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            id=u.id,
            username=u.username,
            role=u.role,
            is_active=u.is_active,
            created_at=u.created_at,
        )


class UserIn(Strict):
    username: str
    password: str
    role: str


class UserPatch(Strict):
    role: str | None = None
    password: str | None = None
    is_active: bool | None = None


ACCESS_DESCRIPTION = (
    "why the caller sees it: all (a role that reads all media), upload (they uploaded it), "
    "duplicate (they uploaded the same bytes: their own name, no uploader) or share"
)
NAME_DESCRIPTION = (
    "the caller's name for the media: the original file name for roles that read all media "
    "and for the uploader, the name they uploaded it under for a duplicate upload"
)


class MediaOut(BaseModel):
    id: str
    kind: str
    format: str
    mime: str
    size: int
    sha256: str
    original_name: str = Field(description=NAME_DESCRIPTION)
    info: dict[str, Any]
    uploaded_by: str | None = Field(description="None where the caller may not know it")
    created_at: datetime
    access: str = Field(default="all", description=ACCESS_DESCRIPTION)
    library: str = Field(default="default", description="whose retention rules apply")
    raw_deleted_at: datetime | None = Field(
        default=None, description="when a retention rule deleted the original file (410 since)"
    )

    @classmethod
    def of(cls, m: Media, view: MediaView | None = None) -> MediaOut:
        """``view`` (access.media_views) decides the name and uploader the caller is shown."""
        return cls(
            id=m.id,
            kind=m.kind,
            format=m.format,
            mime=m.mime,
            size=m.size,
            sha256=m.sha256,
            original_name=view.name if view else m.original_name,
            info=m.info,
            uploaded_by=view.uploaded_by if view else m.uploaded_by,
            created_at=m.created_at,
            access=view.access if view else "all",
            library=m.library,
            raw_deleted_at=m.raw_deleted_at,
        )


class ShareIn(Strict):
    username: str = Field(min_length=1, max_length=64, description="who may see the media")


class ShareOut(BaseModel):
    media_id: str
    username: str
    access: str = Field(description="share, or upload when they are its uploader")
    created: bool = Field(description="false: they could see it already")


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class UploadOutcome(BaseModel):
    name: str
    status: str
    media_id: str | None = None
    job_id: str | None = None
    kind: str | None = None
    sha256: str | None = None
    size: int | None = None
    error: dict[str, Any] | None = None


class UploadOut(BaseModel):
    created: int
    duplicates: int
    rejected: int
    files: list[UploadOutcome]


class JobIn(Strict):
    media_id: str
    analyzers: list[str] | None = Field(
        default=None, description="default: AIMA_JOBS__DEFAULT_ANALYZERS"
    )
    priority: int = Field(default=0, ge=-1000, le=1000)
    idempotency_key: str | None = Field(default=None, max_length=128)
    project: str | None = Field(
        default=None, min_length=1, max_length=64, description="the project whose budget pays"
    )


class JobPatch(Strict):
    priority: int = Field(ge=-1000, le=1000)


class JobOut(BaseModel):
    id: str
    media_id: str
    media_name: str | None = Field(default=None, description="the media's original file name")
    analyzers: list[str]
    state: str
    priority: int
    progress: float
    progress_message: str
    attempts: int
    max_attempts: int
    cancel_requested: bool
    dead_letter: bool
    error: str | None
    outcome: dict[str, Any]
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    project: str | None = None
    estimate: EstimateOut | None = Field(default=None, description="shown before it ran")
    cost_actual: float = Field(default=0.0, description="what it actually cost so far")
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None

    @classmethod
    def of(cls, j: Job, media_name: str | None = None) -> JobOut:
        return cls(
            id=j.id,
            media_id=j.media_id,
            media_name=media_name,
            analyzers=list(j.analyzers),
            state=j.state,
            priority=j.priority,
            progress=j.progress,
            progress_message=j.progress_message,
            attempts=j.attempts,
            max_attempts=j.max_attempts,
            cancel_requested=j.cancel_requested,
            dead_letter=j.dead_letter,
            error=j.error,
            outcome=j.outcome,
            created_by=j.created_by,
            created_at=j.created_at,
            started_at=j.started_at,
            finished_at=j.finished_at,
            project=j.project,
            estimate=EstimateOut.of(j.estimate or {}),
            cost_actual=round(j.cost_actual or 0.0, 6),
            confirmed_by=j.confirmed_by,
            confirmed_at=j.confirmed_at,
        )


class ChunkOut(BaseModel):
    analyzer: str
    index: int
    start_s: float | None
    end_s: float | None
    status: str
    attempts: int
    duration_s: float | None
    error: str | None

    @classmethod
    def of(cls, c: JobChunk) -> ChunkOut:
        return cls(
            analyzer=c.analyzer,
            index=c.chunk_index,
            start_s=c.start_s,
            end_s=c.end_s,
            status=c.status,
            attempts=c.attempts,
            duration_s=c.duration_s,
            error=c.error,
        )


class ResultOut(BaseModel):
    id: str
    media_id: str
    job_id: str
    analyzer: str
    analyzer_version: str
    model_id: str
    config: dict[str, Any]
    config_hash: str
    data: ResultData = Field(description="the analyzer's typed result (discriminated by analyzer)")
    created_at: datetime
    accepted: bool

    @classmethod
    def of(cls, r: AnalysisResult) -> ResultOut:
        return cls(
            id=r.id,
            media_id=r.media_id,
            job_id=r.job_id,
            analyzer=r.analyzer,
            analyzer_version=r.analyzer_version,
            model_id=r.model_id,
            config=r.config,
            config_hash=r.config_hash,
            data=load_result(r.analyzer, r.data).dump(),
            created_at=r.created_at,
            accepted=r.accepted,
        )


class JobDetailOut(JobOut):
    chunks: list[ChunkOut]
    results: list[ResultOut]


class AuditOut(BaseModel):
    id: int
    ts: datetime
    actor: str
    action: str
    object_type: str | None
    object_id: str | None
    outcome: str
    details: dict[str, Any]
    hash: str
