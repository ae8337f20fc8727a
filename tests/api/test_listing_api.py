"""GET /api/v1/media (grid cards) and GET /api/v1/jobs: paging, bounds, sorts, filters, and a
constant number of SQL queries per page whatever its size."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.api.helpers import Api
from tests.api.library_fixtures import seed_library

M = "/api/v1/media"


def _page(api: Api, who: Any, url: str = M, **params: Any) -> dict[str, Any]:
    r = api.client.get(url, params=params, headers=who.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@contextmanager
def _count_queries(api: Api) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = api.runtime.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_cards_carry_what_a_grid_needs_in_a_constant_number_of_queries(api: Api) -> None:
    lib = seed_library(api.runtime, 52)
    who = api.user("viewer")
    # the request-limit overrides are read once per 30 s, not per request: load them, then
    # hold the cache's clock so the counted requests never include that read
    api.runtime.quotas.clock = lambda: 0.0
    _page(api, who, limit=1)
    sizes: dict[int, int] = {}
    for limit in (5, 50):
        with _count_queries(api) as statements:
            started = time.perf_counter()
            page = _page(api, who, limit=limit)
            elapsed = time.perf_counter() - started
        assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (
            52,
            limit,
            0,
            limit,
        )
        sizes[limit] = len(statements)
        print(f"{limit} cards: {len(statements)} SQL statements, {elapsed * 1000:.0f} ms")
    assert sizes[5] == sizes[50] <= 8, sizes

    by_id = {c["id"]: c for c in _page(api, who, limit=500)["items"]}
    first = by_id[lib.media[0]]  # i = 0: video, faces, speech, flagged, one person
    assert first["kind"] == "video" and first["duration_s"] == 1.0
    assert first["thumbnail_url"] == f"/api/v1/media/{lib.media[0]}/artifacts/{0:064x}"
    assert first["waveform_url"] is None
    assert first["content_url"] == f"/api/v1/media/{lib.media[0]}/content"
    assert first["counts"] == {"faces": 1, "persons": 1, "speakers": 2, "words": 1, "flags": 3}
    assert first["flagged"] is True
    assert first["job"]["state"] == "succeeded" and first["job"]["progress"] == 1.0
    assert first["job"]["analyzers"] == ["thumbnails", "faces"]
    seventh = by_id[lib.media[6]]  # i = 6: video, 3 tracks, 7 words, not flagged
    assert seventh["counts"] == {"faces": 3, "persons": 0, "speakers": 2, "words": 7, "flags": 0}
    assert seventh["flagged"] is False
    odd = by_id[lib.media[1]]
    assert odd["kind"] == "image" and odd["duration_s"] is None
    assert odd["counts"] == {"faces": 0, "persons": 0, "speakers": 0, "words": 0, "flags": 0}


def test_filters_sorts_and_paging(api: Api) -> None:
    lib = seed_library(api.runtime, 20)
    who = api.user("analyst")

    def ids(**params: Any) -> list[str]:
        return [c["id"] for c in _page(api, who, limit=500, **params)["items"]]

    newest_first = ids()
    assert newest_first == list(reversed(lib.media))
    assert ids(sort="created_at") == lib.media
    assert ids(sort="name") == lib.media  # Clip-000 ... Clip-019, case-insensitive
    assert ids(sort="-size") == list(reversed(lib.media))
    videos = [m for i, m in enumerate(lib.media) if i % 3 == 0]
    by_duration = ids(sort="-duration")
    assert by_duration[: len(videos)] == list(reversed(videos))  # images (no duration) last
    assert ids(kind="video", sort="created_at") == videos

    assert set(ids(flagged=True)) == {lib.media[i] for i in range(20) if i % 5 == 0}
    assert set(ids(flagged=False)) == {lib.media[i] for i in range(20) if i % 5}
    assert set(ids(has_faces=True)) == {lib.media[i] for i in range(20) if i % 2 == 0}
    assert set(ids(has_speech=False)) == {lib.media[i] for i in range(20) if i % 2}
    assert ids(person_id=lib.person_id) == [lib.media[0]]
    assert ids(q="clip-01", sort="created_at") == lib.media[10:20]
    assert ids(q="%") == [] and ids(q="_") == []  # LIKE wildcards are literal
    assert ids(job_state="succeeded") == newest_first
    assert ids(job_state="failed") == []  # the older job failed; the latest succeeded

    page = _page(api, who, limit=7, offset=14)
    assert (page["total"], len(page["items"])) == (20, 6)
    assert [c["id"] for c in page["items"]] == newest_first[14:]
    assert _page(api, who, offset=10**9)["items"] == []

    created = _page(api, who, limit=1, sort="created_at")["items"][0]["created_at"]
    naive = created.replace("Z", "").split("+")[0]
    assert ids(created_from=naive, sort="created_at")[0] == lib.media[0]
    assert ids(created_to=naive) == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"offset": 10**9 + 1},
        {"offset": 10**30},
        {"limit": 10**30},
        {"sort": "password"},
        {"sort": "-"},
        {"kind": "text"},
        {"job_state": "bogus"},
        {"created_from": "yesterday"},
        {"created_from": "99999-01-01T00:00:00"},
        {"q": "x" * 201},
        {"flagged": "maybe"},
    ],
)
def test_out_of_range_parameters_are_422_never_500(api: Api, params: dict[str, Any]) -> None:
    who = api.user("analyst")
    r = api.client.get(M, params=params, headers=who.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    if "limit" in params or "offset" in params:
        r = api.client.get("/api/v1/jobs", params=params, headers=who.headers)
        assert r.status_code == 422, r.text


def test_uploaders_see_only_their_own_cards(api: Api) -> None:
    alice, bob = api.user("uploader", "alice"), api.user("uploader", "bob")
    mine = seed_library(api.runtime, 3, owner_id=alice.user_id)
    seed_library(api.runtime, 2, owner_id=bob.user_id, start=3)
    page = _page(api, alice)
    assert page["total"] == 3 and {c["id"] for c in page["items"]} == set(mine.media)


def test_job_listing_sorts_and_names_the_media(api: Api) -> None:
    lib = seed_library(api.runtime, 4)
    who = api.user("analyst")
    page = _page(api, who, "/api/v1/jobs", limit=3, sort="created_at")
    assert page["total"] == 8 and len(page["items"]) == 3
    first = page["items"][0]
    assert first["media_id"] == lib.media[0] and first["media_name"] == "Clip-000.mp4"
    assert first["state"] == "failed"
    states = [j["state"] for j in _page(api, who, "/api/v1/jobs", sort="state")["items"]]
    assert states == sorted(states)
    r = api.client.get("/api/v1/jobs", params={"sort": "error"}, headers=who.headers)
    assert r.status_code == 422
