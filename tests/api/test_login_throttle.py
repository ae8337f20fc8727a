"""Password guessing: accounts lock after repeated failures, sources that spray are blocked.

Time is a fake clock injected into the in-process counter; the Redis backend is the real
Redis on loopback, shared by two API processes' worth of services.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from aima.security.ratelimit import MemoryCounter, RedisCounter, make_counter
from aima.services.access import cli_principal
from tests.api.helpers import PASSWORD, Api

pytestmark = pytest.mark.reliability

LOGIN = "/api/v1/auth/login"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(api: Api) -> FakeClock:
    c = FakeClock()
    api.runtime.users.throttle.counter = MemoryCounter(clock=c)
    return c


def _login(api: Api, username: str, password: str, source: str = "testclient") -> int:
    r = api.client.post(LOGIN, json={"username": username, "password": password})
    return int(r.status_code)


def test_guessing_locks_the_account_even_for_the_right_password(api: Api, clock: FakeClock) -> None:
    api.runtime.users.create(cli_principal(), "victim", PASSWORD, "viewer")
    limit = api.runtime.settings.auth.login_max_failures
    codes = [_login(api, "victim", f"guess-{i}") for i in range(100)]
    assert codes[:limit] == [401] * limit
    assert set(codes[limit:]) == {429}
    r = api.client.post(LOGIN, json={"username": "victim", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert "too many failed logins for this account" in r.json()["error"]["message"]
    denied = api.runtime.system.audit_events(cli_principal(), action="auth.login", limit=1000)
    assert sum(1 for e in denied if e.details.get("locked")) == 1

    clock.now += api.runtime.settings.auth.login_window_s + 1  # the lock ends with the window
    assert _login(api, "victim", PASSWORD) == 200


def test_unknown_accounts_lock_the_same_way(api: Api, clock: FakeClock) -> None:
    limit = api.runtime.settings.auth.login_max_failures
    codes = [_login(api, "nobody-here", "x" * 12) for _ in range(limit + 2)]
    assert codes == [401] * limit + [429, 429]


def test_a_source_spraying_many_accounts_is_blocked(api: Api, clock: FakeClock) -> None:
    api.runtime.users.create(cli_principal(), "last", PASSWORD, "viewer")
    per_source = api.runtime.settings.auth.login_max_failures_per_source
    for i in range(per_source):
        assert _login(api, f"user{i}", "wrong-password-1") == 401
    r = api.client.post(LOGIN, json={"username": "last", "password": PASSWORD})
    assert r.status_code == 429
    assert "this client address" in r.json()["error"]["message"]


def test_a_success_clears_the_account_count(api: Api, clock: FakeClock) -> None:
    api.runtime.users.create(cli_principal(), "typo", PASSWORD, "viewer")
    limit = api.runtime.settings.auth.login_max_failures
    for _ in range(3):
        for _ in range(limit - 1):
            assert _login(api, "typo", "almost-right") == 401
        assert _login(api, "typo", PASSWORD) == 200


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # pragma: no cover - the machine runs Redis
        pytest.fail(f"Redis on 127.0.0.1:6379 is required: {exc}")
    yield client
    client.close()


def test_redis_shares_the_lock_between_processes(api: Api, redis_client: redis.Redis) -> None:
    assert isinstance(make_counter("redis://127.0.0.1:6379/0"), RedisCounter)
    prefix = f"aima:test:{secrets.token_hex(6)}:"
    first, second = RedisCounter(redis_client, prefix), RedisCounter(redis_client, prefix)
    users = api.runtime.users
    users.create(cli_principal(), "shared", PASSWORD, "viewer")
    limit = api.runtime.settings.auth.login_max_failures
    try:
        for i in range(limit):
            # failures alternate between two "API processes" holding separate counters
            users.throttle.counter = first if i % 2 else second
            assert _login(api, "shared", "wrong-password-9") == 401
        users.throttle.counter = first
        assert _login(api, "shared", PASSWORD) == 429
        ttl = redis_client.pttl(f"{prefix}login:acct:shared")
        assert 0 < int(ttl) <= api.runtime.settings.auth.login_window_s * 1000
    finally:
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)
