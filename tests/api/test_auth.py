"""Login, tokens, refresh rotation, logout, disabled accounts and password changes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from httpx import Response
from sqlalchemy import select, update

from aima.core.clock import utcnow
from aima.core.errors import ConfigError
from aima.core.settings import load_settings
from aima.security.tokens import TokenCodec
from aima.services.access import cli_principal
from aima.store.models import AuditEvent, User
from tests.api.helpers import PASSWORD, Api, b64url, bearer
from tests.conftest import TEST_SECRET

ME = "/api/v1/auth/me"


def _codec(
    api: Api,
    *,
    secret: str = TEST_SECRET,
    algorithm: str = "HS256",
    audience: str | None = None,
    issuer: str | None = None,
) -> TokenCodec:
    auth = api.runtime.settings.auth
    return TokenCodec(
        secret,
        algorithm=algorithm,
        audience=audience or auth.audience,
        issuer=issuer or auth.issuer,
        access_ttl_s=auth.access_ttl_s,
    )


def _error(r: Response) -> dict[str, str]:
    error: dict[str, str] = r.json()["error"]
    return error


def _login(api: Api, username: str, password: str) -> Response:
    r: Response = api.client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    return r


def test_login_issues_tokens_and_me_answers(api: Api) -> None:
    user = api.runtime.users.create(cli_principal(), "Carol", PASSWORD, "analyst")
    r = _login(api, "carol", PASSWORD)
    assert r.status_code == 200
    tokens = r.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == api.runtime.settings.auth.access_ttl_s
    assert tokens["refresh_token"] and tokens["refresh_token"] != tokens["access_token"]
    me = api.client.get(ME, headers=bearer(tokens["access_token"]))
    assert me.json() == {"user_id": user.id, "username": "carol", "role": "analyst"}

    # the OAuth2 password form (the /docs "Authorize" button) logs in the same way
    r = api.client.post("/api/v1/auth/token", data={"username": "carol", "password": PASSWORD})
    assert r.status_code == 200
    assert (
        api.client.get(ME, headers=bearer(r.json()["access_token"])).json()["username"] == "carol"
    )

    with api.runtime.db.session() as s:
        ok = (
            s.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "auth.login", AuditEvent.outcome == "ok"
                )
            )
            .scalars()
            .all()
        )
    assert [e.object_id for e in ok] == [user.id, user.id]


def test_failed_logins_look_alike_and_are_audited(api: Api) -> None:
    api.runtime.users.create(cli_principal(), "dave", PASSWORD, "viewer")
    api.runtime.users.create(cli_principal(), "erin", PASSWORD, "viewer")
    api.runtime.users.update(cli_principal(), "erin", active=False)

    wrong = _login(api, "dave", "not-the-password")
    unknown = _login(api, "nobody", "not-the-password")
    disabled = _login(api, "erin", PASSWORD)
    for r in (wrong, unknown, disabled):
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == unknown.json() == disabled.json()
    assert _error(wrong) == {"code": "unauthorized", "message": "wrong username or password"}

    with api.runtime.db.session() as s:
        denied = (
            s.execute(
                select(AuditEvent).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id)
            )
            .scalars()
            .all()
        )
    assert [(e.outcome, e.details["username"]) for e in denied] == [
        ("denied", "dave"),
        ("denied", "nobody"),
        ("denied", "erin"),
    ]
    assert all(e.actor.startswith("anonymous:") for e in denied)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_forged_expired_and_foreign_tokens_are_refused(api: Api) -> None:
    user = api.runtime.users.create(cli_principal(), "frank", PASSWORD, "admin")
    good = _codec(api).issue_access(user.id, "admin")
    assert api.client.get(ME, headers=bearer(good)).status_code == 200  # the control

    header, _payload, signature = good.split(".")
    claims = {
        "sub": user.id, "role": "admin", "aud": "aima", "iss": "aima", "typ": "access",
        "iat": int(time.time()), "nbf": int(time.time()), "exp": int(time.time()) + 600,
    }  # fmt: skip
    hour_ago = utcnow() - timedelta(hours=1)
    forged = {
        "expired": _codec(api).issue_access(user.id, "admin", now=hour_ago),
        "alg none": f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims)}.",
        "alg None capitalised": f"{b64url({'alg': 'None', 'typ': 'JWT'})}.{b64url(claims)}.",
        "other secret": _codec(api, secret="another-secret-" + "y" * 40).issue_access(
            user.id, "admin"
        ),
        "HS512 with our secret": _codec(api, algorithm="HS512").issue_access(user.id, "admin"),
        "other audience": _codec(api, audience="someone-else").issue_access(user.id, "admin"),
        "other issuer": _codec(api, issuer="someone-else").issue_access(user.id, "admin"),
        "payload swapped, signature kept": f"{header}.{b64url({**claims, 'sub': 'usr_other'})}.{signature}",
        "unknown user": _codec(api).issue_access("usr_does_not_exist", "admin"),
        "refresh token as bearer": api.login("frank")["refresh_token"],
        "garbage": "a.b.c",
    }
    for label, token in forged.items():
        r = api.client.get(ME, headers=bearer(token))
        assert r.status_code == 401, f"{label}: {r.status_code} {r.text}"
        assert _error(r)["code"] == "unauthorized", label
    assert "expired" in _error(api.client.get(ME, headers=bearer(forged["expired"])))["message"]


def test_refresh_rotates_and_an_old_refresh_token_is_dead(api: Api) -> None:
    first = api.user("uploader", login=True)
    r = api.client.post("/api/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first.refresh_token
    assert (
        api.client.get(ME, headers=bearer(second["access_token"])).json()["username"] == "uploader"
    )

    replay = api.client.post("/api/v1/auth/refresh", json={"refresh_token": first.refresh_token})
    assert replay.status_code == 401
    assert "already used" in _error(replay)["message"]
    r = api.client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 200
    unknown = api.client.post("/api/v1/auth/refresh", json={"refresh_token": "never-issued"})
    assert unknown.status_code == 401


def test_logout_revokes_the_refresh_token(api: Api) -> None:
    who = api.user("viewer", login=True)
    r = api.client.post("/api/v1/auth/logout", json={"refresh_token": who.refresh_token})
    assert r.status_code == 204
    r = api.client.post("/api/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert r.status_code == 401
    # logging out twice, or with a token never issued, reveals nothing
    assert (
        api.client.post(
            "/api/v1/auth/logout", json={"refresh_token": who.refresh_token}
        ).status_code
        == 204
    )
    assert (
        api.client.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"}).status_code
        == 204
    )


def test_disabling_a_user_kills_their_tokens_at_once(api: Api) -> None:
    admin, victim = api.user("admin"), api.user("analyst", login=True)
    assert api.client.get(ME, headers=victim.headers).status_code == 200
    r = api.client.patch("/api/v1/users/analyst", json={"is_active": False}, headers=admin.headers)
    assert (r.status_code, r.json()["is_active"]) == (200, False)

    r = api.client.get(ME, headers=victim.headers)
    assert r.status_code == 401 and "disabled" in _error(r)["message"]
    refresh = api.client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert refresh.status_code == 401
    assert _login(api, "analyst", PASSWORD).status_code == 401

    api.client.patch("/api/v1/users/analyst", json={"is_active": True}, headers=admin.headers)
    assert _login(api, "analyst", PASSWORD).status_code == 200
    # re-enabling does not revive the sessions that existed when the account was disabled
    refresh = api.client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
    assert refresh.status_code == 401


def test_role_changes_apply_to_existing_tokens(api: Api) -> None:
    admin, who = api.user("admin"), api.user("analyst")
    probe = {"media_id": "med_missing"}
    assert api.client.post("/api/v1/jobs", json=probe, headers=who.headers).status_code == 404
    api.client.patch("/api/v1/users/analyst", json={"role": "viewer"}, headers=admin.headers)
    r = api.client.post("/api/v1/jobs", json=probe, headers=who.headers)
    assert r.status_code == 403 and "'viewer'" in _error(r)["message"]


def test_password_change_invalidates_earlier_tokens(api: Api) -> None:
    admin, who = api.user("admin"), api.user("uploader", login=True)
    assert api.client.get(ME, headers=who.headers).status_code == 200
    time.sleep(1.05 - time.time() % 1)  # tokens carry whole seconds: change it in a later second
    r = api.client.patch(
        "/api/v1/users/uploader", json={"password": "a-brand-new-password"}, headers=admin.headers
    )
    assert r.status_code == 200

    r = api.client.get(ME, headers=who.headers)
    assert r.status_code == 401 and "password changed" in _error(r)["message"]
    refresh = api.client.post("/api/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert refresh.status_code == 401
    assert _login(api, "uploader", PASSWORD).status_code == 401
    fresh = api.login("uploader", "a-brand-new-password")
    assert api.client.get(ME, headers=bearer(fresh["access_token"])).status_code == 200


def test_token_issued_earlier_in_the_same_second_as_a_password_change_is_refused(api: Api) -> None:
    who = api.user("uploader")
    changed_at = utcnow().replace(microsecond=600_000) - timedelta(seconds=5)
    with api.runtime.db.session() as s:  # the change happened at .600 of that second
        s.execute(update(User).where(User.id == who.user_id).values(password_changed_at=changed_at))
    issued_before = _codec(api).issue_access(
        who.user_id, "uploader", now=changed_at - timedelta(milliseconds=300)
    )
    issued_after = _codec(api).issue_access(
        who.user_id, "uploader", now=changed_at + timedelta(milliseconds=300)
    )
    assert api.client.get(ME, headers=bearer(issued_after)).status_code == 200
    assert api.client.get(ME, headers=bearer(issued_before)).status_code == 401


def test_user_listing_never_exposes_password_hashes(api: Api) -> None:
    admin = api.user("admin")
    r = api.client.get("/api/v1/users", headers=admin.headers)
    assert r.status_code == 200 and [u["username"] for u in r.json()] == ["admin"]
    assert "argon2" not in r.text and "password" not in r.text


def test_production_settings_refuse_a_missing_or_weak_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIMA_AUTH__JWT_SECRET", raising=False)
    monkeypatch.delenv("AIMA_ENV", raising=False)
    with pytest.raises(ConfigError, match="AIMA_AUTH__JWT_SECRET"):
        load_settings(env="production")
    with pytest.raises(ConfigError, match="AIMA_AUTH__JWT_SECRET"):
        load_settings(env="production", auth={"jwt_secret": "short"})
    settings = load_settings(
        env="production", auth={"jwt_secret": TEST_SECRET}, encryption={"kek": "cd" * 32}
    )
    assert settings.env == "production"
    monkeypatch.setenv("AIMA_ENV", "production")  # the same through the environment
    with pytest.raises(ConfigError):
        load_settings()
