"""GET /api/v1/media/{id}/content: HTTP Range, ETag/304, inline vs attachment, audit per playback;
ranged reads from both blob backends."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.core.settings import Settings
from aima.runtime import make_blob_store
from aima.store.models import AuditEvent
from tests.api.helpers import Api
from tests.conftest import make_settings, s3_blob_settings


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_blob_stores_stream_a_byte_range(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    overrides: dict[str, Any] = {}
    if backend == "s3":
        overrides["blobs"] = s3_blob_settings(request.getfixturevalue("s3_endpoint"))
    settings: Settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", **overrides)
    store = make_blob_store(settings)
    data = bytes(range(256)) * 9000  # 2.3 MB: ranges cross the 1 MiB read chunk
    ref = store.put_bytes(data)
    for start, length in ((0, 10), (5, 1), (1_048_570, 20), (len(data) - 7, 7), (100, 0)):
        got = b"".join(store.stream_range(ref.sha256, start, length))
        assert got == data[start : start + length], (start, length)
    # asking past the end gives what there is
    assert b"".join(store.stream_range(ref.sha256, len(data) - 3, 50)) == data[-3:]
    with pytest.raises(ValueError):
        list(store.stream_range(ref.sha256, -1, 5))


def _media(api: Api, samples: dict[str, bytes]) -> tuple[Any, str, bytes]:
    who = api.user("analyst")
    data = samples["jpeg"]
    r = api.upload(who, [("a.jpg", data)], analyze="false")
    return who, r.json()["files"][0]["media_id"], data


def _playbacks(api: Api) -> list[dict[str, Any]]:
    with api.runtime.db.session() as s:
        rows = s.execute(
            select(AuditEvent).where(AuditEvent.action == "media.download").order_by(AuditEvent.id)
        ).scalars()
        return [{"actor": e.actor, "object_id": e.object_id, **e.details} for e in rows]


def test_whole_file_inline_with_etag_and_accept_ranges(api: Api, samples: dict[str, bytes]) -> None:
    who, media_id, data = _media(api, samples)
    url = f"/api/v1/media/{media_id}/content"
    r = api.client.get(url, headers=who.headers)
    assert r.status_code == 200 and r.content == data
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["content-disposition"] == f'inline; filename="{media_id}.jpeg"'
    etag = f'"{hashlib.sha256(data).hexdigest()}"'
    assert r.headers["etag"] == etag

    again = api.client.get(url, headers={**who.headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    other = api.client.get(url, headers={**who.headers, "If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == data

    attachment = api.client.get(url, params={"download": 1}, headers=who.headers)
    assert attachment.headers["content-disposition"].startswith("attachment;")


def test_single_ranges_give_206_with_content_range(api: Api, samples: dict[str, bytes]) -> None:
    who, media_id, data = _media(api, samples)
    url, size = f"/api/v1/media/{media_id}/content", len(data)
    for header, start, end in (
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, size - 1),
        ("bytes=-50", size - 50, size - 1),
        (f"bytes=10-{size * 4}", 10, size - 1),  # an end past the file is clamped
        (f"bytes={size - 1}-{size - 1}", size - 1, size - 1),
    ):
        r = api.client.get(url, headers={**who.headers, "Range": header})
        assert r.status_code == 206, (header, r.status_code, r.text[:200])
        assert r.content == data[start : end + 1], header
        assert r.headers["content-range"] == f"bytes {start}-{end}/{size}", header
        assert r.headers["content-length"] == str(end - start + 1), header
        assert r.headers["accept-ranges"] == "bytes"

    # If-Range with a stale validator: the whole file
    stale = api.client.get(url, headers={**who.headers, "Range": "bytes=0-9", "If-Range": '"x"'})
    assert stale.status_code == 200 and stale.content == data


@pytest.mark.parametrize(
    "header",
    [
        "bytes=999999999-",
        "bytes=5-2",
        "bytes=0-1,5-9",
        "items=0-5",
        "bytes=-0",
        "bytes=x-y",
        "bytes=" + "9" * 40 + "-",
    ],
)
def test_unsatisfiable_or_malformed_ranges_give_416(
    api: Api, samples: dict[str, bytes], header: str
) -> None:
    who, media_id, data = _media(api, samples)
    r = api.client.get(
        f"/api/v1/media/{media_id}/content", headers={**who.headers, "Range": header}
    )
    assert r.status_code == 416, r.text
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    assert r.json()["error"]["code"] == "range_not_satisfiable"


def test_one_audit_event_per_playback_not_per_range(api: Api, samples: dict[str, bytes]) -> None:
    who, media_id, data = _media(api, samples)
    url, half = f"/api/v1/media/{media_id}/content", len(data) // 2
    # a player: probe from byte 0, then seek twice
    for header in ("bytes=0-", f"bytes={half}-", f"bytes={half + 10}-{half + 20}"):
        assert api.client.get(url, headers={**who.headers, "Range": header}).status_code == 206
    assert [(p["actor"], p["object_id"], p["how"]) for p in _playbacks(api)] == [
        ("api:analyst", media_id, "inline")
    ]
    # a download is a new access
    api.client.get(url, params={"download": "true"}, headers=who.headers)
    assert [p["how"] for p in _playbacks(api)] == ["inline", "download"]
    # refused ranges are not accesses
    api.client.get(url, headers={**who.headers, "Range": "bytes=99999999-"})
    assert len(_playbacks(api)) == 2


def test_other_users_and_roles_cannot_stream(api: Api, samples: dict[str, bytes]) -> None:
    alice, bob = api.user("uploader", "alice"), api.user("uploader", "bob")
    media_id = api.upload(alice, [("a.jpg", samples["jpeg"])], analyze="false").json()["files"][0][
        "media_id"
    ]
    url = f"/api/v1/media/{media_id}/content"
    assert api.client.get(url, headers={**bob.headers, "Range": "bytes=0-9"}).status_code == 404
    viewer = api.user("viewer")  # may read media, may not download it
    assert api.client.get(url, headers=viewer.headers).status_code == 403
    assert api.client.get(url, headers={**alice.headers, "Range": "bytes=0-9"}).status_code == 206
    assert not [p for p in _playbacks(api) if p["actor"] != "api:alice"]
