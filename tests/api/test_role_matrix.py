"""Who may call what: every non-public route x every role, generated from the app, plus
object-level checks (one uploader never sees another's media or jobs)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any, cast

from fastapi import FastAPI

from aima.security.permissions import ROLE_PERMISSIONS, Permission, Role
from aima.store.models import Job
from tests.api.helpers import PASSWORD, Api, RouteAccess, api_routes, exercises

DUMMY_PATH_PARAMS = {
    "media_id": "med_00000000000000000000000000000000",
    "job_id": "job_00000000000000000000000000000000",
    "sha256": "0" * 64,
    "username": "nobody-here",
    "result_id": "res_00000000000000000000000000000000",
    "person_id": "per_00000000000000000000000000000000",
    "link_id": "lnk_00000000000000000000000000000000",
    "correction_id": "cor_00000000000000000000000000000000",
    "kind": "faces",
    "budget_id": "bud_00000000000000000000000000000000",
    "item_id": "rev_00000000000000000000000000000000",
    "webhook_id": "whk_00000000000000000000000000000000",
    "delivery_id": "1",
    "rule_id": "ret_00000000000000000000000000000000",
    "case_id": "case_00000000000000000000000000000000",
    "user": "nobody-here",
    "receipt_id": "rcp_00000000000000000000000000000000",
}
_counter = itertools.count()


def _bodies(samples: dict[str, bytes]) -> dict[tuple[str, str], Callable[[], dict[str, Any]]]:
    """Minimal valid requests for routes that take a body (keyword arguments for client.request)."""
    return {
        ("POST", "/api/v1/media"): lambda: {
            "files": [("files", ("probe.jpg", samples["jpeg3"], "image/jpeg"))],
            "data": {"analyze": "false"},
        },
        ("POST", "/api/v1/jobs"): lambda: {"json": {"media_id": DUMMY_PATH_PARAMS["media_id"]}},
        ("POST", "/api/v1/jobs/plan"): lambda: {
            "json": {"media_id": DUMMY_PATH_PARAMS["media_id"]}
        },
        ("PATCH", "/api/v1/jobs/{job_id}"): lambda: {"json": {"priority": 1}},
        ("PUT", "/api/v1/budgets"): lambda: {
            "json": {"scope": "project", "subject": "p", "soft_limit": 1, "hard_limit": 2}
        },
        ("POST", "/api/v1/users"): lambda: {
            "json": {"username": f"made-{next(_counter)}", "password": PASSWORD, "role": "viewer"}
        },
        ("PATCH", "/api/v1/users/{username}"): lambda: {"json": {"role": "viewer"}},
        ("PUT", "/api/v1/users/{username}/quota"): lambda: {"json": {"uploads_per_day": 5}},
        ("POST", "/api/v1/persons/{person_id}/merge"): lambda: {
            "json": {"persons": [DUMMY_PATH_PARAMS["person_id"]]}
        },
        ("POST", "/api/v1/persons/{person_id}/split"): lambda: {"json": {"observations": [1]}},
        ("POST", "/api/v1/persons/{person_id}/reject"): lambda: {"json": {"observations": [1]}},
        ("PATCH", "/api/v1/persons/{person_id}"): lambda: {"json": {"name": "someone"}},
        ("POST", "/api/v1/persons/{person_id}/erase"): lambda: {
            "json": {"reason": "role matrix probe"}
        },
        # a query file the service refuses at once (415): access is what is tested here
        ("POST", "/api/v1/search/face"): lambda: {"files": {"file": ("q.jpg", samples["text"])}},
        ("POST", "/api/v1/search/voice"): lambda: {"files": {"file": ("q.wav", samples["text"])}},
        # not a ZIP (422) / an empty library (422): access is what is tested here
        ("POST", "/api/v1/calibration/{kind}"): lambda: {
            "files": {"file": ("s.zip", samples["text"])}
        },
        ("POST", "/api/v1/persons/reembed"): lambda: {"json": {"kind": "face"}},
        ("POST", "/api/v1/review/{item_id}/confirm"): lambda: {"json": {"note": "seen"}},
        ("POST", "/api/v1/review/{item_id}/dismiss"): lambda: {"json": {"note": "a watch"}},
        ("POST", "/api/v1/webhooks"): lambda: {"json": {"url": "https://example.org/hook"}},
        ("POST", "/api/v1/retention/rules"): lambda: {
            "json": {"library": "probe", "action": "delete_raw", "after_days": 3650}
        },
        ("PATCH", "/api/v1/retention/rules/{rule_id}"): lambda: {"json": {"enabled": False}},
        ("POST", "/api/v1/retention/run"): lambda: {"json": {"dry_run": True}},
        ("POST", "/api/v1/media/{media_id}/share"): lambda: {"json": {"username": "nobody-here"}},
        ("POST", "/api/v1/cases"): lambda: {
            "json": {
                "title": f"case {next(_counter)}",
                "legal_basis": "consent",
                "justification": "role matrix probe of case creation",
            }
        },
        ("POST", "/api/v1/cases/{case_id}/members"): lambda: {"json": {"user": "nobody-here"}},
    }


def _url(route: RouteAccess) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        assert name in DUMMY_PATH_PARAMS, f"{route.label}: add a dummy value for {{{name}}}"
        return DUMMY_PATH_PARAMS[name]

    return re.sub(r"\{([^}]+)\}", fill, route.path)


def test_every_protected_route_answers_by_role(api: Api, samples: dict[str, bytes]) -> None:
    routes = [r for r in api_routes(cast(FastAPI, api.client.app)) if r.rule != "public"]
    assert len(routes) >= 20
    bodies = _bodies(samples)
    accounts = {role: api.user(role.value) for role in Role}
    failures: list[str] = []
    for route in routes:
        if route.route.body_field is not None:
            assert (route.method, route.path) in bodies, f"{route.label}: add a minimal body above"
        make_body = bodies.get((route.method, route.path), dict)
        url = _url(route)

        for label, headers in (
            ("no token", {}),
            ("garbage token", {"Authorization": "Bearer not.a.jwt"}),
            ("basic auth", {"Authorization": "Basic YWRtaW46YWRtaW4="}),
        ):
            r = api.client.request(route.method, url, headers=headers, **make_body())
            if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
                failures.append(f"{route.label} with {label}: {r.status_code} {r.text[:120]}")

        for role, account in accounts.items():
            allowed = route.permission is None or route.permission in ROLE_PERMISSIONS[role]
            r = api.client.request(route.method, url, headers=account.headers, **make_body())
            if allowed and (r.status_code in (401, 403) or r.status_code >= 500):
                failures.append(
                    f"{route.label} as {role}: allowed but got {r.status_code} {r.text[:160]}"
                )
            if not allowed:
                error = r.json().get("error", {}) if r.status_code == 403 else {}
                if error.get("code") != "forbidden" or str(route.permission) not in error.get(
                    "message", ""
                ):
                    failures.append(
                        f"{route.label} as {role}: should be 403, got {r.status_code} {r.text[:160]}"
                    )
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------------- object level


def _upload_one(api: Api, who: Any, name: str, data: bytes) -> dict[str, Any]:
    r = api.upload(who, [(name, data)])
    assert r.status_code in (200, 201), r.text
    outcome: dict[str, Any] = r.json()["files"][0]
    return outcome


def _not_found_body(api: Api, who: Any, url: str, real_id: str) -> dict[str, Any]:
    r = api.client.get(url, headers=who.headers)
    assert r.status_code == 404, f"{url}: {r.status_code} {r.text}"
    body: dict[str, Any] = r.json()
    body["error"]["message"] = body["error"]["message"].replace(real_id, "<id>")
    return body


@exercises(Permission.MEDIA_READ, Permission.JOBS_READ, Permission.RESULTS_READ)
def test_uploaders_never_see_each_others_media_or_jobs(api: Api, samples: dict[str, bytes]) -> None:
    alice, bob = api.user("uploader", "alice"), api.user("uploader", "bob")
    mine = _upload_one(api, alice, "alice.jpg", samples["jpeg"])
    media_id, job_id = mine["media_id"], mine["job_id"]
    assert mine["status"] == "created" and job_id

    # the owner sees her media and job
    assert api.client.get(f"/api/v1/media/{media_id}", headers=alice.headers).status_code == 200
    assert api.client.get(f"/api/v1/jobs/{job_id}", headers=alice.headers).status_code == 200
    assert api.client.get(f"/api/v1/media/{media_id}/results", headers=alice.headers).json() == []
    assert [
        m["id"] for m in api.client.get("/api/v1/media", headers=alice.headers).json()["items"]
    ] == [media_id]

    # bob: 404 for everything of hers, exactly like for an id that does not exist
    fake_media, fake_job = DUMMY_PATH_PARAMS["media_id"], DUMMY_PATH_PARAMS["job_id"]
    for url, fake_url, real in (
        (f"/api/v1/media/{media_id}", f"/api/v1/media/{fake_media}", media_id),
        (f"/api/v1/media/{media_id}/results", f"/api/v1/media/{fake_media}/results", media_id),
        (
            f"/api/v1/media/{media_id}/artifacts/{'a' * 64}",
            f"/api/v1/media/{fake_media}/artifacts/{'a' * 64}",
            media_id,
        ),
        (f"/api/v1/jobs/{job_id}", f"/api/v1/jobs/{fake_job}", job_id),
        (f"/api/v1/jobs/{job_id}/events", f"/api/v1/jobs/{fake_job}/events", job_id),
    ):
        fake = fake_media if "media" in url else fake_job
        assert _not_found_body(api, bob, url, real) == _not_found_body(api, bob, fake_url, fake)
    for method, url, body in (
        ("POST", f"/api/v1/jobs/{job_id}/cancel", None),
        ("POST", f"/api/v1/jobs/{job_id}/retry", None),
        ("PATCH", f"/api/v1/jobs/{job_id}", {"priority": 9}),
        ("POST", "/api/v1/jobs", {"media_id": media_id}),
    ):
        r = api.client.request(method, url, json=body, headers=bob.headers)
        assert r.status_code == 404, f"{method} {url}: {r.status_code} {r.text}"
    # uploaders download only what they may see: someone else's media is "not found"
    assert (
        api.client.get(f"/api/v1/media/{media_id}/content", headers=bob.headers).status_code == 404
    )
    own = api.client.get(f"/api/v1/media/{media_id}/content", headers=alice.headers)
    assert own.status_code == 200 and own.content == samples["jpeg"]
    assert api.client.get("/api/v1/media", headers=bob.headers).json()["total"] == 0
    assert api.client.get("/api/v1/jobs", headers=bob.headers).json()["total"] == 0
    assert api.runtime.ledger.get(job_id).state == "queued"  # bob's cancel did nothing

    # bob's own media stays invisible to alice
    bobs = _upload_one(api, bob, "bob.jpg", samples["jpeg2"])
    assert (
        api.client.get(f"/api/v1/media/{bobs['media_id']}", headers=alice.headers).status_code
        == 404
    )
    assert (
        api.client.get(f"/api/v1/jobs/{bobs['job_id']}", headers=alice.headers).status_code == 404
    )

    # uploading the same bytes proves bob has them: he is granted the existing media
    dup = _upload_one(api, bob, "copy-of-alice.jpg", samples["jpeg"])
    assert (dup["status"], dup["media_id"]) == ("duplicate", media_id)
    assert api.client.get(f"/api/v1/media/{media_id}", headers=bob.headers).status_code == 200
    assert {
        m["id"] for m in api.client.get("/api/v1/media", headers=bob.headers).json()["items"]
    } == {
        media_id,
        bobs["media_id"],
    }
    # ...under his own name, but never alice's jobs (tests/api/test_dedup_privacy_api.py)
    assert api.client.get(f"/api/v1/jobs/{job_id}", headers=bob.headers).status_code == 404
    r = api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=bob.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert api.runtime.ledger.get(job_id).state == "queued"


@exercises(Permission.MEDIA_READ_ALL, Permission.JOBS_READ_ALL)
def test_viewer_sees_everything_but_changes_nothing(api: Api, samples: dict[str, bytes]) -> None:
    alice, viewer = api.user("uploader", "alice"), api.user("viewer")
    mine = _upload_one(api, alice, "alice.jpg", samples["jpeg"])
    h = viewer.headers
    assert api.client.get(f"/api/v1/media/{mine['media_id']}", headers=h).status_code == 200
    assert api.client.get(f"/api/v1/media/{mine['media_id']}/results", headers=h).status_code == 200
    assert api.client.get(f"/api/v1/jobs/{mine['job_id']}", headers=h).status_code == 200
    assert api.client.get("/api/v1/media", headers=h).json()["total"] == 1
    assert [j["id"] for j in api.client.get("/api/v1/jobs", headers=h).json()["items"]] == [
        mine["job_id"]
    ]

    assert api.upload(viewer, [("v.jpg", samples["jpeg2"])]).status_code == 403
    assert api.client.post(f"/api/v1/jobs/{mine['job_id']}/cancel", headers=h).status_code == 403
    assert (
        api.client.post("/api/v1/jobs", json={"media_id": mine["media_id"]}, headers=h).status_code
        == 403
    )
    assert api.client.get(f"/api/v1/media/{mine['media_id']}/content", headers=h).status_code == 403
    assert api.count(Job) == 1
    assert api.runtime.ledger.get(mine["job_id"]).state == "queued"


@exercises(Permission.JOBS_MANAGE, Permission.JOBS_MANAGE_ALL)
def test_analyst_manages_any_job_uploader_only_their_own(
    api: Api, samples: dict[str, bytes]
) -> None:
    alice, analyst = api.user("uploader", "alice"), api.user("analyst")
    mine = _upload_one(api, alice, "alice.jpg", samples["jpeg"])
    job_id = mine["job_id"]

    r = api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=alice.headers)
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")
    r = api.client.post(f"/api/v1/jobs/{job_id}/retry", headers=alice.headers)
    assert (r.status_code, r.json()["state"]) == (200, "queued")

    # the analyst sees alice's media (read_all) and manages her job (manage_all)
    assert (
        api.client.get(f"/api/v1/media/{mine['media_id']}", headers=analyst.headers).status_code
        == 200
    )
    r = api.client.patch(f"/api/v1/jobs/{job_id}", json={"priority": 7}, headers=analyst.headers)
    assert (r.status_code, r.json()["priority"]) == (200, 7)
    r = api.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=analyst.headers)
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")

    # a job the analyst submitted on alice's media is visible to alice (her media) but not hers to manage
    r = api.client.post(
        "/api/v1/jobs", json={"media_id": mine["media_id"]}, headers=analyst.headers
    )
    assert r.status_code == 201
    theirs = r.json()["id"]
    assert api.client.get(f"/api/v1/jobs/{theirs}", headers=alice.headers).status_code == 200
    assert (
        api.client.post(f"/api/v1/jobs/{theirs}/cancel", headers=alice.headers).status_code == 403
    )
    assert api.runtime.ledger.get(theirs).state == "queued"
