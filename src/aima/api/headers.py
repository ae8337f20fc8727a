"""Security headers on every response, and CORS only when origins are configured.

The web app is served from the API's own origin, so the policy can be strict: scripts,
styles and connections only from this origin; media and images also from ``blob:``/``data:``
(thumbnails, waveforms, the player); no framing by anyone (clickjacking). The bundled API
documentation pages (Swagger UI, ReDoc) start with an inline script, so they alone get
``'unsafe-inline'`` for scripts. HSTS is sent only when the request arrived over HTTPS
(directly or as reported by the TLS proxy in ``X-Forwarded-Proto``), since a browser would
otherwise pin a plain-HTTP development server.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aima.core.settings import ApiSettings

_BASE = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",  # component libraries set style attributes
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "worker-src": "'self' blob:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_DOCS_PATHS = ("/docs", "/redoc")


def _policy(extra_script: str = "") -> str:
    parts = dict(_BASE)
    if extra_script:
        parts["script-src"] = f"{parts['script-src']} {extra_script}"
    return "; ".join(f"{k} {v}" for k, v in parts.items())


APP_POLICY = _policy()
DOCS_POLICY = _policy("'unsafe-inline'")


def install_security_headers(app: FastAPI, api: ApiSettings) -> None:
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(api.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
        )
    app.add_middleware(SecurityHeaders, trust_forwarded_proto=api.trust_forwarded_proto)


_FIXED = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    """Adds the headers to every response start, leaving any a route set itself (a plain ASGI
    middleware: it wraps ``send`` only)."""

    def __init__(self, app: ASGIApp, *, trust_forwarded_proto: bool = False) -> None:
        self.app = app
        self.trust_forwarded_proto = trust_forwarded_proto

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(_DOCS_PATHS)
        wanted = [(b"content-security-policy", (DOCS_POLICY if docs else APP_POLICY).encode())]
        wanted.extend(_FIXED)
        if self._https(scope):
            wanted.append(_HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in wanted if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        if not self.trust_forwarded_proto:
            return False
        forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
        return forwarded.split(",")[0].strip().lower() == "https"
