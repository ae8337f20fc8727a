"""Estimate, confirmation and budgets through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from aima.api.app import create_app
from aima.runtime import Runtime
from aima.store.models import AuditEvent
from tests.api.helpers import Account, Api, TestClient

PLAN = "/api/v1/jobs/plan"
JOBS = "/api/v1/jobs"
BUDGETS = "/api/v1/budgets"
PRICED = {"cpu_price_per_hour": 60.0, "billing_increment_s": 60.0}  # 1.0 per chunk


@pytest.fixture
def priced(make_runtime: Callable[..., Runtime]) -> Iterator[Api]:
    rt = make_runtime(compute=PRICED)
    with TestClient(create_app(rt, start_workers=False)) as client:
        yield Api(rt, client)


def _media(api: Api, who: Account, data: bytes) -> str:
    r = api.upload(who, [("a.jpg", data)], analyze="false")
    assert r.status_code in (200, 201), r.text
    media_id: str = r.json()["files"][0]["media_id"]
    return media_id


def _submit(api: Api, who: Account, media_id: str, **extra: Any) -> Any:
    return api.client.post(
        JOBS, json={"media_id": media_id, "analyzers": ["thumbnails"], **extra}, headers=who.headers
    )


def test_plan_shows_money_and_jobs_wait_for_their_creators_confirmation(
    priced: Api, samples: dict[str, bytes]
) -> None:
    api = priced
    alice, bob, analyst = (
        api.user("uploader", "alice"),
        api.user("uploader", "bob"),
        api.user("analyst"),
    )
    media_id = _media(api, alice, samples["jpeg"])
    plan = api.client.post(
        PLAN, json={"media_id": media_id, "analyzers": ["thumbnails"]}, headers=alice.headers
    ).json()
    assert plan["cost"]["amount"] == pytest.approx(1.0)
    assert plan["cost"]["confirmation_required"] is True
    estimate = plan["estimate"]
    assert (estimate["device"], estimate["currency"]) == ("cpu", "USD")
    assert estimate["analyzers"][0]["unit"] == "image" and estimate["offers"] == []

    r = _submit(api, alice, media_id)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["state"] == "awaiting_confirmation"
    assert job["estimate"]["amount"] == pytest.approx(1.0) and job["cost_actual"] == 0.0
    assert api.run_jobs() == 0  # never claimed before confirmation

    listed = api.client.get(JOBS, params={"state": "awaiting_confirmation"}, headers=alice.headers)
    assert [j["id"] for j in listed.json()["items"]] == [job["id"]]
    # another uploader does not even see it; an analyst sees it but may not spend alice's money
    assert api.client.post(f"{JOBS}/{job['id']}/confirm", headers=bob.headers).status_code == 404
    r = api.client.post(f"{JOBS}/{job['id']}/confirm", headers=analyst.headers)
    assert r.status_code == 403 and "creator or an admin" in r.json()["error"]["message"]

    r = api.client.post(f"{JOBS}/{job['id']}/confirm", headers=alice.headers)
    assert r.status_code == 200 and r.json()["state"] == "queued"
    assert r.json()["confirmed_by"] == "api:alice"  # the audited actor
    again = api.client.post(f"{JOBS}/{job['id']}/confirm", headers=alice.headers)
    assert again.status_code == 409
    assert api.run_jobs() == 1
    done = api.client.get(f"{JOBS}/{job['id']}", headers=alice.headers).json()
    assert done["state"] == "succeeded"
    assert done["cost_actual"] == pytest.approx(done["estimate"]["amount"])  # estimate vs actual
    with api.runtime.db.session() as s:
        actions = list(
            s.execute(select(AuditEvent.action).where(AuditEvent.object_id == job["id"])).scalars()
        )
    assert actions[:2] == ["job.create", "job.confirm"]


def test_reject_cancels_and_admin_may_decide_for_others(
    priced: Api, samples: dict[str, bytes]
) -> None:
    api = priced
    alice, admin = api.user("uploader", "alice"), api.user("admin")
    media_id = _media(api, alice, samples["jpeg"])
    first, second = _submit(api, alice, media_id).json(), _submit(api, alice, media_id).json()
    r = api.client.post(f"{JOBS}/{first['id']}/reject", headers=alice.headers)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert "rejected by api:alice" in r.json()["error"]
    r = api.client.post(f"{JOBS}/{second['id']}/confirm", headers=admin.headers)
    assert r.status_code == 200 and r.json()["confirmed_by"] == "api:admin"
    assert (
        api.client.post(f"{JOBS}/{second['id']}/reject", headers=admin.headers).status_code == 409
    )


def test_budgets_crud_soft_warning_and_hard_refusal(priced: Api, samples: dict[str, bytes]) -> None:
    api = priced
    admin, alice = api.user("admin"), api.user("uploader", "alice")
    media_id = _media(api, alice, samples["jpeg"])
    body = {"scope": "user", "subject": alice.user_id, "soft_limit": 0.5, "hard_limit": 1.5}
    r = api.client.put(BUDGETS, json=body, headers=admin.headers)
    assert r.status_code == 200, r.text
    budget = r.json()
    assert (budget["period"], budget["spent"], budget["currency"]) == ("month", 0.0, "USD")
    assert api.client.put(BUDGETS, json=body, headers=alice.headers).status_code == 403
    bad = api.client.put(BUDGETS, json={**body, "soft_limit": 9}, headers=admin.headers)
    assert bad.status_code == 422

    job = _submit(api, alice, media_id).json()  # 1.0: past the soft limit, within the hard
    assert any("soft limit 0.50" in w for w in job["estimate"]["warnings"])
    api.client.post(f"{JOBS}/{job['id']}/confirm", headers=alice.headers)
    assert api.run_jobs() == 1
    [listed] = api.client.get(BUDGETS, headers=admin.headers).json()
    assert listed["spent"] == pytest.approx(1.0)

    r = _submit(api, alice, media_id)  # 1.0 + 1.0 > 1.5: refused, nothing queued
    assert r.status_code == 402
    assert r.json()["error"]["code"] == "budget_exceeded"
    assert "hard limit 1.50" in r.json()["error"]["message"]
    plan = api.client.post(
        PLAN, json={"media_id": media_id, "analyzers": ["thumbnails"]}, headers=alice.headers
    ).json()
    assert any("would be exceeded" in w for w in plan["estimate"]["warnings"])

    # a project budget applies to jobs of that project only
    project = {"scope": "project", "subject": "film", "soft_limit": 0, "hard_limit": 0.5}
    assert api.client.put(BUDGETS, json=project, headers=admin.headers).status_code == 200
    r = api.client.delete(f"{BUDGETS}/{budget['id']}", headers=admin.headers)
    assert r.status_code == 204
    assert _submit(api, alice, media_id, project="film").status_code == 402
    assert _submit(api, alice, media_id).status_code == 201
    assert api.client.delete(f"{BUDGETS}/{budget['id']}", headers=admin.headers).status_code == 404

    costs = api.client.get(f"{BUDGETS}/costs", headers=admin.headers).json()
    [thumbs] = [c for c in costs if c["analyzer"] == "thumbnails"]
    assert (thumbs["unit"], thumbs["samples"]) == ("image", 1) and thumbs["seconds_per_unit"] > 0


def test_local_free_work_needs_no_confirmation(api: Api, samples: dict[str, bytes]) -> None:
    """The embedded default: no prices configured, so jobs queue at once, as before."""
    who = api.user("uploader", "carol")
    media_id = _media(api, who, samples["jpeg"])
    job = _submit(api, who, media_id).json()
    assert job["state"] == "queued" and job["estimate"]["amount"] == 0.0
    assert job["estimate"]["confirmation_required"] is False


def test_jobs_queued_by_an_upload_pass_the_same_cost_gate(
    priced: Api, samples: dict[str, bytes]
) -> None:
    """Uploading with analysis on must not bypass confirmation or a hard budget."""
    api = priced
    alice = api.user("uploader", "alice")
    r = api.upload(alice, [("a.jpg", samples["jpeg"])], analyzers="thumbnails")
    first = r.json()["files"][0]
    job = api.client.get(f"{JOBS}/{first['job_id']}", headers=alice.headers).json()
    assert job["state"] == "awaiting_confirmation"
    assert job["estimate"]["amount"] == pytest.approx(1.0)

    admin = api.user("admin")
    r = api.client.put(
        BUDGETS,
        json={
            "scope": "user",
            "subject": alice.user_id,
            "period": "total",
            "soft_limit": 0.1,
            "hard_limit": 0.5,
        },
        headers=admin.headers,
    )
    assert r.status_code in (200, 201), r.text
    other = samples["png"] if "png" in samples else samples["jpeg"] + b"\0"
    r = api.upload(alice, [("b.png", other)], analyzers="thumbnails")
    refused = r.json()["files"][0]
    assert (refused["status"], refused["job_id"]) == ("created", None)
    assert refused["error"]["code"] == "budget_exceeded"
