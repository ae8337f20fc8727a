"""Request rate limits: a fixed window of one minute per user (per source address when anonymous).

The caller is identified from the bearer token or the session cookie by checking the token's
signature only (no database query); an invalid or missing token counts against the source
address. The limit is the user's ``requests_per_minute`` quota (an Admin's override, cached
for 30 s by :class:`~aima.services.quotas.QuotaService`, else ``AIMA_QUOTAS__REQUESTS_PER_MINUTE``;
0 = unlimited). Counts live in the shared :class:`~aima.security.ratelimit.Counter`: in this
process by default, in Redis when ``AIMA_REDIS_URL`` is set, so every API process shares them.

Over the limit the answer is 429 with ``Retry-After`` (seconds until the window ends) and the
usual JSON error body; every counted answer carries ``X-RateLimit-Limit``,
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``. Only the API (``/api/...``) is counted:
health, readiness, metrics, the documentation and the web app's static files never are. If the counter itself fails (Redis down) the request is let through and the failure
logged: a broken limiter must not take the API down with it.
"""

from __future__ import annotations

import json
import logging
import math
import time

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aima.api.errors import error_body
from aima.api.sessions import ACCESS_COOKIE
from aima.core.errors import AimaError
from aima.runtime import Runtime
from aima.security.ratelimit import Count, MemoryCounter

log = logging.getLogger(__name__)

WINDOW_S = 60.0
LIMITED_PREFIX = "/api/"
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # never counted, wherever they live
_LOG_EVERY_S = 60.0


class RateLimit:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._failure_logged_at = -math.inf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in EXEMPT_PATHS or not path.startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        user_id = self._user_id(scope)
        quotas = self.runtime.quotas
        if user_id is not None and not quotas.rpm_cache_fresh():
            limit = await run_in_threadpool(quotas.requests_per_minute, user_id)
        else:
            limit = quotas.requests_per_minute(user_id)
        if limit <= 0:  # unlimited
            await self.app(scope, receive, send)
            return
        key = f"req:u:{user_id}" if user_id else f"req:ip:{_source(scope)}"
        count = await self._count(key)
        if count is None:
            await self.app(scope, receive, send)
            return
        if count.value > limit:
            await _refuse(send, limit, count, "this user" if user_id else "this client address")
            return
        headers = _limit_headers(limit, limit - count.value, count.reset_in_s)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _user_id(self, scope: Scope) -> str | None:
        """The token's user when its signature and lifetime check out; None otherwise."""
        headers = Headers(scope=scope)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if not (scheme.lower() == "bearer" and token.strip()):
            token = Request(scope).cookies.get(ACCESS_COOKIE, "")
        if not token:
            return None
        try:
            return self.runtime.users.codec.decode_access(token.strip()).user_id
        except AimaError:
            return None  # the route answers 401; meanwhile it counts against the address

    async def _count(self, key: str) -> Count | None:
        counter = self.runtime.quotas.counter
        try:
            if isinstance(counter, MemoryCounter):
                return counter.incr(key, WINDOW_S)
            return await run_in_threadpool(counter.incr, key, WINDOW_S)
        except Exception as exc:  # noqa: BLE001 - the store is down: serve, and log it
            now = time.monotonic()
            if now - self._failure_logged_at >= _LOG_EVERY_S:
                self._failure_logged_at = now
                log.warning("rate limit counter unavailable; requests are not limited: %s", exc)
            return None


def _source(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def _limit_headers(limit: int, remaining: int, reset_in_s: float) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(limit).encode()),
        (b"x-ratelimit-remaining", str(max(0, remaining)).encode()),
        (b"x-ratelimit-reset", str(max(1, math.ceil(reset_in_s))).encode()),
    ]


async def _refuse(send: Send, limit: int, count: Count, who: str) -> None:
    retry = max(1, math.ceil(count.reset_in_s))
    body = json.dumps(
        error_body(
            "too_many_requests",
            f"too many requests from {who}: the limit is {limit} per minute; "
            f"try again in {retry} s",
            {"limit": limit, "window_s": WINDOW_S, "retry_after_s": retry},
        )
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry).encode()),
        *_limit_headers(limit, 0, count.reset_in_s),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
