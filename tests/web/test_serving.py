"""`aima serve` serves the web app: history-API fallback, cache headers, gzip, no build."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from aima.api.app import create_app
from aima.runtime import Runtime
from aima.web import NOT_BUILT, SpaFiles
from tests.api.helpers import TestClient

INDEX = "<!doctype html><title>AIMA test build</title>"
ASSET = "console.log('aima');" * 50


def fake_build(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text(ASSET)
    (root / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(ASSET.encode()))
    (root / "robots.txt").write_text("User-agent: *\n")
    return root


@pytest.fixture
def client(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    """The real app with a small build in place of the real one."""
    monkeypatch.setattr("aima.web.STATIC", fake_build(tmp_path / "static"))
    with TestClient(create_app(runtime, start_workers=False)) as c:
        yield c


@pytest.mark.parametrize(
    "path", ["/", "/library", "/people/per_123", "/login?next=%2F", "/index.html"]
)
def test_app_paths_get_the_index_page_revalidated_every_time(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.text == INDEX
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year_and_sent_gzipped_when_accepted(
    client: TestClient,
) -> None:
    r = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.text == ASSET  # httpx decodes
    assert int(r.headers["content-length"]) < len(ASSET)
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in r.headers["content-type"]
    plain = client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == ASSET
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_other_files_of_the_build_are_served_revalidated(client: TestClient) -> None:
    r = client.get("/robots.txt")
    assert r.text.startswith("User-agent")
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/media/x/nope", "/assets/missing.js", "/docs/nope"]
)
def test_server_paths_stay_json_404s_not_the_app(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_api_docs_and_health_still_win_over_the_app(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/openapi.json").json()["info"]["title"] == "AIMA"
    assert "swagger" in client.get("/docs").text.lower()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_only_get_and_head(client: TestClient) -> None:
    assert client.head("/library").status_code == 200
    r = client.post("/library")
    assert r.status_code == 405
    assert client.post("/assets/index-abc123.js").status_code == 405


@pytest.mark.parametrize("path", ["/ui", "/ui/", "/ui/index.html"])
def test_the_old_ui_address_redirects_to_the_app(client: TestClient, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 308
    assert r.headers["location"] == "/"


def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    app = FastAPI()
    app.mount("/", SpaFiles(tmp_path / "never-built"))
    with TestClient(app) as c:
        r = c.get("/")
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text == NOT_BUILT
        assert "npm --prefix web run build" in r.text
        assert c.get("/library").text == NOT_BUILT
