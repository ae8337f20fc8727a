from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from aima.api.deps import RuntimeDep, public

router = APIRouter(tags=["health"], dependencies=[Depends(public)])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Database and blob store reachable, and a worker heartbeat is fresh (when one is expected)."""
    expect_worker = runtime.settings.worker.embedded or request.app.state.expect_worker
    report = runtime.system.readiness(expect_worker=expect_worker)
    return JSONResponse(report, status_code=200 if report["ready"] else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
