"""Health, readiness, metrics, live job events (SSE) and the audit trail through the API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, select, update

from aima.api.app import create_app
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.store.models import AuditEvent, User
from tests.api.helpers import PASSWORD, Api, TestClient


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text → {(sample name, sorted labels): value}."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_healthz_and_readyz_on_an_app_without_workers(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    r = api.client.get("/readyz")
    assert r.status_code == 200, r.text
    checks = r.json()["checks"]
    assert checks["database"]["ok"] and checks["blob_store"]["ok"]
    assert checks["database"]["dialect"] == api.runtime.db.dialect
    assert checks["workers"] == {"ok": True, "live": 0}


def test_readyz_wants_a_live_worker_when_one_is_expected(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(worker={"embedded": True})
    with TestClient(create_app(runtime, start_workers=False)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["ready"] is False and r.json()["checks"]["workers"] == {
            "ok": False,
            "live": 0,
        }
        assert client.get("/healthz").status_code == 200  # alive, just not ready

    with TestClient(create_app(runtime, start_workers=True)) as client:
        deadline = time.monotonic() + 10
        while (r := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["workers"]["live"] == 1


def test_metrics_count_jobs_requests_and_chunks(api: Api, samples: dict[str, bytes]) -> None:
    who = api.user("analyst")
    (outcome,) = api.upload(who, [("a.jpg", samples["jpeg"])]).json()["files"]
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    before = _samples(r.text)
    assert before[("aima_jobs", (("state", "queued"),))] == 1.0

    assert api.run_jobs() == 1
    assert (
        api.client.get(f"/api/v1/jobs/{outcome['job_id']}", headers=who.headers).status_code == 200
    )
    assert api.client.get("/api/v1/no/such/page").status_code == 404
    text = api.client.get("/metrics").text
    after = _samples(text)
    assert after[("aima_jobs", (("state", "queued"),))] == 0.0
    assert after[("aima_jobs", (("state", "succeeded"),))] == 1.0
    assert after[("aima_chunk_duration_seconds_count", (("analyzer", "thumbnails"),))] == 1.0
    assert after[("aima_chunk_duration_seconds_sum", (("analyzer", "thumbnails"),))] > 0

    def requests(method: str, route: str, status: str) -> float:
        key = (
            "aima_http_requests_total",
            (("method", method), ("route", route), ("status", status)),
        )
        return after.get(key, 0.0)

    assert requests("POST", "/api/v1/media", "201") == 1.0
    assert requests("GET", "/api/v1/jobs/{job_id}", "200") == 1.0  # the template, not the id
    assert requests("GET", "unmatched", "404") == 1.0  # unknown URLs do not create label values
    assert outcome["job_id"] not in text and "/api/v1/no/such/page" not in text


def _events(lines: Any) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


@pytest.mark.timeout(60)
def test_job_events_stream_progress_until_the_end(
    runtime: Runtime, samples: dict[str, bytes]
) -> None:
    with TestClient(create_app(runtime, start_workers=True)) as client:
        api = Api(runtime, client)
        who = api.user("uploader")
        (outcome,) = api.upload(who, [("a.jpg", samples["jpeg"])]).json()["files"]
        job_id = outcome["job_id"]
        url = f"/api/v1/jobs/{job_id}/events"

        with client.stream("GET", url, params={"interval_s": 0.1}, headers=who.headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(r.iter_lines())
        names = [n for n, _ in events]
        assert names[-1] == "end" and names.count("end") == 1
        assert set(names[:-1]) == {"progress"} and len(names) >= 2
        progress = [data for n, data in events if n == "progress"]
        assert all(p["id"] == job_id and 0.0 <= p["progress"] <= 1.0 for p in progress)
        assert progress[-1]["state"] == "succeeded" and progress[-1]["progress"] == 1.0
        assert events[-1][1] == {"id": job_id, "state": "succeeded"}

        # EventSource cannot send headers: it sends the session cookie; a token in the URL
        # (which ends up in logs) is refused everywhere, the event stream included
        token = {"access_token": who.access_token}
        for other in (
            url,
            f"/api/v1/jobs/{job_id}",
            "/api/v1/jobs",
            f"/api/v1/media/{outcome['media_id']}",
        ):
            r = client.get(other, params=token)
            assert r.status_code == 401, f"{other}: {r.status_code}"
        assert client.get(url).status_code == 401
        session = client.post(
            "/api/v1/auth/session", json={"username": "uploader", "password": PASSWORD}
        )
        assert session.status_code == 200, session.text
        with client.stream("GET", url) as r:
            assert r.status_code == 200
            assert _events(r.iter_lines())[-1] == ("end", {"id": job_id, "state": "succeeded"})


def test_query_token_is_refused_on_routes_that_merely_end_in_events(api: Api) -> None:
    admin = api.user("admin")
    api.runtime.users.create(cli_principal(), "events", "password-of-events", "viewer")
    r = api.client.patch(
        "/api/v1/users/events", params={"access_token": admin.access_token}, json={"role": "admin"}
    )
    with api.runtime.db.session() as s:
        role = s.execute(select(User.role).where(User.username == "events")).scalar_one()
    assert (r.status_code, role) == (401, "viewer")


def test_auditor_reads_and_verifies_the_audit_chain_and_sees_tampering(api: Api) -> None:
    auditor, admin = api.user("auditor"), api.user("admin")
    for name in ("u1", "u2", "u3"):
        r = api.client.post(
            "/api/v1/users",
            json={"username": name, "password": "long-enough-password", "role": "viewer"},
            headers=admin.headers,
        )
        assert r.status_code == 201
    h = auditor.headers

    events = api.client.get("/api/v1/audit", headers=h).json()
    assert [e["id"] for e in events] == sorted(
        (e["id"] for e in events), reverse=True
    )  # newest first
    created = api.client.get("/api/v1/audit", params={"action": "user.create"}, headers=h).json()
    assert [e["details"]["username"] for e in created][:3] == ["u3", "u2", "u1"]
    assert all(e["actor"] == "api:admin" for e in created[:3])
    assert len(api.client.get("/api/v1/audit", params={"limit": 2}, headers=h).json()) == 2

    verify = api.client.get("/api/v1/audit/verify", headers=h).json()
    assert (verify["events"], verify["ok"], verify["first_bad_id"]) == (len(events), True, None)
    assert verify["legacy"] == 0  # every event authenticated with the key held outside the DB

    # someone with database access edits one event: the chain breaks exactly there
    target = created[1]
    with api.runtime.db.session() as s:
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.id == target["id"])
            .values(details={**target["details"], "role": "admin"})
        )
    verify = api.client.get("/api/v1/audit/verify", headers=h).json()
    assert (verify["ok"], verify["first_bad_id"]) == (False, target["id"])

    # putting it back restores the chain; deleting an event breaks it at the next one
    with api.runtime.db.session() as s:
        s.execute(
            update(AuditEvent)
            .where(AuditEvent.id == target["id"])
            .values(details=target["details"])
        )
    assert api.client.get("/api/v1/audit/verify", headers=h).json()["ok"] is True
    with api.runtime.db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == target["id"]))
    verify = api.client.get("/api/v1/audit/verify", headers=h).json()
    assert (verify["ok"], verify["first_bad_id"]) == (False, created[0]["id"])
