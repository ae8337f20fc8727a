from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import MediaOut, Page, ResultOut, UploadOut, UploadOutcome
from aima.api.uploads import copy_limited
from aima.core.errors import BadRequest, PayloadTooLarge
from aima.results.schema import Timeline
from aima.security.permissions import Permission
from aima.services.access import Principal

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
        with tempfile.TemporaryDirectory(dir=spool) as tmp:
            path = Path(tmp) / "upload"
            try:
                copy_limited(upload_file, path, limit, name)
            except PayloadTooLarge as exc:
                outcomes.append(UploadOutcome(name=name, status="rejected", error=exc.to_dict()))
                continue
            outcome = runtime.ingest.ingest_file(
                path,
                principal,
                original_name=name,
                analyze=analyze,
                analyzers=names,
                priority=priority,
            )
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
    else:  # every file rejected: the first file's error class decides (413 / 415)
        first = outcomes[0].error or {}
        status = 413 if first.get("code") == "payload_too_large" else 415
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


@router.get("")
def list_media(
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.MEDIA_READ),
    kind: Annotated[str | None, Query(pattern="^(image|video|audio)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[MediaOut]:
    page = runtime.media.list(principal, kind=kind, limit=limit, offset=offset)
    return Page[MediaOut](
        items=[MediaOut.of(m) for m in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get("/{media_id}")
def get_media(
    media_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.MEDIA_READ)
) -> MediaOut:
    return MediaOut.of(runtime.media.get(principal, media_id))


@router.get("/{media_id}/results")
def media_results(
    media_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.RESULTS_READ)
) -> list[ResultOut]:
    return [ResultOut.of(r) for r in runtime.media.results(principal, media_id)]


@router.get("/{media_id}/content")
def download(
    media_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.MEDIA_DOWNLOAD)
) -> StreamingResponse:
    media, chunks = runtime.media.download(principal, media_id)
    return StreamingResponse(
        chunks,
        media_type=media.mime,
        headers={
            "Content-Length": str(media.size),
            "Content-Disposition": f'attachment; filename="{media.id}.{media.format}"',
            "X-Content-Type-Options": "nosniff",
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
