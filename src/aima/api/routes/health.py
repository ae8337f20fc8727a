from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from aima.api.deps import RuntimeDep, _bearer, principal_of, public
from aima.security.permissions import Permission

router = APIRouter(tags=["health"], dependencies=[Depends(public)])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "not ready: the same report, saying which check failed",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Database and blob store reachable, and a worker heartbeat is fresh (when one is expected)."""
    expect_worker = runtime.settings.worker.embedded or request.app.state.expect_worker
    report = runtime.system.readiness(expect_worker=expect_worker)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        401: {"description": "AIMA_API__METRICS_PUBLIC=false and no valid bearer token"},
        403: {"description": "AIMA_API__METRICS_PUBLIC=false and no system:read permission"},
    },
)
def metrics(
    request: Request,
    runtime: RuntimeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """Prometheus text. Public by default (scrapers on the private network); with
    ``AIMA_API__METRICS_PUBLIC=false`` a bearer token with ``system:read`` is required."""
    if not runtime.settings.api.metrics_public:
        principal_of(request, runtime, creds).require(Permission.SYSTEM_READ)
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
