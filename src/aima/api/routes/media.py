from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

from aima.api.deps import Caller, RuntimeDep
from aima.api.errors import error_body
from aima.api.ranges import RangeNotSatisfiable, etag_matches, parse_range
from aima.api.reads import read
from aima.api.schemas import (
    MediaOut,
    Page,
    ResultOut,
    ShareIn,
    ShareOut,
    UploadOut,
    UploadOutcome,
    error_responses,
)
from aima.api.schemas_web import MediaCardOut
from aima.api.uploads import copy_limited
from aima.core.errors import BadRequest, PayloadTooLarge
from aima.jobs.states import JobState
from aima.results.schema import Timeline
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.erase_media import EraseReport, MediaEraser
from aima.services.media import MediaFilter
from aima.services.quotas import QuotaExceeded
from aima.services.retention import DEFAULT_LIBRARY, LIBRARY_PATTERN

MEDIA_SORT_PATTERN = "^-?(created_at|name|size|duration|kind)$"
MAX_OFFSET = 10**9

router = APIRouter(prefix="/api/v1/media", tags=["media"])


@router.post("", response_model=UploadOut, status_code=201)
def upload(
    request: Request,
    runtime: RuntimeDep,
    files: Annotated[list[UploadFile], File(description="one or more media files")],
    principal: Principal = Caller(Permission.MEDIA_UPLOAD),
    analyze: Annotated[bool, Form()] = True,
    analyzers: Annotated[
        str | None, Form(description="comma-separated; default analyzers if empty")
    ] = None,
    priority: Annotated[int, Form(ge=-1000, le=1000)] = 0,
    library: Annotated[
        str,
        Form(
            pattern=LIBRARY_PATTERN,
            max_length=64,
            description="the library whose retention rules apply (a-z, 0-9, _ and -)",
        ),
    ] = DEFAULT_LIBRARY,
) -> JSONResponse:
    """Store media; each file gets its own outcome (created, duplicate or rejected with a reason)."""
    limit = runtime.settings.limits.max_bytes
    if len(files) > runtime.settings.api.max_upload_files:
        raise BadRequest(f"at most {runtime.settings.api.max_upload_files} files per request")
    names = [a.strip() for a in analyzers.split(",") if a.strip()] if analyzers else None
    if names:
        runtime.registry.resolve(names)  # unknown analyzer: one clear 422 before anything is stored
    spool = runtime.settings.data_dir / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    outcomes: list[UploadOutcome] = []
    for upload_file in files:
        name = upload_file.filename or "unnamed"
        try:  # this file's share of the day's quotas, held until it is stored or refused
            held = runtime.quotas.reserve_upload(principal.user_id, upload_file.size or 0)
        except QuotaExceeded as over:  # uploads/bytes per day used up: this file is not stored
            outcomes.append(UploadOutcome(name=name, status="rejected", error=over.to_dict()))
            continue
        try:
            with tempfile.TemporaryDirectory(dir=spool) as tmp:
                path = Path(tmp) / "upload"
                try:
                    copy_limited(upload_file, path, limit, name)
                except PayloadTooLarge as exc:
                    error = exc.to_dict()
                    outcomes.append(UploadOutcome(name=name, status="rejected", error=error))
                    continue
                outcome = runtime.ingest.ingest_file(
                    path,
                    principal,
                    original_name=name,
                    analyze=analyze,
                    analyzers=names,
                    priority=priority,
                    library=library,
                    reservation=held,
                )
        finally:
            runtime.quotas.release(held)  # stored: counted by itself; refused: nothing held
        outcomes.append(UploadOutcome(**outcome.to_dict()))
    body = UploadOut(
        created=sum(o.status == "created" for o in outcomes),
        duplicates=sum(o.status == "duplicate" for o in outcomes),
        rejected=sum(o.status == "rejected" for o in outcomes),
        files=outcomes,
    )
    if body.created:
        status = 201
    elif body.duplicates:
        status = 200
    else:  # every file rejected: the first file's error class decides (413 / 415 / 429)
        first = outcomes[0].error or {}
        status = {"payload_too_large": 413, "quota_exceeded": 429}.get(str(first.get("code")), 415)
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


