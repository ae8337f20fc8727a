"""A correlation id per request, in every log line it causes, and one access line per request.

The id comes from the caller's ``X-Request-ID`` when it is a plain token (letters, digits,
``-_.``, at most 64), else a new one; it is echoed back in the response. The access line
names the method, the route *path* (never the query string, which may carry secrets),
status and duration — uvicorn's own access log, which prints full URLs, is switched off.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from opentelemetry.trace import SpanKind

from aima.core.logging import log_context
from aima.core.tracing import span

SERVER = SpanKind.SERVER

log = logging.getLogger("aima.access")
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def install_request_ids(app: FastAPI) -> None:
    @app.middleware("http")
    async def _request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get("x-request-id", "")
        request_id = given if _SAFE.match(given) else secrets.token_hex(8)
        started = time.perf_counter()
        attrs = {"http.request.method": request.method, "aima.request_id": request_id}
        with (
            log_context(request_id=request_id),
            span("HTTP " + request.method, attrs, carrier=request.headers, kind=SERVER) as s,
        ):
            response = await call_next(request)
            route = getattr(request.scope.get("route"), "path", None)  # the template, no ids
            if route:
                s.update_name(f"{request.method} {route}")
                s.set_attribute("http.route", route)
            s.set_attribute("http.response.status_code", response.status_code)
            log.info(
                "%s %s %d",
                request.method,
                request.url.path,
                response.status_code,
                extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)},
            )
        response.headers["X-Request-ID"] = request_id
        return response
