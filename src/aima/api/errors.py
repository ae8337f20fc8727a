"""Domain errors → JSON, in one place."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import Scope

from aima.core.errors import AimaError, is_disk_full
from aima.store.db import connection_lost

log = logging.getLogger(__name__)

_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def error_body(code: str, message: str, details: object | None = None) -> dict[str, object]:
    body: dict[str, object] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods of the resource the request's path names, sorted; empty when none.

    The resource is the route template that matches the path with the fewest parameters
    (``/budgets/costs`` before ``/budgets/{budget_id}``), as the OpenAPI document reads it.
    A request whose method the API does not serve at a path reaches the browser app's
    catch-all mount at ``/`` (routing prefers the mount's full match to a route's path-only
    match) and would answer 404; the handlers below turn it into 405 with ``Allow``."""
    best: tuple[int, str] | None = None
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, Mount) or not context.methods:
            continue
        match, _ = context.matches(scope)
        if match is Match.NONE:
            continue
        template = str(context.path_format)
        rank = (template.count("{"), template)
        if best is None or rank[0] < best[0]:
            best, methods = rank, set()
        if rank == best:
            methods |= set(context.methods)
    return sorted(methods)


def _not_allowed(request: Request, headers: dict[str, str] | None = None) -> JSONResponse | None:
    """405 when the path names a resource that does not serve the request's method."""
    allowed = allowed_methods(request.app, request.scope)
    if not allowed or request.method in allowed:
        return None
    allow = ", ".join(allowed)
    return JSONResponse(
        error_body("method_not_allowed", f"{request.method} is not allowed here; use {allow}"),
        405,
        headers={**(headers or {}), "Allow": allow},
    )


def _disk_full(request: Request) -> JSONResponse:
    """507 for a write that found no space (blob store or database): nothing was stored."""
    log.error("disk full while serving %s", request.url.path)
    return JSONResponse(
        error_body(
            "insufficient_storage",
            "the server's disk is full; nothing was stored. Try again once an "
            "operator has freed space",
        ),
        507,
        headers={"Retry-After": "60"},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AimaError)
    async def _domain(request: Request, exc: AimaError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        if exc.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details or None), exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        if any(p["where"].startswith("path.") for p in problems):
            # e.g. POST /calibration/reembed reached POST /calibration/{kind}: wrong method
            # for /calibration/reembed, not a bad kind
            not_allowed = _not_allowed(request)
            if not_allowed is not None:
                return not_allowed
        summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems[:5])
        return JSONResponse(
            error_body("invalid_request", f"request is not valid: {summary}", problems), 422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code in (404, 405):
            not_allowed = _not_allowed(request, headers)
            if not_allowed is not None:
                return not_allowed
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=headers)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        if not is_disk_full(exc):
            raise exc  # a real bug: the generic handler logs it and answers 500
        return _disk_full(request)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        if is_disk_full(exc):  # the database's own files could not grow: rolled back
            return _disk_full(request)
        if not connection_lost(exc):
            raise exc  # a real bug: the generic handler logs it and answers 500
        log.warning("database unavailable while serving %s: %s", request.url.path, exc)
        return JSONResponse(
            error_body(
                "database_unavailable",
                "the database is not reachable right now; retry shortly",
            ),
            503,
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse(
            error_body("internal_error", "internal error; the server log has the details"), 500
        )
