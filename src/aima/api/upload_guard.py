"""Uploads are refused before their bytes are read: who is sending, and how much.

FastAPI parses a multipart body (spooling every file to disk) *before* it runs the route's
dependencies, so without this an anonymous client could fill the disk before its 401, and an
over-size file would be received whole before its 413. This ASGI middleware runs first, for
every multipart request:

1. authenticates the caller from the ``Authorization`` header or the session cookie (with
   the CSRF check for cookies): 401/403 answered without reading the body;
2. refuses a declared ``Content-Length`` over the request limit at once (413);
3. counts the bytes as they arrive and stops the upload with 413 the moment the count passes
   the limit (chunked uploads, or a lying ``Content-Length``);
4. applies the caller's upload quotas (:mod:`aima.services.quotas`): no upload left today, or
   a declared ``Content-Length`` over the bytes left today (plus ``QUOTA_ENVELOPE_BYTES`` for
   the multipart envelope) → 429 with ``Retry-After`` before the body is read; a streamed body
   passing the bytes left is cut off with the same 429. This is a check (uploads in flight
   count as used); each file then reserves its share exactly before it is stored
   (:meth:`~aima.services.quotas.QuotaService.reserve_upload`, in the media route).

The limit is one file's limit (``AIMA_LIMITS__MAX_BYTES``) plus a little for the multipart
envelope and form fields; each file is checked against ``max_bytes`` again while it is
copied. Several large files go in several requests.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aima.api.deps import check_csrf
from aima.api.errors import error_body
from aima.api.sessions import ACCESS_COOKIE
from aima.core.errors import AimaError, PayloadTooLarge, Unauthorized
from aima.runtime import Runtime
from aima.services.access import Principal

ENVELOPE_BYTES = 16 * 1024 * 1024  # multipart boundaries, headers and form fields
QUOTA_ENVELOPE_BYTES = 4096  # the envelope's share of a body held against a bytes-per-day quota
QUOTA_PATHS = frozenset({"/api/v1/media"})  # uploads that count (not search or calibration files)


class _TooLarge(Exception):
    pass


class UploadGuard:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    @property
    def limit(self) -> int:
        return self.runtime.settings.limits.max_bytes + ENVELOPE_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not headers.get("content-type", "").lower().startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        try:
            principal = await run_in_threadpool(self._authenticate, scope)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.limit:
                raise self._too_large()
            left = None
            if scope["method"] == "POST" and scope["path"] in QUOTA_PATHS:
                body = int(declared) - QUOTA_ENVELOPE_BYTES if declared.isdigit() else 0
                left = await run_in_threadpool(
                    self.runtime.quotas.admit_upload, principal.user_id, body
                )
        except AimaError as exc:
            await _answer(send, exc)
            return
        if left is not None and left + QUOTA_ENVELOPE_BYTES < self.limit:
            user_id, allowed = principal.user_id, left + QUOTA_ENVELOPE_BYTES

            def over_quota(received: int) -> AimaError:
                return self.runtime.quotas.bytes_refusal(user_id, received - QUOTA_ENVELOPE_BYTES)

            await self._counted(scope, receive, send, allowed, over_quota)
            return
        await self._counted(scope, receive, send, self.limit, lambda _n: self._too_large())

    def _authenticate(self, scope: Scope) -> Principal:
        request = Request(scope)
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token:
            return self.runtime.users.principal_for(token.strip())
        cookie = request.cookies.get(ACCESS_COOKIE)
        if cookie:
            check_csrf(request)
            return self.runtime.users.principal_for(cookie)
        raise Unauthorized("log in before uploading (missing bearer token or session cookie)")

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the upload is larger than {self.limit} bytes (one file of at most "
            f"{self.runtime.settings.limits.max_bytes} bytes, AIMA_LIMITS__MAX_BYTES); "
            "send large files one per request"
        )

    async def _counted(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        error: Callable[[int], AimaError],
    ) -> None:
        received = 0
        over = False
        answered = False

        async def refuse() -> None:
            nonlocal answered
            if not answered:
                answered = True
                await _answer(send, await run_in_threadpool(error, received))

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if over:  # whatever the app made of the cut-off body, the answer is the refusal
                await refuse()
                return
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if over:
            await refuse()


async def _answer(send: Send, exc: AimaError) -> None:
    body = json.dumps(error_body(exc.code, exc.message, exc.details or None)).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # the rest of the body is not wanted
    ]
    if exc.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if exc.retry_after_s is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after_s))).encode()))
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": exc.status,
        "headers": headers,
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
