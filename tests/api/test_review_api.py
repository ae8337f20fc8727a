"""The review queue over HTTP: the real app, real database (SQLite and PostgreSQL), a scenes
job run through the real client against the fake VLM server."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from aima.api.app import create_app
from aima.runtime import Runtime
from tests.analyzers import faces_fixtures as ff
from tests.analyzers.test_scenes import scene_picture, vlm_settings
from tests.api.helpers import Api, TestClient
from tests.fakes.vlm_server import FakeVlm, running


@pytest.fixture
def fake() -> Iterator[FakeVlm]:
    with running() as server:
        yield server


@pytest.fixture
def review_api(make_runtime: Callable[..., Runtime], fake: FakeVlm) -> Iterator[Api]:
    rt = make_runtime(allow_sensitive_analyzers=True, llm={"vlm": vlm_settings(fake)})
    with TestClient(create_app(rt, start_workers=False)) as client:
        yield Api(rt, client)


def test_analyst_decides_viewer_cannot_auditor_reads(review_api: Api, tmp_path: Path) -> None:
    api = review_api
    path = ff.save(scene_picture(), tmp_path / "scene.jpg")
    job = ff.run_job(api.runtime, path, ("thumbnails", "scenes"))
    assert job.state == "succeeded", job.outcome
    analyst, viewer = api.user("analyst"), api.user("viewer")
    auditor, uploader = api.user("auditor"), api.user("uploader")

    for who in (viewer, uploader):
        r = api.client.get("/api/v1/review", headers=who.headers)
        assert r.status_code == 403 and "review:read" in r.json()["error"]["message"]
    r = api.client.get("/api/v1/review?state=unreviewed", headers=analyst.headers)
    assert r.status_code == 200, r.text
    (item,) = r.json()
    assert item["label"] == "handcuffs" and item["state"] == "unreviewed"
    assert 0 < item["confidence"] < item["raw_confidence"]

    evidence = api.client.get(f"/api/v1/review/{item['id']}/evidence", headers=auditor.headers)
    assert evidence.status_code == 200 and evidence.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(evidence.content)).format == "JPEG"

    url = f"/api/v1/review/{item['id']}"
    r = api.client.post(url + "/confirm", json={}, headers=viewer.headers)
    assert r.status_code == 403
    r = api.client.post(url + "/confirm", json={}, headers=auditor.headers)
    assert r.status_code == 403 and "review:decide" in r.json()["error"]["message"]
    r = api.client.post(url + "/dismiss", json={}, headers=analyst.headers)
    assert r.status_code == 422 and "note" in r.json()["error"]["message"]
    r = api.client.post(
        url + "/dismiss", json={"note": "a red watch strap"}, headers=analyst.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "dismissed" and r.json()["decided_by"] == "api:analyst"
    r = api.client.post(url + "/dismiss", json={"note": "again"}, headers=analyst.headers)
    assert r.status_code == 409
    got = api.client.get(url, headers=auditor.headers).json()
    assert (got["state"], got["note"]) == ("dismissed", "a red watch strap")
    assert api.client.get("/api/v1/review?state=unreviewed", headers=analyst.headers).json() == []
    r = api.client.get("/api/v1/review?state=bogus", headers=analyst.headers)
    assert r.status_code == 422

    timeline = api.client.get(f"/api/v1/media/{job.media_id}/timeline", headers=analyst.headers)
    assert timeline.status_code == 200, timeline.text
    assert timeline.json()["tracks"]["restraints"][0]["label"] == "handcuffs"
