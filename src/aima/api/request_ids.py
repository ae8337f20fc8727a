"""A correlation id per request, in every log line it causes, and one access line per request.

The id comes from the caller's ``X-Request-ID`` when it is a plain token (letters, digits,
``-_.``, at most 64), else a new one; it is echoed back in the response. The access line
names the method, the route *path* (never the query string, which may carry secrets),
status and duration — uvicorn's own access log, which prints full URLs, is switched off.

A plain ASGI middleware (not ``@app.middleware``): it only wraps ``send``, so a request costs
no extra task or stream, and the line is written once the whole response has gone out.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from opentelemetry.trace import SpanKind
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aima.core.logging import log_context
from aima.core.tracing import span

SERVER = SpanKind.SERVER

log = logging.getLogger("aima.access")
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("x-request-id", "")
        request_id = given if _SAFE.match(given) else secrets.token_hex(8)
        echo = (b"x-request-id", request_id.encode())
        method = scope["method"]
        status = 500  # unless a response starts: an exception escaped the app
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), echo]}
            await send(message)

        attrs = {"http.request.method": method, "aima.request_id": request_id}
        with (
            log_context(request_id=request_id),
            span("HTTP " + method, attrs, carrier=headers, kind=SERVER) as s,
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                route = getattr(scope.get("route"), "path", None)  # the template, no ids
                if route:
                    s.update_name(f"{method} {route}")
                    s.set_attribute("http.route", route)
                s.set_attribute("http.response.status_code", status)
                log.info(
                    "%s %s %d",
                    method,
                    scope.get("path", ""),
                    status,
                    extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)},
                )
