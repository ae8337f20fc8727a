"""POST /api/v1/jobs/plan (a job preview that queues nothing), GET /api/v1/dashboard, /docs."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aima.api.app import create_app
from aima.core.clock import utcnow
from aima.runtime import Runtime
from aima.services.jobs import PRIOR_SECONDS
from aima.services.system import model_status
from aima.store.models import AnalyzerCost, Job, WorkerHeartbeat
from tests.api.helpers import Api, TestClient
from tests.api.library_fixtures import seed_library

PLAN = "/api/v1/jobs/plan"


def _plan(api: Api, who: Any, media_id: str, analyzers: list[str] | None) -> dict[str, Any]:
    r = api.client.post(
        PLAN, json={"media_id": media_id, "analyzers": analyzers}, headers=who.headers
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_plan_resolves_requirements_and_explains_what_will_not_run(
    make_runtime: Callable[..., Runtime], samples: dict[str, bytes]
) -> None:
    runtime = make_runtime(disabled_analyzers=["faces"])
    with TestClient(create_app(runtime, start_workers=False)) as client:
        _plan_checks(Api(runtime, client), samples)


def _plan_checks(api: Api, samples: dict[str, bytes]) -> None:
    who = api.user("analyst")
    media_id = api.upload(who, [("a.jpg", samples["jpeg"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    jobs_before = api.count(Job)
    plan = _plan(api, who, media_id, ["emotion", "transcribe", "thumbnails"])
    rows = {a["name"]: a for a in plan["analyzers"]}
    assert [a["name"] for a in plan["analyzers"]] == [
        "faces",
        "emotion",
        "vad",
        "transcribe",
        "thumbnails",
    ]
    assert rows["faces"]["requested"] is False and rows["emotion"]["requested"] is True
    assert (rows["faces"]["status"], rows["faces"]["reason"]) == ("disabled", "disabled by policy")
    assert (rows["emotion"]["status"], rows["emotion"]["reason"]) == (
        "disabled",
        "requires faces, which is disabled by policy",
    )
    assert rows["transcribe"]["status"] == "skipped"
    assert rows["transcribe"]["reason"] == "does not apply to image media"
    thumbs = rows["thumbnails"]
    assert (thumbs["status"], thumbs["chunks"], thumbs["basis"]) == ("run", 1, "prior")
    assert thumbs["estimate_s"] == PRIOR_SECONDS["thumbnails"][1]
    assert plan["chunks"] == 1 and plan["estimate_s"] == thumbs["estimate_s"]
    assert plan["cost"] == {
        "amount": 0.0,
        "currency": "USD",
        "executor": "inprocess",
        "confirmation_required": False,
    }
    assert api.count(Job) == jobs_before  # a preview queues nothing

    # measured chunks (the cost model, compute/costs.py) refine the prior: 3 prior "chunks"
    # + 1 measured of 4.2 s
    r = api.client.post(
        "/api/v1/jobs",
        json={"media_id": media_id, "analyzers": ["thumbnails"]},
        headers=who.headers,
    )
    assert r.status_code == 201
    assert api.run_jobs() == 1
    with api.runtime.db.session() as s:
        cost = s.query(AnalyzerCost).filter_by(analyzer="thumbnails", unit="image").one()
        assert cost.samples == 1  # the runner taught the cost model that chunk
        cost.cpu_s = 4.2
    thumbs = {a["name"]: a for a in _plan(api, who, media_id, ["thumbnails"])["analyzers"]}[
        "thumbnails"
    ]
    prior = PRIOR_SECONDS["thumbnails"][1]
    assert thumbs["basis"] == "measured" and thumbs["measured_chunks"] == 1
    assert thumbs["estimate_s"] == round((3 * prior + 4.2) / 4, 3)


def test_plan_for_video_counts_chunks_and_reuses_accepted_requirements(api: Api) -> None:
    lib = seed_library(api.runtime, 1)  # a 1-second video with accepted vad/faces/... results
    who = api.user("analyst")
    rows = {a["name"]: a for a in _plan(api, who, lib.media[0], ["transcribe"])["analyzers"]}
    assert rows["vad"]["status"] == "reused" and rows["vad"]["chunks"] == 0
    # the seeded video has no audio stream recorded: transcribe is skipped with that reason
    assert (rows["transcribe"]["status"], rows["transcribe"]["reason"]) == (
        "skipped",
        "no audio stream",
    )
    rows = {a["name"]: a for a in _plan(api, who, lib.media[0], ["thumbnails"])["analyzers"]}
    per_minute = PRIOR_SECONDS["thumbnails"][0]
    assert rows["thumbnails"]["chunks"] == 1
    assert rows["thumbnails"]["estimate_s"] == round(per_minute / 60 * 1.0, 3)


def test_plan_errors(api: Api, samples: dict[str, bytes]) -> None:
    alice, bob = api.user("uploader", "alice"), api.user("uploader", "bob")
    media_id = api.upload(alice, [("a.jpg", samples["jpeg"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    r = api.client.post(
        PLAN, json={"media_id": media_id, "analyzers": ["nope"]}, headers=alice.headers
    )
    assert r.status_code == 422 and "nope" in r.json()["error"]["message"]
    r = api.client.post(PLAN, json={"media_id": media_id}, headers=bob.headers)
    assert r.status_code == 404
    r = api.client.post(PLAN, json={"media_id": media_id, "extra": 1}, headers=alice.headers)
    assert r.status_code == 422
    viewer = api.user("viewer")
    assert (
        api.client.post(PLAN, json={"media_id": media_id}, headers=viewer.headers).status_code
        == 403
    )


def test_dashboard_in_one_call(api: Api) -> None:
    lib = seed_library(api.runtime, 3)
    now = utcnow()
    with api.runtime.db.session() as s:
        job = s.get(
            Job, s.query(Job.id).filter_by(media_id=lib.media[1], state="succeeded").scalar()
        )
        assert job is not None
        job.state, job.progress, job.progress_message = "running", 0.25, "faces 1/4"
        job.started_at, job.lease_owner = now - timedelta(seconds=30), "w-1"
        failed = s.query(Job).filter_by(media_id=lib.media[2], state="failed").one()
        failed.finished_at = now
        failed.outcome = {"faces": {"status": "failed", "reason": "model missing"}}
        s.add(
            WorkerHeartbeat(
                id="w-1", hostname="h", pid=1, heartbeat_at=now, state="busy", current_job=job.id
            )
        )
        s.add(
            WorkerHeartbeat(id="w-old", hostname="h", pid=2, heartbeat_at=now - timedelta(hours=1))
        )
    auditor = api.user("auditor")
    r = api.client.get("/api/v1/dashboard", headers=auditor.headers)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["jobs"]["by_state"] == {"failed": 3, "succeeded": 2, "running": 1}
    (running,) = d["running"]
    assert (running["media_name"], running["stage"], running["worker"]) == (
        "Clip-001.jpg",
        "faces 1/4",
        "w-1",
    )
    assert 60 <= running["eta_s"] <= 200  # 30 s for a quarter: about 90 s left
    assert d["recent_failures"][0]["media_name"] == "Clip-002.jpg"
    assert d["recent_failures"][0]["analyzers"] == {"faces": "model missing"}
    assert {w["id"]: w["alive"] for w in d["workers"]} == {"w-1": True, "w-old": False}
    assert d["storage"] == {"media": 3, "media_bytes": 1000 + 1001 + 1002}
    assert [(m["analyzer"], m["model"], m["status"]) for m in d["models"]] == [
        (m["analyzer"], m["model"], m["status"]) for m in model_status(api.runtime.registry)
    ]
    assert d["models"], "the built-in analyzers declare models"
    uploader = api.user("uploader")
    assert api.client.get("/api/v1/dashboard", headers=uploader.headers).status_code == 403


def test_docs_and_redoc_load_nothing_from_other_hosts(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        r = api.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", r.text, re.IGNORECASE), page
        assets = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", r.text)
        for asset in assets:
            if asset.startswith("/docs/assets/"):
                got = api.client.get(asset)
                assert got.status_code == 200 and len(got.content) > 100, asset
        assert any(a.startswith("/docs/assets/") for a in assets), page
    assert api.client.get("/docs/assets/../app.py").status_code == 404


def test_openapi_describes_status_codes_and_the_error_body_of_new_routes(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert set(doc["components"]["schemas"]["ErrorOut"]["properties"]) == {"error"}
    expected = {
        ("/api/v1/media", "get"): {"200", "401", "403", "422"},
        ("/api/v1/media/{media_id}/content", "get"): {
            "200",
            "206",
            "304",
            "401",
            "403",
            "404",
            "416",
            "422",
        },
        ("/api/v1/jobs/plan", "post"): {"200", "401", "403", "404", "422"},
        ("/api/v1/jobs", "get"): {"200", "401", "403", "422"},
        ("/api/v1/dashboard", "get"): {"200", "401", "403"},
        ("/api/v1/auth/session", "post"): {"200", "401", "422"},
    }
    for (path, method), codes in expected.items():
        responses = doc["paths"][path][method]["responses"]
        assert codes <= set(responses), (path, set(responses))
        for code in codes - {"200", "206", "304"}:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorOut"), (path, code)
