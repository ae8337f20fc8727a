"""Retention through the real app on SQLite and PostgreSQL: rules CRUD, a library chosen at
upload, dry run, a real run, 410 Gone for the deleted original while results, timeline and
thumbnails keep answering, and the audit trail."""

from __future__ import annotations

from typing import Any

from aima.core.settings import RetentionSettings
from tests.api.helpers import Account, Api

R = "/api/v1/retention"
M = "/api/v1/media"


def _upload(api: Api, who: Account, data: bytes, **form: str) -> dict[str, Any]:
    r = api.upload(who, [("photo.jpg", data)], **form)
    assert r.status_code == 201, r.text
    outcome: dict[str, Any] = r.json()["files"][0]
    return outcome


def _create(api: Api, who: Account, **body: Any) -> dict[str, Any]:
    r = api.client.post(f"{R}/rules", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    rule: dict[str, Any] = r.json()
    return rule


def test_rules_crud_is_admin_only_and_audited(api: Api) -> None:
    admin, analyst = api.user("admin"), api.user("analyst")
    rule = _create(api, admin, library="cams", action="delete_raw", after_days=30)
    assert rule["enabled"] and rule["last_run_at"] is None and rule["media_kind"] is None
    assert rule["created_by"] == "api:admin"
    bad = api.client.post(
        f"{R}/rules",
        json={"library": "Cams!", "action": "delete_raw", "after_days": 1},
        headers=admin.headers,
    )
    assert bad.status_code == 422
    bad = api.client.post(
        f"{R}/rules", json={"action": "shred", "after_days": 1}, headers=admin.headers
    )
    assert bad.status_code == 422
    assert api.client.get(f"{R}/rules", headers=analyst.headers).status_code == 403

    r = api.client.patch(f"{R}/rules/{rule['id']}", json={"enabled": False}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["enabled"] is False
    listed = api.client.get(f"{R}/rules", headers=admin.headers).json()
    assert [(x["id"], x["enabled"]) for x in listed] == [(rule["id"], False)]
    assert api.client.delete(f"{R}/rules/{rule['id']}", headers=admin.headers).status_code == 204
    assert api.client.delete(f"{R}/rules/{rule['id']}", headers=admin.headers).status_code == 404
    assert api.client.get(f"{R}/rules", headers=admin.headers).json() == []

    audit = api.client.get("/api/v1/audit", params={"limit": 1000}, headers=admin.headers)
    actions = [e["action"] for e in audit.json() if e["object_id"] == rule["id"]]
    assert sorted(actions) == [
        "retention.rule_create",
        "retention.rule_delete",
        "retention.rule_disable",
    ]


def test_delete_raw_answers_410_while_results_and_timeline_stay(
    api: Api, samples: dict[str, bytes]
) -> None:
    admin, uploader = api.user("admin"), api.user("uploader", "uma")
    kept = _upload(api, uploader, samples["jpeg"])  # library "default": no rule for it
    doomed = _upload(api, uploader, samples["jpeg2"], library="cams")
    assert api.upload(uploader, [("x.jpg", samples["jpeg3"])], library="../x").status_code == 422
    api.run_jobs()  # thumbnails
    media = api.client.get(f"{M}/{doomed['media_id']}", headers=uploader.headers).json()
    assert (media["library"], media["raw_deleted_at"]) == ("cams", None)
    rule = _create(api, admin, library="cams", action="delete_raw", after_days=0)

    dry = api.client.post(f"{R}/run", json={"dry_run": True}, headers=admin.headers)
    assert dry.status_code == 200, dry.text
    assert [(x["rule_id"], x["media"], x["dry_run"]) for x in dry.json()] == [
        (rule["id"], [doomed["media_id"]], True)
    ]
    url = f"{M}/{doomed['media_id']}"
    assert api.client.get(f"{url}/content", headers=uploader.headers).status_code == 200

    done = api.client.post(f"{R}/run", json={"dry_run": False}, headers=admin.headers)
    assert [(x["media"], x["count"]) for x in done.json()] == [([doomed["media_id"]], 1)]

    gone = api.client.get(f"{url}/content", headers=uploader.headers)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "gone"
    assert "retention rule" in gone.json()["error"]["message"]
    ranged = api.client.get(f"{url}/content", headers={**uploader.headers, "Range": "bytes=0-9"})
    assert ranged.status_code == 410
    assert (
        api.client.get(f"{M}/{kept['media_id']}/content", headers=uploader.headers).status_code
        == 200
    )

    results = api.client.get(f"{url}/results", headers=uploader.headers)
    assert results.status_code == 200
    thumbs = [x for x in results.json() if x["analyzer"] == "thumbnails"]
    assert thumbs, results.text
    thumb = thumbs[0]["data"]["thumbnail"]
    assert api.client.get(f"{url}/artifacts/{thumb}", headers=uploader.headers).status_code == 200
    timeline = api.client.get(f"{url}/timeline", headers=uploader.headers)
    assert timeline.status_code == 200 and timeline.json()["media"]["id"] == doomed["media_id"]
    media = api.client.get(url, headers=uploader.headers).json()
    assert media["raw_deleted_at"] is not None

    listed = api.client.get(f"{R}/rules", headers=admin.headers).json()
    assert (listed[0]["last_run_count"], listed[0]["last_run_at"] is not None) == (1, True)
    again = api.client.post(f"{R}/run", json={"dry_run": False}, headers=admin.headers)
    assert [x["count"] for x in again.json()] == [0]

    audit = api.client.get(
        "/api/v1/audit", params={"action": "media.raw_delete"}, headers=admin.headers
    ).json()
    assert [(e["actor"], e["object_id"], e["details"]["rule_id"]) for e in audit] == [
        (f"retention:{rule['id']}", doomed["media_id"], rule["id"])
    ]
    runs = api.client.get(
        "/api/v1/audit", params={"action": "retention.run"}, headers=admin.headers
    ).json()
    assert len(runs) == 2 and all(e["actor"] == "api:admin" for e in runs)


def test_delete_media_rule_through_the_api(api: Api, samples: dict[str, bytes]) -> None:
    admin = api.user("admin")
    doomed = _upload(api, admin, samples["jpeg"], library="tmp", analyze="false")
    rule = _create(
        api, admin, library="tmp", media_kind="image", action="delete_media", after_days=0
    )
    other_kind = _create(
        api, admin, library="tmp", media_kind="video", action="delete_media", after_days=0
    )
    r = api.client.post(
        f"{R}/run", json={"dry_run": False, "rule_id": other_kind["id"]}, headers=admin.headers
    )
    assert [x["count"] for x in r.json()] == [0]
    r = api.client.post(
        f"{R}/run", json={"dry_run": False, "rule_id": rule["id"]}, headers=admin.headers
    )
    assert [x["media"] for x in r.json()] == [[doomed["media_id"]]]
    assert api.client.get(f"{M}/{doomed['media_id']}", headers=admin.headers).status_code == 404
    unknown = api.client.post(f"{R}/run", json={"rule_id": "ret_nope"}, headers=admin.headers)
    assert unknown.status_code == 404


def test_settings_expose_the_interval(api: Api) -> None:
    assert api.runtime.settings.retention == RetentionSettings()
    assert api.runtime.settings.retention.interval_s == 3600
