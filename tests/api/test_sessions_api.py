"""Browser sessions: HttpOnly access cookie + readable CSRF cookie (double submit); bearer auth
unchanged; tokens never read from the URL."""

from __future__ import annotations

from http.cookies import SimpleCookie

from fastapi import FastAPI

from aima.api.app import create_app
from aima.api.sessions import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from aima.runtime import Runtime
from aima.store.models import Job
from tests.api.helpers import PASSWORD, Api, TestClient


def _login(api: Api, role: str = "analyst") -> dict[str, str]:
    api.user(role)
    r = api.client.post("/api/v1/auth/session", json={"username": role, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    return body


def _set_cookies(headers: list[str]) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for line in headers:
        cookie = SimpleCookie()
        cookie.load(line)
        for name in cookie:
            found[name] = cookie
    return found


def test_session_sets_httponly_strict_cookies_and_a_readable_csrf_token(api: Api) -> None:
    api.user("analyst")
    r = api.client.post("/api/v1/auth/session", json={"username": "analyst", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"user_id", "username", "role", "csrf_token", "expires_in"}
    assert (body["username"], body["role"]) == ("analyst", "analyst")
    assert "access_token" not in r.text and "refresh_token" not in r.text
    raw = r.headers.get_list("set-cookie")
    cookies = _set_cookies(raw)
    assert set(cookies) == {ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE}
    lines = {name: next(line for line in raw if line.startswith(name + "=")) for name in cookies}
    for line in lines.values():
        attributes = [part.strip() for part in line.lower().split(";")[1:]]
        assert "samesite=strict" in attributes, line
        assert "secure" not in attributes, line  # plain http here
    assert "httponly" in lines[ACCESS_COOKIE].lower()
    assert "httponly" in lines[REFRESH_COOKIE].lower()
    assert "httponly" not in lines[CSRF_COOKIE].lower()
    assert "path=/api/v1/auth" in lines[REFRESH_COOKIE].lower()
    assert cookies[CSRF_COOKIE][CSRF_COOKIE].value == body["csrf_token"]
    assert f"max-age={body['expires_in']}" in lines[ACCESS_COOKIE].lower()


def test_session_cookies_are_secure_over_https(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, start_workers=False), base_url="https://aima.test") as c:
        api = Api(runtime, c)
        api.user("viewer")
        r = c.post("/api/v1/auth/session", json={"username": "viewer", "password": PASSWORD})
        assert r.status_code == 200
        lines = r.headers.get_list("set-cookie")
        assert len(lines) == 3 and all("; secure" in line.lower() for line in lines)


def test_wrong_password_sets_no_cookie(api: Api) -> None:
    api.user("viewer")
    r = api.client.post("/api/v1/auth/session", json={"username": "viewer", "password": "nope"})
    assert r.status_code == 401 and "set-cookie" not in r.headers


def test_cookie_authenticates_reads_and_unsafe_methods_need_the_csrf_header(api: Api) -> None:
    csrf = _login(api)["csrf_token"]
    c = api.client
    me = c.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "analyst"
    assert c.get("/api/v1/media").status_code == 200

    jobs_before = api.count(Job)
    probe = {"media_id": "med_00000000000000000000000000000000"}
    for label, headers in (
        ("missing", {}),
        ("wrong", {"X-CSRF-Token": "not-the-token"}),
        ("empty", {"X-CSRF-Token": ""}),
    ):
        r = c.post("/api/v1/jobs", json=probe, headers=headers)
        assert r.status_code == 403, (label, r.text)
        assert r.json()["error"]["code"] == "csrf_failed", label
        r = c.patch("/api/v1/jobs/job_x", json={"priority": 1}, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed", label
    # the right token gets past the CSRF check to the real answer (no such media: 404)
    r = c.post("/api/v1/jobs", json=probe, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 404, r.text
    assert api.count(Job) == jobs_before


def test_bearer_clients_need_no_csrf_token(api: Api) -> None:
    who = api.user("analyst")
    r = api.client.post(
        "/api/v1/jobs",
        json={"media_id": "med_00000000000000000000000000000000"},
        headers=who.headers,
    )
    assert r.status_code == 404  # authenticated, no CSRF involved


def test_tokens_are_never_accepted_from_the_query_string(api: Api) -> None:
    who = api.user("admin")
    for url in ("/api/v1/auth/me", "/api/v1/media", "/api/v1/jobs", "/api/v1/jobs/job_x/events"):
        for param in ("access_token", "token", ACCESS_COOKIE):
            r = api.client.get(url, params={param: who.access_token})
            assert r.status_code == 401, (url, param, r.status_code)


def test_refresh_rotates_the_session_and_logout_clears_it(api: Api) -> None:
    first = _login(api)
    c = api.client
    old_refresh = c.cookies.get(REFRESH_COOKIE, path="/api/v1/auth")
    assert old_refresh

    assert c.post("/api/v1/auth/session/refresh").status_code == 403  # CSRF needed
    r = c.post("/api/v1/auth/session/refresh", headers={"X-CSRF-Token": first["csrf_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["csrf_token"] != first["csrf_token"]
    assert c.cookies.get(CSRF_COOKIE) == second["csrf_token"]
    assert c.cookies.get(REFRESH_COOKIE, path="/api/v1/auth") != old_refresh
    # the rotated-out refresh token is dead (API flow)
    assert c.post("/api/v1/auth/refresh", json={"refresh_token": old_refresh}).status_code == 401
    assert c.get("/api/v1/auth/me").status_code == 200

    # logout: CSRF required, then cookies cleared and the refresh token revoked
    assert c.post("/api/v1/auth/logout").status_code == 403
    current_refresh = c.cookies.get(REFRESH_COOKIE, path="/api/v1/auth")
    r = c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": second["csrf_token"]})
    assert r.status_code == 204
    cleared = _set_cookies(r.headers.get_list("set-cookie"))
    assert set(cleared) == {ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE}
    assert all(ck[name]["max-age"] == "0" for name, ck in cleared.items())
    assert c.get("/api/v1/auth/me").status_code == 401
    r = c.post("/api/v1/auth/refresh", json={"refresh_token": current_refresh})
    assert r.status_code == 401


def test_session_refresh_without_a_cookie_is_401(api: Api) -> None:
    r = api.client.post("/api/v1/auth/session/refresh")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_api_logout_with_a_body_still_works(api: Api) -> None:
    api.user("viewer")
    tokens = api.login("viewer")
    r = api.client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204
    r = api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401


def test_openapi_documents_the_session_routes(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/auth/session", "/api/v1/auth/session/refresh"):
        responses = paths[path]["post"]["responses"]
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/SessionOut"
        )
        assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorOut"
        )
