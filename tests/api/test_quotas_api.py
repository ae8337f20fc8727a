"""Quotas through the real app (SQLite and PostgreSQL): Admin overrides, a user's own view,
uploads refused past the day's count or bytes (before the body is read when Content-Length
says so, nothing stored), jobs refused past the month's money."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aima.api.app import create_app
from aima.runtime import Runtime
from aima.store.models import Job, Media
from tests.api.helpers import Api, TestClient, files_under

QUOTA = "/api/v1/users/{}/quota"
PART_HEAD = (
    b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="big.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n"
)


@pytest.fixture
def quota_api(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> Api:
        rt = make_runtime(**overrides)
        client = TestClient(create_app(rt, start_workers=False))
        client.__enter__()
        clients.append(client)
        return Api(rt, client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _stored(api: Api) -> tuple[int, set[Any]]:
    return api.count(Media), files_under(api.runtime.settings.blob_path)


def test_admin_reads_and_replaces_a_users_quota(api: Api) -> None:
    admin, uploader, analyst = api.user("admin"), api.user("uploader"), api.user("analyst")
    r = api.client.get(QUOTA.format("uploader"), headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limits"]["requests_per_minute"] == 600 and body["overridden"] == []
    assert body["remaining"]["uploads_per_day"] is None  # 0 by default: unlimited
    r = api.client.put(
        QUOTA.format("uploader"),
        json={"uploads_per_day": 2, "money_per_month": 0},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limits"]["uploads_per_day"] == 2 and body["remaining"]["uploads_per_day"] == 2
    assert sorted(body["overridden"]) == ["money_per_month", "uploads_per_day"]
    assert body["updated_by"] == "api:admin"
    mine = api.client.get("/api/v1/me/quota", headers=uploader.headers)
    assert mine.status_code == 200 and mine.json()["limits"]["uploads_per_day"] == 2
    assert mine.json()["usage"]["day_resets_at"].endswith(("+00:00", "Z"))
    # PUT replaces every override: absent fields go back to the default
    r = api.client.put(QUOTA.format("uploader"), json={}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["overridden"] == []
    assert api.client.get(QUOTA.format("admin"), headers=analyst.headers).status_code == 403
    assert (
        api.client.put(QUOTA.format("uploader"), json={}, headers=analyst.headers).status_code
        == 403
    )
    assert api.client.get(QUOTA.format("nobody"), headers=admin.headers).status_code == 404
    for bad in ({"uploads_per_day": -1}, {"uploads": 3}):
        r = api.client.put(QUOTA.format("uploader"), json=bad, headers=admin.headers)
        assert r.status_code == 422, r.text
    assert api.client.get("/api/v1/me/quota").status_code == 401


def test_the_upload_past_the_days_count_is_refused_and_nothing_stored(
    quota_api: Callable[..., Api], samples: dict[str, bytes]
) -> None:
    api = quota_api(quotas={"uploads_per_day": 2})
    user = api.user("uploader")
    for name in ("jpeg", "jpeg2"):
        assert (
            api.upload(user, [(f"{name}.jpg", samples[name])], analyze="false").status_code == 201
        )
    before = _stored(api)
    r = api.upload(user, [("third.jpg", samples["jpeg3"])], analyze="false")
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "quota_exceeded" and "uploads_per_day" in error["message"]
    assert error["details"]["remaining"] == 0 and "resets_at" in error["details"]
    assert 1 <= int(r.headers["Retry-After"]) <= 86400
    assert _stored(api) == before
    usage = api.client.get("/api/v1/me/quota", headers=user.headers).json()
    assert usage["usage"]["uploads_today"] == 2 and usage["remaining"]["uploads_per_day"] == 0
    # an override beats the default: one more for this user
    admin = api.user("admin")
    api.client.put(QUOTA.format("uploader"), json={"uploads_per_day": 3}, headers=admin.headers)
    assert api.upload(user, [("third.jpg", samples["jpeg3"])], analyze="false").status_code == 201
    # 0 = unlimited
    api.client.put(QUOTA.format("uploader"), json={"uploads_per_day": 0}, headers=admin.headers)
    r = api.upload(user, [("small.jpg", samples["small_jpeg"])], analyze="false")
    assert r.status_code == 201


def test_files_past_the_count_in_one_request_are_rejected(
    quota_api: Callable[..., Api], samples: dict[str, bytes]
) -> None:
    api = quota_api(quotas={"uploads_per_day": 1})
    user = api.user("uploader")
    files = [("a.jpg", samples["jpeg"]), ("b.jpg", samples["jpeg2"])]
    r = api.upload(user, files, analyze="false")
    assert r.status_code == 201, r.text
    outcomes = r.json()["files"]
    assert [o["status"] for o in outcomes] == ["created", "rejected"]
    assert outcomes[1]["error"]["code"] == "quota_exceeded"
    assert api.count(Media) == 1


def _raw_upload(
    api: Api, user_token: str, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], int]:
    """One multipart request straight into the ASGI app whose body is never offered; returns
    (status, headers, how often the app asked for the body)."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked == 1:  # a real multipart head, then one endless file
            return {"type": "http.request", "body": PART_HEAD, "more_body": True}
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/media",
        "raw_path": b"/api/v1/media",
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {user_token}".encode()),
            (b"content-type", b"multipart/form-data; boundary=xyz"),
            *headers,
        ],
    }
    asyncio.run(api.client.app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, asked


def test_a_byte_quota_refuses_a_declared_large_upload_before_reading(
    quota_api: Callable[..., Api], samples: dict[str, bytes]
) -> None:
    api = quota_api(quotas={"bytes_per_day": 100_000})
    user = api.user("uploader")
    before = _stored(api)
    status, headers, asked = _raw_upload(api, user.access_token, [(b"content-length", b"500000")])
    assert (status, asked) == (429, 0)  # answered without reading a byte of the body
    assert int(headers["retry-after"]) >= 1
    # no Content-Length (chunked): counted as it arrives, cut off past the bytes left
    status, _, asked = _raw_upload(api, user.access_token, [])
    assert status == 429 and 100 <= asked <= 110
    assert _stored(api) == before
    # within the quota the same user uploads normally
    assert api.upload(user, [("a.jpg", samples["jpeg"])], analyze="false").status_code == 201


def test_a_job_past_the_month_money_quota_is_refused(
    quota_api: Callable[..., Api], samples: dict[str, bytes]
) -> None:
    api = quota_api(
        compute={"device_class": "cuda:test", "gpu_price_per_hour": 3600.0},
        quotas={"money_per_month": 0.05},
    )
    user = api.user("uploader")
    r = api.upload(user, [("a.jpg", samples["jpeg"])], analyze="false")
    media_id = r.json()["files"][0]["media_id"]
    r = api.client.post(
        "/api/v1/jobs",
        json={"media_id": media_id, "analyzers": ["thumbnails"]},
        headers=user.headers,
    )
    assert r.status_code == 429, r.text
    error = r.json()["error"]
    assert error["code"] == "quota_exceeded" and error["details"]["quota"] == "money_per_month"
    assert "remaining" in error["message"] and "resets at" in error["message"]
    assert int(r.headers["Retry-After"]) >= 1
    assert api.count(Job) == 0
    admin = api.user("admin")
    api.client.put(QUOTA.format("uploader"), json={"money_per_month": 0}, headers=admin.headers)
    r = api.client.post(
        "/api/v1/jobs",
        json={"media_id": media_id, "analyzers": ["thumbnails"]},
        headers=user.headers,
    )
    assert r.status_code in (201, 202), r.text
