"""The browser UI: static files served by the API process (no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

STATIC = Path(__file__).with_name("static")


def install_ui(app: FastAPI) -> None:
    """``/ui`` serves the single-page UI; ``/`` redirects there. All data comes from the API."""
    app.mount("/ui", StaticFiles(directory=STATIC, html=True), name="ui")

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/ui/")

    app.add_route("/", root, include_in_schema=False)
