"""The browser UI: the React app built from ``web/`` (``scripts/setup.sh``) into ``static/``.

``/`` and every path the API does not claim serve the app (history-API fallback: the app's
router reads the address bar). Hashed files under ``/assets/`` are cached for a year;
``index.html`` is revalidated on every load so a new build is picked up at once. All data
comes from the API; these files carry none. Without a build, ``/`` says how to make one.
"""

from __future__ import annotations

import os
from mimetypes import guess_type
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).with_name("static")

# First path segments that belong to the server, never to the app: an unknown path below them
# is a 404 from the API, not the app's index page.
SERVER_PREFIXES = frozenset(
    {"api", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics", "assets"}
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
NOT_BUILT = (
    "The AIMA web app is not built.\n\n"
    "Build it with `bash scripts/setup.sh` (or `make run`), which runs\n"
    "    npm --prefix web ci && npm --prefix web run build\n"
    "(Node.js >= 20.19 needed). The API works without it: see /docs.\n"
)


class SpaFiles(StaticFiles):
    """Static files of a single-page app with history-API fallback to ``index.html``."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=False, check_dir=False)
        self.root = directory

    async def check_config(self) -> None:
        """A missing build is not an error: ``/`` explains how to make one."""
        if self.root.is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        path = "" if path in (".", "/") else path.lstrip("/")
        first = path.split("/", 1)[0]
        index = self.root / "index.html"
        if first in SERVER_PREFIXES and first != "assets":
            raise HTTPException(status_code=404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        if first == "ui":  # the plain-JS UI's old address (/ui/...)
            return RedirectResponse("/", status_code=308)
        if not index.is_file():
            return PlainTextResponse(
                NOT_BUILT, status_code=503, headers={"Cache-Control": REVALIDATE}
            )
        if first == "assets" and _accepts_gzip(scope):
            gz = self.root / f"{path}.gz"
            if ".." not in Path(path).parts and gz.is_file():
                return FileResponse(
                    gz,
                    stat_result=os.stat(gz),
                    media_type=guess_type(path)[0] or "application/octet-stream",
                    headers={
                        "Cache-Control": IMMUTABLE,
                        "Content-Encoding": "gzip",
                        "Vary": "Accept-Encoding",
                    },
                )
        if path and path != "index.html":
            try:
                response = await super().get_response(path, scope)
            except HTTPException as exc:
                if exc.status_code != 404 or first == "assets":
                    raise
            else:
                if first == "assets":
                    response.headers["Cache-Control"] = IMMUTABLE
                    response.headers["Vary"] = "Accept-Encoding"
                else:
                    response.headers["Cache-Control"] = REVALIDATE
                return response
        return FileResponse(
            index,
            stat_result=os.stat(index),
            headers={"Cache-Control": REVALIDATE},
            media_type="text/html",
        )


def _accepts_gzip(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"accept-encoding":
            return b"gzip" in value.lower()
    return False


def install_ui(app: FastAPI) -> None:
    """Serve the web app; call after every API route is added (the app takes what is left)."""

    async def old_ui(_: Request) -> RedirectResponse:
        return RedirectResponse("/", status_code=308)

    app.add_route("/ui", old_ui, include_in_schema=False)
    app.mount("/", SpaFiles(STATIC), name="ui")
