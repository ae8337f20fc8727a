from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from aima.api.deps import Caller, RuntimeDep
from aima.api.reads import read
from aima.api.schemas import (
    ChunkOut,
    JobDetailOut,
    JobIn,
    JobOut,
    JobPatch,
    Page,
    ResultOut,
    error_responses,
)
from aima.api.schemas_web import PlanIn, PlanOut
from aima.jobs.states import JobState
from aima.security.permissions import Permission
from aima.services.access import Principal

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

JOB_SORT_PATTERN = "^-?(created_at|priority|state|progress|finished_at)$"
MAX_OFFSET = 10**9


@router.post(
    "", response_model=JobOut, status_code=201, responses=error_responses(402, 404, 409, 422)
)
def submit(
    body: JobIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.JOBS_CREATE),
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> JSONResponse:
    """Queue analyzers for a media. The same idempotency key (body or header) returns the same job.

    The job's estimate is stored with it. Estimated above ``compute.confirm_above``: the job
    waits in ``awaiting_confirmation`` (``POST /jobs/{id}/confirm``); past a hard budget: 402,
    nothing queued."""
    job, created = runtime.jobs.submit(
        principal,
        body.media_id,
        body.analyzers or runtime.settings.jobs.default_analyzers,
        priority=body.priority,
        idempotency_key=body.idempotency_key or idempotency_key,
        project=body.project,
    )
    return JSONResponse(JobOut.of(job).model_dump(mode="json"), status_code=201 if created else 200)


@router.post("/plan", responses=error_responses(401, 403, 404, 422))
def plan(
    body: PlanIn, runtime: RuntimeDep, principal: Principal = Caller(Permission.JOBS_CREATE)
) -> PlanOut:
    """Preview a job without queueing it: the analyzers that would run (requirements added,
    disabled/skipped/reused ones with reasons), chunk counts, estimated compute seconds per
    analyzer (a prior table refined by this machine's measured chunk durations) and the cost
    estimate: device, money (here and per rented GPU offer), budget warnings."""
    names = body.analyzers or runtime.settings.jobs.default_analyzers
    plan = runtime.jobs.plan(principal, body.media_id, names, project=body.project)
    return PlanOut.of(plan, runtime.settings.compute.executor)


@router.get("", responses=error_responses(401, 403, 422))
async def list_jobs(
    request: Request,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.JOBS_READ),
    state: JobState | None = None,
    media_id: Annotated[str | None, Query(max_length=64)] = None,
    sort: Annotated[
        str, Query(pattern=JOB_SORT_PATTERN, description="field; a leading - sorts descending")
    ] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[JobOut]:
    page = await read(
        request,
        runtime.jobs.list,
        principal,
        state=state.value if state else None,
        media_id=media_id,
        sort=sort,
        limit=limit,
        offset=offset,
    )
    return Page[JobOut](
        items=[JobOut.of(j, page.media_names.get(j.id)) for j in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/{job_id}")
def get_job(
    job_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.JOBS_READ)
) -> JobDetailOut:
    job, chunks, results = runtime.jobs.detail(principal, job_id)
    return JobDetailOut(
        **JobOut.of(job).model_dump(),
        chunks=[ChunkOut.of(c) for c in chunks],
        results=[ResultOut.of(r) for r in results],
    )


@router.post("/{job_id}/cancel")
def cancel(
    job_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.JOBS_MANAGE)
) -> JobOut:
    """Queued: cancelled at once. Running: stops at the next chunk boundary, keeping finished chunks."""
    return JobOut.of(runtime.jobs.cancel(principal, job_id))


@router.post("/{job_id}/confirm", responses=error_responses(402, 403, 404, 409))
def confirm(
    job_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.JOBS_MANAGE)
) -> JobOut:
    """Accept a job's estimated cost (its creator, or an admin): it joins the queue.
    402 when spend has since grown so the job would pass a hard budget."""
    return JobOut.of(runtime.jobs.confirm(principal, job_id))


@router.post("/{job_id}/reject", responses=error_responses(403, 404, 409))
def reject(
    job_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.JOBS_MANAGE)
) -> JobOut:
    """Decline a job's estimated cost (its creator, or an admin): cancelled without running."""
    return JobOut.of(runtime.jobs.reject(principal, job_id))


@router.post("/{job_id}/retry")
def retry(
    job_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.JOBS_MANAGE)
) -> JobOut:
    return JobOut.of(runtime.jobs.retry(principal, job_id))


@router.patch("/{job_id}")
def reprioritise(
    job_id: str,
    body: JobPatch,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.JOBS_MANAGE),
) -> JobOut:
    return JobOut.of(runtime.jobs.set_priority(principal, job_id, body.priority))


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "text/event-stream", "content": {"text/event-stream": {}}},
        **error_responses(401, 403, 404, 422),
    },
)
async def events(
    job_id: str,
    request: Request,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.JOBS_READ),
    interval_s: Annotated[float, Query(ge=0.1, le=10)] = 0.5,
    heartbeat_s: Annotated[float, Query(ge=1, le=60)] = 15,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """Server-Sent Events: a ``progress`` event whenever the job changes, ``end`` when it is final.

    Each progress event carries an ``id`` naming that snapshot of the job; a client that
    reconnects (EventSource sends ``Last-Event-ID``) is not sent the snapshot it already
    has. A ``: keepalive`` comment every ``heartbeat_s`` keeps proxies from closing an idle
    stream. Browsers: ``new EventSource(url)`` sends the session cookie; tokens are never
    taken from the URL."""
    await asyncio.to_thread(runtime.jobs.get, principal, job_id)

    async def stream() -> AsyncIterator[str]:
        last_id = last_event_id
        quiet_since = time.monotonic()
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            job = await asyncio.to_thread(runtime.jobs.get, principal, job_id)
            data = json.dumps(
                {
                    "id": job.id,
                    "state": job.state,
                    "progress": job.progress,
                    "message": job.progress_message,
                    "error": job.error,
                },
                sort_keys=True,
            )
            event_id = hashlib.sha256(f"{data}{job.cancel_requested}".encode()).hexdigest()[:16]
            if event_id != last_id:
                last_id = event_id
                quiet_since = time.monotonic()
                yield f"id: {event_id}\nevent: progress\ndata: {data}\n\n"
            elif time.monotonic() - quiet_since >= heartbeat_s:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"
            if JobState(job.state).terminal:
                yield f"event: end\ndata: {json.dumps({'id': job.id, 'state': job.state})}\n\n"
                return
            await asyncio.sleep(interval_s)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
