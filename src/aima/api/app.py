"""The FastAPI app factory: one function from a Runtime to an app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aima import __version__
from aima.api.docs import install_docs
from aima.api.errors import install_error_handlers
from aima.api.headers import install_security_headers
from aima.api.metrics import install_metrics
from aima.api.ratelimit_mw import RateLimit
from aima.api.request_ids import RequestIds
from aima.api.routes import (
    admin,
    auth,
    backups,
    budgets,
    calibration,
    cases,
    dashboard,
    exports,
    health,
    jobs,
    media,
    people_graph,
    persons,
    quotas,
    receipts,
    results,
    retention,
    review,
    search,
    settings_view,
    summaries,
    webhooks,
)
from aima.api.upload_guard import UploadGuard
from aima.runtime import Runtime
from aima.web import install_ui


def create_app(runtime: Runtime, *, start_workers: bool | None = None) -> FastAPI:
    """``start_workers`` defaults to ``settings.worker.embedded`` (the embedded worker of ``aima serve``)."""
    run_workers = runtime.settings.worker.embedded if start_workers is None else start_workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            runtime.start_workers()
        try:
            yield
        finally:
            if runtime.pool is not None:
                runtime.pool.stop()
                runtime.pool = None

    app = FastAPI(
        title="AIMA",
        version=__version__,
        description="Self-hosted AI media analysis",
        lifespan=lifespan,
        docs_url=None,  # served from packaged files by install_docs: no CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    app.state.expect_worker = run_workers
    install_error_handlers(app)
    install_security_headers(app, runtime.settings.api)
    app.add_middleware(RequestIds)
    app.add_middleware(UploadGuard, runtime=runtime)  # outermost: before any body is read
    app.add_middleware(RateLimit, runtime=runtime)  # outside UploadGuard: floods cost no auth
    app.state.metrics = install_metrics(app, runtime)
    install_docs(app, title="AIMA")
    for module in (
        health,
        auth,
        media,
        exports,
        jobs,
        results,
        persons,
        people_graph,
        summaries,
        calibration,
        review,
        search,
        settings_view,
        admin,
        backups,
        dashboard,
        budgets,
        webhooks,
        cases,
        quotas,
        retention,
        receipts,
    ):
        app.include_router(module.router)
    install_ui(app)
    return app
