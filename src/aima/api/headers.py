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

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware

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

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        h = response.headers
        docs = request.url.path.startswith(_DOCS_PATHS)
        h.setdefault("Content-Security-Policy", DOCS_POLICY if docs else APP_POLICY)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "no-referrer")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if request.url.scheme == "https" or (api.trust_forwarded_proto and forwarded == "https"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
