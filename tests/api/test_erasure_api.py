"""Erasure, receipts and subject access export over HTTP (SQLite and PostgreSQL): who may,
under which case, and what comes back."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from aima.security.permissions import Permission
from aima.store.models import AuditEvent, Person
from tests.api.helpers import Api, exercises
from tests.services.test_erase_person import NAME, build_world

P = "/api/v1/persons"


@exercises(Permission.PERSONS_ERASE, Permission.AUDIT_READ)
def test_erase_over_http_then_verify_the_receipt(api: Api) -> None:
    w = build_world(api.runtime)
    c = api.client
    admin, analyst, auditor = api.user("admin"), api.user("analyst"), api.user("auditor")
    body = {"reason": "data subject request 2024-17"}

    r = c.post(f"{P}/{w.person_id}/erase", json=body, headers=api.case_headers(analyst))
    assert r.status_code == 403, r.text
    r = c.post(f"{P}/{w.person_id}/erase", json=body, headers=admin.headers)
    assert r.status_code == 400 and "case" in r.json()["error"]["message"], r.text
    r = c.post(f"{P}/{w.person_id}/erase", json={}, headers=api.case_headers(admin))
    assert r.status_code == 422, r.text
    r = c.post(
        f"{P}/{w.person_id}/erase",
        json={"reason": f"asked by {NAME}"},
        headers=api.case_headers(admin),
    )
    assert r.status_code == 422 and "name" in r.json()["error"]["message"], r.text

    r = c.post(f"{P}/{w.person_id}/erase", json=body, headers=api.case_headers(admin))
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["kind"] == "person_erasure" and receipt["signature"]
    assert NAME not in r.text and w.person_id not in r.text
    with api.runtime.db.session() as s:
        assert s.get(Person, w.person_id) is None
        event = s.execute(
            select(AuditEvent).where(AuditEvent.action == "person.erase")
        ).scalar_one()
        assert event.details["case"] == api.cases["admin"]
        assert event.details["purpose"] == "erasure"
        assert NAME not in json.dumps(event.details)

    url = f"/api/v1/receipts/{receipt['id']}"
    for caller in (auditor, admin):
        r = c.get(url, headers=caller.headers)
        assert r.status_code == 200, r.text
        assert r.json()["valid"] is True and r.json()["receipt"] == receipt
    assert c.get(url, headers=analyst.headers).status_code == 403
    assert c.get("/api/v1/receipts/rcp_nothing", headers=auditor.headers).status_code == 404
    r = c.post(f"{P}/{w.person_id}/erase", json=body, headers=api.case_headers(admin))
    assert r.status_code == 404, r.text  # gone: a second erasure has nothing to erase


@exercises(Permission.PERSONS_ERASE)
def test_subject_export_over_http(api: Api) -> None:
    w = build_world(api.runtime)
    c = api.client
    admin, analyst = api.user("admin"), api.user("analyst")
    url = f"{P}/{w.person_id}/subject-export"
    assert c.get(url, headers=api.case_headers(analyst)).status_code == 403
    assert c.get(url, headers=admin.headers).status_code == 400  # no case
    r = c.get(url, headers=api.case_headers(admin))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = set(z.namelist())
        assert {"person.json", "observations.json", "transcripts.json", "report.md"} <= names
        assert json.loads(z.read("person.json"))["person"]["name"] == NAME
        assert sum(n.startswith("crops/") for n in names) == 1
    assert c.get(f"{P}/per_nobody/subject-export", headers=api.case_headers(admin)).status_code == (
        404
    )