def _utc(value: datetime | None) -> datetime | None:
    """A timestamp without a zone is read as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("", responses=error_responses(401, 403, 422))
async def list_media(
    request: Request,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.MEDIA_READ),
    kind: Annotated[str | None, Query(pattern="^(image|video|audio)$")] = None,
    created_from: Annotated[datetime | None, Query(description="created at or after")] = None,
    created_to: Annotated[datetime | None, Query(description="created before")] = None,
    q: Annotated[str | None, Query(max_length=200, description="name contains")] = None,
    job_state: Annotated[JobState | None, Query(description="state of the latest job")] = None,
    flagged: Annotated[bool | None, Query(description="nsfw spans found")] = None,
    has_faces: bool | None = None,
    has_speech: bool | None = None,
    person_id: Annotated[str | None, Query(max_length=64)] = None,
    sort: Annotated[
        str, Query(pattern=MEDIA_SORT_PATTERN, description="field; a leading - sorts descending")
    ] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[MediaCardOut]:
    """Media as grid cards (thumbnail, duration, latest job, counts), filtered, sorted, paged."""
    where = MediaFilter(
        kind=kind,
        created_from=_utc(created_from),
        created_to=_utc(created_to),
        q=q or None,
        job_state=job_state.value if job_state else None,
        flagged=flagged,
        has_faces=has_faces,
        has_speech=has_speech,
        person_id=person_id,
    )
    page = await read(
        request, runtime.media.cards, principal, where, sort=sort, limit=limit, offset=offset
    )
    return Page[MediaCardOut](
        items=[MediaCardOut.of(c) for c in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get("/{media_id}")
def get_media(
    media_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.MEDIA_READ)
) -> MediaOut:
    """The media as the caller sees it: their own name for it; the uploader only where they
    may know it (not after a duplicate upload of someone else's file)."""
    return MediaOut.of(*runtime.media.view(principal, media_id))


@router.post("/{media_id}/share", responses=error_responses(401, 403, 404, 422))
def share_media(
    media_id: str,
    body: ShareIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.MEDIA_UPLOAD),
) -> ShareOut:
    """Let another user see this media as its owner does (its name, uploader and jobs);
    audited. Only the uploader or an admin may share."""
    done = runtime.media.share(principal, media_id, body.username)
    return ShareOut(
        media_id=done.media_id, username=done.username, access=done.access, created=done.created
    )


@router.delete("/{media_id}", responses=error_responses(401, 403, 404, 409))
def delete_media(
    media_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.MEDIA_UPLOAD)
) -> EraseReport:
    """Delete a media with its jobs, results, observations, text and grants (audited); its blobs
    go when nothing else references them. Admins: any media; others: media they uploaded."""
    eraser = MediaEraser(runtime.db, runtime.blobs, runtime.identity)
    return eraser.erase(principal, media_id)


@router.get("/{media_id}/results")
def media_results(
    media_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.RESULTS_READ)
) -> list[ResultOut]:
    return [ResultOut.of(r) for r in runtime.media.results(principal, media_id)]


@router.get(
    "/{media_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the whole file", "content": {"application/octet-stream": {}}},
        206: {"description": "the requested byte range (Content-Range)"},
        **error_responses(304, 401, 403, 404, 410, 416, 422),
    },
)
def content(
    media_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.MEDIA_DOWNLOAD),
    download: Annotated[bool, Query(description="as an attachment, not inline")] = False,
    range_header: Annotated[str | None, Header(alias="Range", max_length=200)] = None,
    if_none_match: Annotated[str | None, Header(max_length=1000)] = None,
    if_range: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The media's bytes for players and downloads: a single HTTP Range (206), ETag (the sha256)
    with 304 on If-None-Match. Audited once per playback: requests that start at byte 0."""
    media = runtime.media.content(principal, media_id)
    etag = f'"{media.sha256}"'
    disposition = "attachment" if download else "inline"
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Content-Disposition": f'{disposition}; filename="{media.id}.{media.format}"',
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    if if_range is not None and if_range.strip() != etag:
        range_header = None  # the client's copy is stale: send the whole file
    try:
        byte_range = parse_range(range_header, media.size)
    except RangeNotSatisfiable as exc:
        return JSONResponse(
            error_body(exc.code, exc.message),
            416,
            headers={**headers, "Content-Range": f"bytes */{media.size}"},
        )
    if byte_range is None or byte_range.start == 0:
        runtime.media.record_playback(principal, media, how="download" if download else "inline")
    if byte_range is None:
        return StreamingResponse(
            runtime.media.read(media),
            media_type=media.mime,
            headers={**headers, "Content-Length": str(media.size)},
        )
    return StreamingResponse(
        runtime.media.read(media, byte_range.start, byte_range.length),
        status_code=206,
        media_type=media.mime,
        headers={
            **headers,
            "Content-Length": str(byte_range.length),
            "Content-Range": byte_range.content_range(media.size),
        },
    )


@router.get("/{media_id}/artifacts/{sha256}")
def artifact(
    media_id: str,
    sha256: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.RESULTS_READ),
) -> StreamingResponse:
    chunks = runtime.media.artifact(principal, media_id, sha256)
    head = next(chunks, b"")
    media_type = "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"

    def body() -> Iterator[bytes]:
        yield head
        yield from chunks

    return StreamingResponse(body(), media_type=media_type)


@router.get("/{media_id}/timeline")
def timeline(
    media_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.RESULTS_READ)
) -> Timeline:
    """One timeline fused from the accepted results of every analyzer (who, what, when)."""
    return Timeline.model_validate(runtime.timelines.timeline(principal, media_id))


@router.get("/{media_id}/transcript")
def transcript(
    media_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.RESULTS_READ),
    format: Annotated[str, Query(pattern="^(vtt|srt)$")] = "vtt",
) -> Response:
    """The transcript with speaker labels as WebVTT or SubRip."""
    body = runtime.timelines.transcript(principal, media_id, format)
    media_type = "text/vtt" if format == "vtt" else "application/x-subrip"
    return Response(
        body,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{media_id}.{format}"'},
    )
