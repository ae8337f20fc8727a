"""Co-appearances (GET /api/v1/persons/{id}/co-appearances) and crop media in the listing,
through the real app on SQLite and PostgreSQL, over persons made by the real identity sync."""

from __future__ import annotations

from typing import Any

import pytest

from aima.services.people_graph import overlap_s, union
from tests.api.helpers import Api
from tests.api.test_persons_api import Library, World, build_world

P = "/api/v1/persons"


def _ok(r: Any) -> Any:
    assert r.status_code == 200, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def test_interval_helpers() -> None:
    assert union([(3.0, 4.0), (0.0, 1.0), (1.0, 2.0)]) == [(0.0, 2.0), (3.0, 4.0)]
    assert overlap_s([(0.0, 2.0), (3.0, 4.0)], [(1.0, 3.5)]) == pytest.approx(1.5)
    assert overlap_s([(0.0, 0.0)], [(0.0, 0.0)]) == 0.0
    assert overlap_s([], [(0.0, 1.0)]) == 0.0


def test_co_appearances_count_media_time_together_and_conversations(api: Api) -> None:
    world: World = build_world(api.runtime)
    lib = Library(api.runtime, seed=11)
    talk = lib.add(
        "talk.mp4",
        faces={"dave": [0.0, 1.0, 2.0, 3.0, 4.0], "erin": [2.0, 3.0, 4.0, 5.0, 6.0]},
        voices={"dave_voice": (0.0, 3.0), "erin_voice": (3.0, 6.0)},
    )
    api.runtime.identity.sync()
    c, h = api.client, api.user("viewer").headers
    alice = world.persons["alice"]

    out = _ok(c.get(f"{P}/{alice}/co-appearances", headers=h))
    assert out["person_id"] == alice and out["name"] is None
    by_id = {x["person_id"]: x for x in out["items"]}
    assert set(by_id) == {world.persons[w] for w in ("bob", "carol", "voice")}
    bob = by_id[world.persons["bob"]]
    assert (bob["media"], bob["media_ids"], bob["conversations"]) == (
        1,
        [world.media["meeting"]],
        0,
    )
    # a face track counts as on screen until the shot ends (20 s here): alice from 1 s, bob 10 s
    assert bob["together_s"] == 10.0
    assert by_id[world.persons["carol"]]["media_ids"] == [world.media["lobby"]]

    # dave and erin share talk.mp4; on screen together from 2 s (erin appears) to 20 s
    persons = _ok(c.get(P, params={"limit": 500}, headers=h))["items"]
    in_talk = [p for p in persons if p["id"] not in world.persons.values()]
    assert len(in_talk) == 4  # two faces, two voices (not linked yet)
    faces = [p for p in in_talk if p["faces"]]
    voices = [p for p in in_talk if p["voices"]]
    assert all(p["crop_media"] == [talk] * len(p["crops"]) for p in faces)
    a, b = faces
    pair = _ok(c.get(f"{P}/{a['id']}/co-appearances", headers=h))["items"]
    other = next(x for x in pair if x["person_id"] == b["id"])
    assert other["media"] == 1 and other["together_s"] == pytest.approx(18.0, abs=0.01)
    assert other["conversations"] == 0  # faces do not speak until a voice joins them

    # each face takes a voice (merge); now both speak in talk.mp4
    analyst = api.user("analyst").headers
    for face, voice in zip(faces, voices, strict=True):
        r = c.post(f"{P}/{face['id']}/merge", json={"persons": [voice["id"]]}, headers=analyst)
        _ok(r)
    merged_id = voices[0]["id"]  # a merged id answers for the person it joined
    pair = _ok(c.get(f"{P}/{merged_id}/co-appearances", headers=h))
    assert pair["person_id"] == a["id"]
    other = next(x for x in pair["items"] if x["person_id"] == b["id"])
    assert other["conversations"] == 1


def test_co_appearances_access_and_missing(api: Api) -> None:
    world = build_world(api.runtime)
    alice = world.persons["alice"]
    c = api.client
    assert c.get(f"{P}/{alice}/co-appearances").status_code == 401
    r = c.get(f"{P}/{alice}/co-appearances", headers=api.user("uploader").headers)
    assert r.status_code == 403 and "persons:read" in r.json()["error"]["message"]
    r = c.get(f"{P}/per_nobody/co-appearances", headers=api.user("viewer").headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    bobs = _ok(
        c.get(f"{P}/{world.persons['bob']}/co-appearances", headers=api.user("viewer").headers)
    )
    assert {x["person_id"] for x in bobs["items"]} == {alice, world.persons["voice"]}
