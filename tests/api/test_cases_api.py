"""Cases and purpose binding through the real app and the real CLI (SQLite and PostgreSQL):
who may open, see and use a case; every guarded route refuses without an open case of the
caller's (400/403/404/409) and names the case in its audit event; the jurisdiction policy
refuses forbidden analyzers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aima.api.app import create_app
from aima.cli.main import app as cli_app
from aima.runtime import Runtime
from aima.services.access import cli_principal
from tests.api.helpers import Account, Api, TestClient, open_case
from tests.api.test_persons_api import World, build_world
from tests.conftest import TEST_SECRET

C = "/api/v1/cases"
WHY = "suspected badge fraud at the north entrance, ticket 4711"


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    error: dict[str, Any] = r.json()["error"]
    return error


def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    admin = api.user("admin")
    events: list[dict[str, Any]] = _ok(
        api.client.get("/api/v1/audit", params={"action": action}, headers=admin.headers)
    )
    return events


# --------------------------------------------------------------------------- the cases
def test_open_share_and_close_a_case(api: Api) -> None:
    c = api.client
    analyst, viewer, other = api.user("analyst"), api.user("viewer"), api.user("viewer", "vera")
    admin, auditor, uploader = api.user("admin"), api.user("auditor"), api.user("uploader")

    body = {"title": "Badge fraud", "legal_basis": "legitimate_interests", "justification": WHY}
    case = _ok(c.post(C, json={**body, "members": ["viewer"]}, headers=analyst.headers), 201)
    assert case["state"] == "open" and case["created_by"] == analyst.user_id
    assert sorted(m["username"] for m in case["members"]) == ["analyst", "viewer"]
    cid = case["id"]

    # refused bodies: a legal basis off the list, a justification that says nothing
    bad = _error(c.post(C, json={**body, "legal_basis": "curiosity"}, headers=analyst.headers), 422)
    assert "legal_basis" in bad["message"]
    short = _error(
        c.post(C, json={**body, "justification": "why not"}, headers=analyst.headers), 422
    )
    assert "justification" in short["message"]
    assert "cases:manage" in _error(c.post(C, json=body, headers=viewer.headers), 403)["message"]
    assert "cases:read" in _error(c.get(C, headers=auditor.headers), 403)["message"]

    # visibility: members see it, a non-member neither lists nor reads it, admins see all
    assert [x["id"] for x in _ok(c.get(C, headers=viewer.headers))] == [cid]
    assert _ok(c.get(C, headers=other.headers)) == []
    assert _ok(c.get(C, headers=uploader.headers)) == []
    assert "not a member" in _error(c.get(f"{C}/{cid}", headers=other.headers), 403)["message"]
    assert [x["id"] for x in _ok(c.get(C, headers=admin.headers))] == [cid]
    _error(c.get(f"{C}/case_unknown", headers=admin.headers), 404)

    # members come and go; then it closes and stays listed
    shared = _ok(c.post(f"{C}/{cid}/members", json={"user": "vera"}, headers=analyst.headers))
    assert "vera" in {m["username"] for m in shared["members"]}
    assert _ok(c.get(f"{C}/{cid}", headers=other.headers))["id"] == cid
    _ok(c.delete(f"{C}/{cid}/members/vera", headers=analyst.headers))
    _error(c.get(f"{C}/{cid}", headers=other.headers), 403)
    _error(c.post(f"{C}/{cid}/members", json={"user": "ghost"}, headers=analyst.headers), 404)
    closed = _ok(c.post(f"{C}/{cid}/close", headers=analyst.headers))
    assert closed["state"] == "closed" and closed["closed_at"]
    _error(c.post(f"{C}/{cid}/members", json={"user": "vera"}, headers=analyst.headers), 409)
    assert _ok(c.get(C, params={"state": "open"}, headers=viewer.headers)) == []
    assert [x["state"] for x in _ok(c.get(C, headers=viewer.headers))] == ["closed"]

    assert [e["action"] for e in reversed(_audit(api, "case.create"))] == ["case.create"]
    assert len(_audit(api, "case.member_add")) == 1
    assert len(_audit(api, "case.member_remove")) == 1
    (close,) = _audit(api, "case.close")
    assert close["object_id"] == cid and close["actor"] == "api:analyst"


# --------------------------------------------------------------------------- the guard
def _guarded(world: World) -> dict[str, Callable[[TestClient, dict[str, str]], Any]]:
    alice, meeting = world.persons["alice"], world.media["meeting"]
    probe = {"file": ("q.jpg", b"not a picture")}  # past the guard the service answers 415
    return {
        "dossier": lambda c, h: c.get(f"/api/v1/persons/{alice}/dossier", headers=h),
        "dossier_md": lambda c, h: c.get(
            f"/api/v1/persons/{alice}/dossier", params={"format": "md"}, headers=h
        ),
        "seen_before": lambda c, h: c.get(f"/api/v1/persons/{alice}/seen-before", headers=h),
        "media_export": lambda c, h: c.get(f"/api/v1/media/{meeting}/export", headers=h),
        "face_search": lambda c, h: c.post("/api/v1/search/face", files=probe, headers=h),
        "voice_search": lambda c, h: c.post("/api/v1/search/voice", files=probe, headers=h),
    }


PASSES = {"face_search": 415, "voice_search": 415}  # the query file is refused, not the caller


def test_every_guarded_route_needs_an_open_case_of_the_caller(api: Api) -> None:
    world = build_world(api.runtime)
    c = api.client
    analyst, stranger, admin = api.user("analyst"), api.user("analyst", "ana2"), api.user("admin")
    mine = open_case(api.runtime, "analyst")
    theirs = open_case(api.runtime, "ana2")
    closed = open_case(api.runtime, "analyst")
    api.runtime.cases.close(cli_principal(), closed)

    def with_case(who: Account, case_id: str) -> dict[str, str]:
        return {**who.headers, "X-AIMA-Case": case_id}

    for purpose, call in _guarded(world).items():
        none = _error(call(c, analyst.headers), 400)
        assert "X-AIMA-Case" in none["message"] and "case" in none["message"], purpose
        assert _error(call(c, with_case(analyst, theirs)), 403)["code"] == "forbidden", purpose
        assert "not a member" in _error(call(c, with_case(stranger, mine)), 403)["message"]
        _error(call(c, with_case(analyst, "case_unknown")), 404)
        assert "closed" in _error(call(c, with_case(analyst, closed)), 409)["message"], purpose
        r = call(c, with_case(analyst, mine))
        assert r.status_code == PASSES.get(purpose, 200), (purpose, r.status_code, r.text)
        r = call(c, with_case(admin, theirs))  # an admin may use any open case
        assert r.status_code == PASSES.get(purpose, 200), (purpose, r.status_code, r.text)

    # the case as a query parameter, for links a browser follows (Markdown download)
    alice = world.persons["alice"]
    md = c.get(
        f"/api/v1/persons/{alice}/dossier",
        params={"format": "md", "case": mine},
        headers=analyst.headers,
    )
    assert md.status_code == 200 and md.text.startswith("# ")

    # the audit event of each action names the case and the purpose
    dossiers = _audit(api, "person.dossier_export")
    assert {(e["details"]["case"], e["details"]["purpose"]) for e in dossiers} == {
        (mine, "dossier"),
        (theirs, "dossier"),
    }
    assert {e["actor"] for e in dossiers} == {"api:analyst", "api:admin"}
    (seen, seen_admin) = _audit(api, "search.seen_before")
    assert {seen["details"]["case"], seen_admin["details"]["case"]} == {mine, theirs}
    exports = _audit(api, "media.export")
    assert {e["details"]["purpose"] for e in exports} == {"media_export"}
    refused = _audit(api, "case.refused")
    assert {e["details"]["reason"] for e in refused} == {"forbidden", "notfound", "conflict"}


def test_a_viewer_uses_only_the_cases_they_belong_to(api: Api) -> None:
    world = build_world(api.runtime)
    c = api.client
    viewer = api.user("viewer")
    alice = world.persons["alice"]
    other = open_case(api.runtime)  # nobody's but the admin's
    assert other not in {x["id"] for x in _ok(c.get(C, headers=viewer.headers))}
    url = f"/api/v1/persons/{alice}/dossier"
    _error(c.get(url, headers={**viewer.headers, "X-AIMA-Case": other}), 403)
    doc = _ok(c.get(url, headers=api.case_headers(viewer)))
    assert doc["person"]["id"] == alice
    (event,) = _audit(api, "person.dossier_export")
    assert event["actor"] == "api:viewer"
    assert event["details"]["case"] == api.cases["viewer"]


def test_cases_optional_when_the_deployment_says_so(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(privacy={"cases_required": False})
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        world = build_world(rt)
        viewer = api.user("viewer")
        url = f"/api/v1/persons/{world.persons['alice']}/dossier"
        _ok(client.get(url, headers=viewer.headers))
        _error(client.get(url, headers={**viewer.headers, "X-AIMA-Case": "case_x"}), 404)
        (event,) = _audit(api, "person.dossier_export")
        assert event["details"]["case"] is None and event["details"]["purpose"] == "dossier"


def test_openapi_documents_the_case_header_and_refusals(api: Api) -> None:
    spec = _ok(api.client.get("/openapi.json"))
    for method, path in (
        ("post", "/api/v1/search/face"),
        ("post", "/api/v1/search/voice"),
        ("get", "/api/v1/persons/{person_id}/dossier"),
        ("get", "/api/v1/persons/{person_id}/seen-before"),
        ("get", "/api/v1/media/{media_id}/export"),
    ):
        op = spec["paths"][path][method]
        params = {(p["in"], p["name"]) for p in op["parameters"]}
        assert {("header", "X-AIMA-Case"), ("query", "case")} <= params, path
        assert {"400", "403", "404", "409"} <= set(op["responses"]), path
    assert "/api/v1/cases/{case_id}/close" in spec["paths"]


# --------------------------------------------------------------------------- jurisdiction
POLICY = {"jurisdiction": "EU AI Act, workplace", "forbidden_analyzers": ["emotion"]}
REASON = "forbidden by jurisdiction policy (EU AI Act, workplace)"


def test_forbidden_analyzers_are_refused_and_shown(
    make_runtime: Callable[..., Runtime], samples: dict[str, bytes]
) -> None:
    rt = make_runtime(privacy=POLICY)
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        admin = api.user("admin")
        up = _ok(api.upload(admin, [("p.jpg", samples["jpeg"])], analyze="false"), 201)
        media_id = up["files"][0]["media_id"]

        job = client.post(
            "/api/v1/jobs",
            json={"media_id": media_id, "analyzers": ["emotion"]},
            headers=admin.headers,
        )
        refused = _error(job, 403)
        assert REASON in refused["message"] and refused["details"]["forbidden"] == ["emotion"]
        plan = client.post(
            "/api/v1/jobs/plan",
            json={"media_id": media_id, "analyzers": ["thumbnails", "emotion"]},
            headers=admin.headers,
        )
        assert REASON in _error(plan, 403)["message"]
        upload = api.upload(admin, [("q.jpg", samples["jpeg2"])], analyzers="emotion")
        assert REASON in _error(upload, 403)["message"]
        _ok(client.post("/api/v1/jobs", json={"media_id": media_id}, headers=admin.headers), 201)

        listed = {a["name"]: a for a in _ok(client.get("/api/v1/analyzers", headers=admin.headers))}
        assert listed["emotion"]["disabled"] is True
        assert listed["emotion"]["disabled_reason"] == REASON
        assert listed["thumbnails"]["disabled_reason"] is None
        policy = _ok(client.get("/api/v1/settings", headers=admin.headers))["policy"]
        assert policy == {
            "jurisdiction": "EU AI Act, workplace",
            "cases_required": True,
            "forbidden_analyzers": ["emotion"],
        }


# --------------------------------------------------------------------------- the CLI
@pytest.fixture
def cli(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, make_runtime: Any
) -> tuple[Runtime, Callable[..., Result]]:
    rt = make_runtime(privacy=POLICY)
    for key, value in {
        "AIMA_DATA_DIR": str(rt.settings.data_dir),
        "AIMA_DATABASE_URL": db_url,
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
        "AIMA_AUDIT__KEY_FILE": str(rt.settings.audit.key_file),
        "AIMA_PRIVACY__JURISDICTION": POLICY["jurisdiction"],
        "AIMA_PRIVACY__FORBIDDEN_ANALYZERS": '["emotion"]',
        "AIMA_JOBS__DEFAULT_ANALYZERS": '["thumbnails"]',
    }.items():
        monkeypatch.setenv(key, str(value))
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Result:
        result = runner.invoke(cli_app, list(args))
        assert result.exit_code == code, (args, result.output, result.stderr, result.exception)
        return result

    return rt, run


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_cases_and_guarded_commands(cli: tuple[Runtime, Callable[..., Result]]) -> None:
    import json

    rt, aima = cli
    world = build_world(rt)
    rt.users.create(cli_principal(), "vic", "correct-horse-battery-staple", "viewer")
    alice = world.persons["alice"]

    made = json.loads(
        aima(
            "cases", "create", "Badge fraud", "--legal-basis", "consent",
            "--justification", WHY, "--member", "vic", "--json",
        ).stdout
    )  # fmt: skip
    cid = made["id"]
    assert [m["username"] for m in made["members"]] == ["vic"]  # the CLI operator is no user
    assert cid in aima("cases", "list").stdout
    assert "Badge fraud" in aima("cases", "show", cid).stdout
    bad = aima("cases", "create", "x", "--legal-basis", "consent", "--justification", "no", code=1)
    assert "at least 10 characters" in _flat(bad.stderr)
    aima("cases", "create", "x", "--legal-basis", "whim", "--justification", WHY, code=2)

    # guarded commands: refused without a case, run under one, audited with it
    refused = aima("persons", "dossier", alice, "--format", "json", code=1)
    assert "needs an open case" in _flat(refused.stderr) and "--case" in _flat(refused.stderr)
    doc = json.loads(aima("persons", "dossier", alice, "--format", "json", "--case", cid).stdout)
    assert doc["person"]["id"] == alice
    aima("persons", "seen-before", alice, "--json", "--case", cid)
    missing = aima("search", "face", "no-such-photo.jpg", "--case", "case_nope", code=1)
    assert "case case_nope not found" in _flat(missing.stderr)
    with rt.db.session() as s:
        from sqlalchemy import select

        from aima.store.models import AuditEvent

        details = [
            e.details
            for e in s.execute(
                select(AuditEvent).where(
                    AuditEvent.action.in_(["person.dossier_export", "search.seen_before"])
                )
            ).scalars()
        ]
    assert [(d["case"], d["purpose"]) for d in details] == [
        (cid, "dossier"),
        (cid, "seen_before"),
    ]

    aima("cases", "add-member", cid, "vic")  # already a member: no-op
    aima("cases", "remove-member", cid, "vic")
    assert "closed case" in aima("cases", "close", cid).stdout
    closed = aima("persons", "seen-before", alice, "--case", cid, code=1)
    assert "is closed" in _flat(closed.stderr)

    # the jurisdiction policy, where an operator looks
    policy = json.loads(aima("cases", "policy", "--json").stdout)
    assert policy["forbidden_analyzers"] == ["emotion"] and policy["cases_required"] is True
    listing = _flat(aima("analyzers").stdout)
    assert "jurisdiction: EU AI Act, workplace; forbidden analyzers: emotion" in listing
    submit = aima("jobs", "submit", world.media["meeting"], "--analyzers", "emotion", code=1)
    assert "forbidden by jurisdiction policy" in _flat(submit.stderr)
