"""Request rate limits through the real app: per user, per source address when anonymous,
429 + Retry-After with the usual JSON error body, exempt health/metrics, overrides beating the
default. Time is a fake clock in the in-process counter; the Redis backend is the real Redis on
loopback, shared by two app instances over one database (the end of a window is simulated by
expiring the key, never by sleeping)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from aima.api.app import create_app
from aima.runtime import Runtime
from aima.security.ratelimit import MemoryCounter, RedisCounter
from tests.api.helpers import Account, Api, TestClient

ME = "/api/v1/auth/me"
REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_api(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(runtime: Runtime | None = None, **overrides: Any) -> Api:
        rt = runtime or make_runtime(**overrides)
        client = TestClient(create_app(rt, start_workers=False))
        client.__enter__()
        clients.append(client)
        return Api(rt, client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as exc:  # pragma: no cover - the machine runs Redis
        pytest.fail(f"Redis on 127.0.0.1:6379 is required: {exc}")
    yield client
    client.close()


def _get(api: Api, caller: Account | None, path: str = ME) -> Any:
    return api.client.get(path, headers=caller.headers if caller else None)


def test_the_request_past_the_limit_gets_429_until_the_window_ends(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(quotas={"requests_per_minute": 3})
    clock = FakeClock()
    api.runtime.quotas.counter = MemoryCounter(clock=clock)
    ann, ben = api.user("viewer", "ann"), api.user("viewer", "ben")
    answers = [_get(api, ann) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    clock.now += 20
    r = _get(api, ann)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "40" and r.headers["X-RateLimit-Limit"] == "3"
    error = r.json()["error"]
    assert error["code"] == "too_many_requests" and "3 per minute" in error["message"]
    assert _get(api, ben).status_code == 200  # per user: ben has his own window
    for path in ("/healthz", "/metrics"):  # never counted
        assert all(_get(api, ann, path).status_code == 200 for _ in range(5))
    clock.now += 40
    assert _get(api, ann).status_code == 200  # a new window


def test_anonymous_callers_are_counted_per_source_address(make_api: Callable[..., Api]) -> None:
    api = make_api(quotas={"requests_per_minute": 2})
    api.runtime.quotas.counter = MemoryCounter(clock=FakeClock())
    assert [_get(api, None).status_code for _ in range(2)] == [401, 401]
    r = _get(api, None)
    assert r.status_code == 429 and "client address" in r.json()["error"]["message"]
    # a forged token is no way around it: it counts against the address too
    forged = {"Authorization": "Bearer not.a.token"}
    assert api.client.get(ME, headers=forged).status_code == 429
    assert _get(api, api.user("viewer", "cat")).status_code == 200


def test_a_users_override_beats_the_default(make_api: Callable[..., Api]) -> None:
    api = make_api(quotas={"requests_per_minute": 2})
    api.runtime.quotas.counter = MemoryCounter(clock=FakeClock())
    admin, dan, eve = api.user("admin"), api.user("viewer", "dan"), api.user("viewer", "eve")
    for name, limit in (("dan", 4), ("eve", 0)):
        r = api.client.put(
            f"/api/v1/users/{name}/quota",
            json={"requests_per_minute": limit},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
    assert [_get(api, dan).status_code for _ in range(5)] == [200] * 4 + [429]
    assert all(_get(api, eve).status_code == 200 for _ in range(10))  # 0 = unlimited


def test_redis_shares_the_count_between_two_app_instances(
    make_runtime: Callable[..., Runtime],
    make_api: Callable[..., Api],
    redis_client: redis.Redis,
) -> None:
    first = make_api(redis_url=REDIS_URL, quotas={"requests_per_minute": 4})
    second = make_api(  # another API process: its own data dir, the same database and Redis
        make_runtime(redis_url=REDIS_URL, quotas={"requests_per_minute": 4})
    )
    assert isinstance(first.runtime.quotas.counter, RedisCounter)
    assert isinstance(second.runtime.quotas.counter, RedisCounter)
    fay = first.user("viewer", "fay")
    key = f"aima:rl:req:u:{fay.user_id}"
    try:
        codes = [_get(api, fay).status_code for api in (first, second, first, second, first)]
        assert codes == [200, 200, 200, 200, 429]
        r = _get(second, fay)
        assert r.status_code == 429
        ttl_ms = int(redis_client.pttl(key))
        assert 0 < ttl_ms <= 60_000 and 1 <= int(r.headers["Retry-After"]) <= 60
        redis_client.pexpire(key, 0)  # the window ends
        assert _get(second, fay).status_code == 200
    finally:
        redis_client.delete(key)


def test_a_broken_counter_lets_requests_through(make_api: Callable[..., Api]) -> None:
    api = make_api(quotas={"requests_per_minute": 1})
    # a Redis that is not there: every count fails, and serving goes on
    nowhere = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, socket_timeout=1)
    api.runtime.quotas.counter = RedisCounter(nowhere)
    gus = api.user("viewer", "gus")
    assert [_get(api, gus).status_code for _ in range(3)] == [200, 200, 200]
