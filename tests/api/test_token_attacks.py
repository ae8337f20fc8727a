"""Token attacks: concurrent refresh races, stolen refresh tokens, dead sessions, key headers."""

from __future__ import annotations

import threading
from collections.abc import Callable

import jwt
import pytest
from fastapi.testclient import TestClient

from aima.api.app import create_app
from aima.core.errors import Unauthorized
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.services.users import TokenPair
from tests.api.helpers import PASSWORD, Api, bearer
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.reliability

ME = "/api/v1/auth/me"
RACERS = 30


def _race(fn: Callable[[], TokenPair]) -> tuple[list[TokenPair], int]:
    """Run ``fn`` in RACERS threads released together; (successes, refusals)."""
    start = threading.Barrier(RACERS)
    won: list[TokenPair] = []
    refused: list[int] = []
    lock = threading.Lock()

    def go() -> None:
        start.wait()
        try:
            pair = fn()
        except Unauthorized:
            with lock:
                refused.append(1)
            return
        with lock:
            won.append(pair)

    threads = [threading.Thread(target=go) for _ in range(RACERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, len(refused)


def test_concurrent_refreshes_of_one_token_mint_exactly_one_pair(runtime: Runtime) -> None:
    runtime.users.create(cli_principal(), "racer", PASSWORD, "viewer")
    token = runtime.users.login("racer", PASSWORD).refresh_token
    for _round in range(3):
        won, refused = _race(lambda t=token: runtime.users.refresh(t))  # type: ignore[misc]
        assert (len(won), refused) == (1, RACERS - 1)
        token = won[0].refresh_token
        # the one new pair works; the rotated token is dead
        assert runtime.users.principal_for(won[0].access_token).username == "racer"


def test_a_stolen_refresh_token_replayed_later_revokes_the_whole_session(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(auth={"jwt_secret": TEST_SECRET, "refresh_reuse_grace_s": 0})
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        victim = api.user("analyst", login=True)
        # the attacker copied victim.refresh_token; the victim refreshes first (rotation)
        r = client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
        assert r.status_code == 200
        fresh = r.json()
        assert client.get(ME, headers=bearer(fresh["access_token"])).status_code == 200
        # the attacker replays the rotated token: refused, and the session dies with it
        replay = client.post("/api/v1/auth/refresh", json={"refresh_token": victim.refresh_token})
        assert replay.status_code == 401
        assert client.get(ME, headers=bearer(fresh["access_token"])).status_code == 401
        again = client.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
        assert again.status_code == 401
        events = [
            e.action for e in rt.system.audit_events(cli_principal(), action="auth.refresh_reuse")
        ]
        assert events == ["auth.refresh_reuse"]
        # another session of the same user is untouched
        assert (
            api.client.post(
                "/api/v1/auth/login", json={"username": "analyst", "password": PASSWORD}
            ).status_code
            == 200
        )


def test_logout_ends_the_access_token_too(api: Api) -> None:
    who = api.user("viewer", login=True)
    other = api.client.post(
        "/api/v1/auth/login", json={"username": "viewer", "password": PASSWORD}
    ).json()
    assert api.client.get(ME, headers=who.headers).status_code == 200
    r = api.client.post("/api/v1/auth/logout", json={"refresh_token": who.refresh_token})
    assert r.status_code == 204
    r = api.client.get(ME, headers=who.headers)
    assert r.status_code == 401 and "session has ended" in r.json()["error"]["message"]
    # only that session ended
    assert api.client.get(ME, headers=bearer(other["access_token"])).status_code == 200


def test_disable_then_enable_does_not_revive_old_access_tokens(api: Api) -> None:
    admin, victim = api.user("admin"), api.user("analyst", login=True)
    api.client.patch("/api/v1/users/analyst", json={"is_active": False}, headers=admin.headers)
    api.client.patch("/api/v1/users/analyst", json={"is_active": True}, headers=admin.headers)
    assert api.client.get(ME, headers=victim.headers).status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        {"kid": "../../dev/null"},
        {"kid": "aima"},
        {"jku": "http://127.0.0.1:1/keys.json"},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        {"x5u": "http://127.0.0.1:1/cert.pem"},
    ],
    ids=["kid-path", "kid", "jku", "jwk", "x5u"],
)
def test_tokens_naming_a_key_are_refused_even_when_correctly_signed(
    api: Api, header: dict[str, object]
) -> None:
    who = api.user("viewer", login=True)
    claims = jwt.decode(who.access_token, options={"verify_signature": False})
    forged = jwt.encode(claims, TEST_SECRET, algorithm="HS256", headers=header)
    r = api.client.get(ME, headers=bearer(forged))
    assert r.status_code == 401 and "names a key" in r.json()["error"]["message"]
