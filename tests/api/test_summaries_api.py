"""``GET /api/v1/persons/{id}/summary`` and ``GET /api/v1/media/{id}/summary`` through the real
app (SQLite and PostgreSQL), no model configured: extractive, labelled, audited, permissioned;
the dossier (JSON and Markdown) carries the same summary."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aima.store.models import AuditEvent
from tests.api.helpers import Api
from tests.identity.test_dossier import _build

OFFLINE = "extractive summary (no language model configured)"


def _ok(r: Any) -> Any:
    assert r.status_code == 200, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def test_person_and_media_summaries(api: Api) -> None:
    w = _build(api.runtime.db)
    c, viewer = api.client, api.user("viewer").headers
    under_case = api.case_headers(api.user("viewer"))  # dossiers run under a case

    out = _ok(c.get(f"/api/v1/persons/{w.alice}/summary", headers=viewer))
    assert (out["method"], out["label"], out["regenerated"]) == ("extractive", OFFLINE, True)
    assert out["subject_id"] == w.alice and len(out["facts_hash"]) == 64
    facts = {f["id"] for f in _ok(c.get(f"/api/v1/persons/{w.alice}/dossier", headers=under_case))[
        "facts"
    ]}  # fmt: skip
    assert out["sentences"] and all(set(s["cites"]) <= facts for s in out["sentences"])
    assert all(f"[{s['cites'][0]}]" in s["text"] for s in out["sentences"])

    again = _ok(c.get(f"/api/v1/persons/{w.alice_old}/summary", headers=viewer))
    assert again["regenerated"] is False and again["subject_id"] == w.alice
    forced = _ok(c.get(f"/api/v1/persons/{w.alice}/summary?refresh=true", headers=viewer))
    assert forced["regenerated"] is True and forced["sentences"] == out["sentences"]

    doc = _ok(c.get(f"/api/v1/persons/{w.alice}/dossier", headers=under_case))
    assert doc["narrative"]["label"] == OFFLINE and doc["narrative"]["text"] == out["text"]
    md = c.get(f"/api/v1/persons/{w.alice}/dossier?format=md", headers=under_case)
    assert md.status_code == 200 and f"_{OFFLINE}_" in md.text and "## Written summary" in md.text

    media = _ok(c.get(f"/api/v1/media/{w.media_a}/summary", headers=viewer))
    assert media["subject_type"] == "media" and media["label"] == OFFLINE
    assert media["sentences"] and all(
        cite.startswith("M") for s in media["sentences"] for cite in s["cites"]
    )
    assert "interview.mp4" in media["text"]

    with api.runtime.db.session() as s:
        actions = [
            (e.action, e.object_id)
            for e in s.execute(
                select(AuditEvent).where(AuditEvent.action.like("%.summary"))
            ).scalars()
        ]
    assert actions.count(("person.summary", w.alice)) == 3
    assert actions.count(("media.summary", w.media_a)) == 1


def test_summary_permissions(api: Api) -> None:
    w = _build(api.runtime.db)
    c = api.client
    assert c.get(f"/api/v1/persons/{w.alice}/summary").status_code == 401
    auditor = api.user("auditor").headers
    assert c.get(f"/api/v1/persons/{w.alice}/summary", headers=auditor).status_code == 403
    assert c.get(f"/api/v1/media/{w.media_a}/summary", headers=auditor).status_code == 403
    uploader = api.user("uploader").headers  # results:read, but not this media; no persons:read
    assert c.get(f"/api/v1/persons/{w.alice}/summary", headers=uploader).status_code == 403
    assert c.get(f"/api/v1/media/{w.media_a}/summary", headers=uploader).status_code == 404
    analyst = api.user("analyst").headers
    assert c.get("/api/v1/persons/per_nobody/summary", headers=analyst).status_code == 404
    assert c.get("/api/v1/media/med_nothing/summary", headers=analyst).status_code == 404
