"""Persons and search through the real app (SQLite and PostgreSQL).

Persons come from hand-built accepted ``faces``/``speakers``/``transcribe``/``ocr``
results (the analyzers' final result format) turned into observations by the real
identity sync: each person has its own random unit embedding and each observation a
little noise, far inside dlib's calibrated 0.41 (unit-vector L2) from its person and far
outside it from everyone else. Search by face runs the real dlib analyzer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from aima.api.app import create_app
from aima.core.ids import new_id
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.store.models import AnalysisResult, Job, Media, MediaGrant, Observation
from tests.api.conftest import needs_ffmpeg
from tests.api.helpers import Account, Api, TestClient

FACE_MODEL = "dlib-test/resnet_v1+hog+shape68"  # calibrated like dlib: same person < 0.41
VOICE_MODEL = "resemblyzer-test"
P = "/api/v1/persons"


# --------------------------------------------------------------------------- the library
def _unit(v: np.ndarray[Any, Any]) -> list[float]:
    return [float(x) for x in v / np.linalg.norm(v)]


@dataclass
class World:
    """Media ids by name and the person id each named face/voice landed in after sync."""

    media: dict[str, str] = field(default_factory=dict)
    persons: dict[str, str] = field(default_factory=dict)  # "alice" -> per_...
    observations: dict[str, list[int]] = field(default_factory=dict)  # "alice" -> [obs ids]


class Library:
    """Inserts media with accepted analyzer results in the analyzers' final result format."""

    def __init__(self, rt: Runtime, seed: int = 7) -> None:
        self.rt = rt
        self.rng = np.random.default_rng(seed)
        self.identities: dict[str, np.ndarray[Any, Any]] = {}

    def _vector(self, who: str, dim: int) -> list[float]:
        if who not in self.identities:
            self.identities[who] = self.rng.normal(size=dim)
            self.identities[who] /= np.linalg.norm(self.identities[who])
        return _unit(self.identities[who] + self.rng.normal(scale=0.01, size=dim))

    def _faces(self, people: dict[str, list[float]]) -> dict[str, Any]:
        """``people``: who -> detection times; one track per person."""
        faces: list[dict[str, Any]] = []
        tracks: list[dict[str, Any]] = []
        for track_id, (who, times) in enumerate(people.items()):
            embedding = self._vector(who, 128)
            first = len(faces)
            for t in times:
                faces.append(
                    {
                        "t": t,
                        "box": [0.1 + 0.4 * track_id, 0.2, 0.25, 0.3],
                        "confidence": 0.99,
                        "score": 1.2,
                        "quality": {"size_px": 120.0, "blur": 80.0, "frontal": 0.9},
                        "usable": True,
                        "embedding": embedding,
                        "crop": hashlib.sha256(f"{who}{t}".encode()).hexdigest(),
                        "track": track_id,
                    }
                )
            tracks.append(
                {
                    "id": track_id,
                    "start": min(times),
                    "end": max(times),
                    "shot": 0,
                    "detections": list(range(first, len(faces))),
                    "best": first,
                    "crop": faces[first]["crop"],
                    "embedding": embedding,
                    "usable": True,
                    "confidence": 0.99,
                }
            )
        return {
            "model_id": FACE_MODEL,
            "embedding_dim": 128,
            "match_distance": 0.41,
            "faces": faces,
            "tracks": tracks,
            "count": len(faces),
        }

    def _speakers(self, voices: dict[str, tuple[float, float]]) -> dict[str, Any]:
        speakers, turns = [], []
        for i, (who, (start, end)) in enumerate(voices.items()):
            sid = f"S{i + 1}"
            speakers.append(
                {
                    "id": sid,
                    "embedding": self._vector(who, 256),
                    "total_s": end - start,
                    "windows": 4,
                }
            )
            turns.append({"start": start, "end": end, "speaker": sid, "confidence": 0.9})
        return {"model": VOICE_MODEL, "speakers": speakers, "turns": turns}

    def add(
        self,
        name: str,
        *,
        faces: dict[str, list[float]] | None = None,
        voices: dict[str, tuple[float, float]] | None = None,
        said: list[tuple[float, float, str]] | None = None,
        shown: list[tuple[float, float, str]] | None = None,
        owner: Account | None = None,
    ) -> str:
        media_id = new_id("med")
        results: dict[str, dict[str, Any]] = {}
        if faces:
            results["faces"] = self._faces(faces)
        if voices:
            results["speakers"] = self._speakers(voices)
        if said:
            results["transcribe"] = {
                "language": "en",
                "segments": [{"start": a, "end": b, "text": t} for a, b, t in said],
            }
        if shown:
            results["ocr"] = {
                "lines": [{"start": a, "end": b, "text": t, "confidence": 0.9} for a, b, t in shown]
            }
        with self.rt.db.session() as s:
            s.add(
                Media(
                    id=media_id,
                    sha256=hashlib.sha256(media_id.encode()).hexdigest(),
                    size=1000,
                    kind="video",
                    format="mp4",
                    mime="video/mp4",
                    original_name=name,
                    info={"duration_s": 20.0},
                    uploaded_by=owner.user_id if owner else None,
                )
            )
            s.flush()  # no ORM relationships: parents go in first
            job_id = new_id("job")
            s.add(Job(id=job_id, media_id=media_id, analyzers=sorted(results), state="succeeded"))
            if owner is not None:
                s.add(MediaGrant(media_id=media_id, user_id=owner.user_id))
            s.flush()
            for analyzer, data in results.items():
                s.add(
                    AnalysisResult(
                        id=new_id("res"),
                        media_id=media_id,
                        job_id=job_id,
                        analyzer=analyzer,
                        analyzer_version="1",
                        model_id=str(data.get("model_id") or data.get("model") or analyzer),
                        config={},
                        config_hash="0" * 64,
                        data=data,
                        accepted=True,
                    )
                )
        return media_id


def build_world(rt: Runtime) -> World:
    """Alice (two media, and a voice that speaks while she is on screen), Bob, Carol.

    After sync: persons alice, bob, carol (faces) and voice (alice's voice, not yet linked:
    one media of co-occurrence only makes a *suggested* link).
    """
    lib = Library(rt)
    w = World()
    w.media["meeting"] = lib.add(
        "meeting.mp4",
        faces={"alice": [1.0, 2.0, 3.0], "bob": [10.0, 11.0]},
        voices={"voice": (1.0, 4.0)},
        said=[(1.0, 4.0, "the budget for next year is approved")],
    )
    w.media["lobby"] = lib.add("lobby.jpg", faces={"alice": [0.0], "carol": [0.0]})
    w.media["street"] = lib.add("street.jpg", faces={"bob": [0.0]})
    report = rt.identity.sync()
    assert report.new_persons == 4 and report.unassigned == 0, report
    with rt.db.session() as s:
        rows = s.execute(
            select(Observation, Media.original_name)
            .join(Media, Media.id == Observation.media_id)
            .order_by(Observation.id)
        ).all()
        # which face/voice is whose: the order tracks were written in
        names = {
            ("meeting.mp4", "track:0"): "alice",
            ("meeting.mp4", "track:1"): "bob",
            ("meeting.mp4", "speaker:S1"): "voice",
            ("lobby.jpg", "track:0"): "alice",
            ("lobby.jpg", "track:1"): "carol",
            ("street.jpg", "track:0"): "bob",
        }
        for o, media_name in rows:
            who = names[(media_name, o.ref)]
            w.observations.setdefault(who, []).append(o.id)
            assert o.person_id is not None, (who, o.ref)
            assert w.persons.setdefault(who, o.person_id) == o.person_id, who
    assert len(set(w.persons.values())) == 4
    return w


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api.runtime)


def _ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    error: dict[str, Any] = r.json()["error"]
    return error


# --------------------------------------------------------------------------- access
def test_who_may_read_and_correct_persons(api: Api, world: World) -> None:
    alice = world.persons["alice"]
    viewer, uploader, auditor = api.user("viewer"), api.user("uploader"), api.user("auditor")
    c = api.client

    assert _ok(c.get(P, headers=viewer.headers))["total"] == 4
    assert _ok(c.get(f"{P}/{alice}", headers=viewer.headers))["id"] == alice
    r = c.post(
        f"{P}/{alice}/merge", json={"persons": [world.persons["bob"]]}, headers=viewer.headers
    )
    assert "persons:manage" in _error(r, 403)["message"]
    assert "persons:manage" in _error(c.post(f"{P}/sync", headers=viewer.headers), 403)["message"]
    for who in (uploader, auditor):
        assert _error(c.get(P, headers=who.headers), 403)["code"] == "forbidden"
        _error(c.get(f"{P}/{alice}/dossier", headers=who.headers), 403)
    for who in (viewer, uploader):  # biometric search is for analysts and admins
        r = c.post("/api/v1/search/face", files={"file": ("q.jpg", b"x")}, headers=who.headers)
        assert "search:biometric" in _error(r, 403)["message"]
    _error(c.get(P), 401)
    _error(c.get(f"{P}/{alice}"), 401)
    _error(c.post(f"{P}/{alice}/merge", json={"persons": []}), 401)  # access before validation
    # nothing changed
    assert (
        _ok(c.get(f"{P}/{world.persons['bob']}", headers=viewer.headers))["requested_id"]
        == (world.persons["bob"])
    )


# --------------------------------------------------------------------------- reading
def test_list_filter_and_get(api: Api, world: World) -> None:
    h = api.user("viewer").headers
    c = api.client
    page = _ok(c.get(P, headers=h))
    assert (page["total"], page["limit"], page["offset"]) == (4, 50, 0)
    by_id = {p["id"]: p for p in page["items"]}
    alice = by_id[world.persons["alice"]]
    assert (alice["faces"], alice["voices"], alice["media"], alice["name"]) == (2, 0, 2, None)
    assert page["items"][0]["media"] == 2  # most media first
    assert len(alice["crops"]) == 2 and alice["on_screen_s"] >= 0

    voices = _ok(c.get(P, params={"kind": "voice"}, headers=h))
    assert [p["id"] for p in voices["items"]] == [world.persons["voice"]]
    two = _ok(c.get(P, params={"limit": 2, "offset": 2}, headers=h))
    assert (two["total"], len(two["items"])) == (4, 2)
    assert _ok(c.get(P, params={"named": True}, headers=h))["total"] == 0

    person = _ok(c.get(f"{P}/{world.persons['alice']}", headers=h))
    assert person["requested_id"] == person["id"] == world.persons["alice"]
    assert sorted(o["id"] for o in person["observations"]) == world.observations["alice"]
    assert {o["media_id"] for o in person["observations"]} == {
        world.media["meeting"],
        world.media["lobby"],
    }
    assert person["observations"][0]["kind"] == "face" and person["merged_ids"] == []
    assert [lk["voice_person_id"] for lk in person["links"]] == [world.persons["voice"]]

    missing = _error(c.get(f"{P}/per_nobody", headers=h), 404)
    assert missing["code"] == "not_found" and "per_nobody" in missing["message"]
    _error(c.get(f"{P}/per_nobody/corrections", headers=h), 404)
    _error(c.get(f"{P}/per_nobody/dossier", headers=api.case_headers(api.user("viewer"))), 404)
    assert "limit" in _error(c.get(P, params={"limit": 501}, headers=h), 422)["message"]
    assert "kind" in _error(c.get(P, params={"kind": "smell"}, headers=h), 422)["message"]


# --------------------------------------------------------------------------- corrections
def test_merge_redirects_and_undo_restores(api: Api, world: World) -> None:
    h = api.user("analyst").headers
    c = api.client
    alice, bob = world.persons["alice"], world.persons["bob"]
    done = _ok(c.post(f"{P}/{alice}/merge", json={"persons": [bob]}, headers=h))
    assert done["person_id"] == alice and done["correction_id"].startswith("cor_")

    merged = _ok(c.get(f"{P}/{bob}", headers=h))  # the merged id answers with alice
    assert (merged["id"], merged["requested_id"]) == (alice, bob)
    assert merged["merged_ids"] == [bob]
    assert sorted(o["id"] for o in merged["observations"]) == sorted(
        world.observations["alice"] + world.observations["bob"]
    )
    assert all(o["pinned"] for o in merged["observations"])
    assert _ok(c.get(P, headers=h))["total"] == 3
    history = _ok(c.get(f"{P}/{bob}/corrections", headers=h))
    assert [(x["id"], x["kind"], x["undone_at"]) for x in history] == [
        (done["correction_id"], "merge", None)
    ]

    undone = _ok(c.post(f"{P}/corrections/{done['correction_id']}/undo", headers=h))
    assert sorted(undone["restored"]) == sorted(
        world.observations["alice"] + world.observations["bob"]
    )
    assert undone["skipped"] == []
    back = _ok(c.get(f"{P}/{bob}", headers=h))
    assert (
        back["id"] == bob
        and sorted(o["id"] for o in back["observations"]) == (world.observations["bob"])
    )
    assert _ok(c.get(f"{P}/{alice}/corrections", headers=h))[0]["undone_at"] is not None
    again = _error(c.post(f"{P}/corrections/{done['correction_id']}/undo", headers=h), 409)
    assert "already undone" in again["message"]
    _error(c.post(f"{P}/corrections/cor_nothing/undo", headers=h), 404)

    actions = [e.action for e in api.runtime.system.audit_events(cli_principal(), limit=20)]
    assert "person.merge" in actions and "person.undo" in actions


def test_split_reject_rename_and_seen_before(api: Api, world: World) -> None:
    h = api.case_headers(api.user("analyst"))
    c = api.client
    alice, carol = world.persons["alice"], world.persons["carol"]
    first, second = world.observations["alice"]

    split = _ok(
        c.post(f"{P}/{alice}/split", json={"observations": [second], "name": "Alice?"}, headers=h)
    )
    new = split["new_person_id"]
    assert new and new != alice and split["person_id"] == alice
    moved = _ok(c.get(f"{P}/{new}", headers=h))
    assert moved["name"] == "Alice?" and [o["id"] for o in moved["observations"]] == [second]
    assert [o["id"] for o in _ok(c.get(f"{P}/{alice}", headers=h))["observations"]] == [first]

    # the split-off face still looks like alice: "seen before?" finds it, scored
    seen = _ok(c.get(f"{P}/{alice}/seen-before", params={"min_score": 0.9}, headers=h))
    assert seen["person_id"] == alice
    assert [(m["observation_id"], m["person_id"]) for m in seen["matches"]] == [(second, new)]
    assert seen["matches"][0]["score"] > 0.9 and seen["matches"][0]["media_name"] == "lobby.jpg"
    assert (
        "min_score"
        in _error(c.get(f"{P}/{alice}/seen-before", params={"min_score": 2}, headers=h), 422)[
            "message"
        ]
    )

    # reject carol's only face: it cannot stay with carol and matches nobody else
    (carols,) = world.observations["carol"]
    rejected = _ok(c.post(f"{P}/{carol}/reject", json={"observations": [carols]}, headers=h))
    assert rejected["person_id"] == carol
    with api.runtime.db.session() as s:
        now = s.get(Observation, carols)
        assert now is not None and now.person_id not in (None, carol)
    # carol keeps her id (her correction refers to it) but no longer appears in the list
    assert _ok(c.get(f"{P}/{carol}", headers=h))["observations"] == []
    assert carol not in {p["id"] for p in _ok(c.get(P, headers=h))["items"]}
    _error(c.post(f"{P}/{carol}/reject", json={"observations": [carols]}, headers=h), 422)


def test_rename_and_filters(api: Api, world: World) -> None:
    h = api.user("analyst").headers
    c = api.client
    bob = world.persons["bob"]
    done = _ok(c.patch(f"{P}/{bob}", json={"name": "  Bob Builder "}, headers=h))
    assert done["person_id"] == bob
    assert _ok(c.get(f"{P}/{bob}", headers=h))["name"] == "Bob Builder"
    found = _ok(c.get(P, params={"name": "builder"}, headers=h))
    assert [p["id"] for p in found["items"]] == [bob]
    assert [p["id"] for p in _ok(c.get(P, params={"named": True}, headers=h))["items"]] == [bob]
    assert _ok(c.get(P, params={"named": False}, headers=h))["total"] == 3

    _ok(c.post(f"{P}/corrections/{done['correction_id']}/undo", headers=h))
    assert _ok(c.get(f"{P}/{bob}", headers=h))["name"] is None
    _ok(c.patch(f"{P}/{bob}", json={"name": "Bob"}, headers=h))
    _ok(c.patch(f"{P}/{bob}", json={"name": None}, headers=h))  # null clears it
    assert _ok(c.get(f"{P}/{bob}", headers=h))["name"] is None


def test_bad_bodies_are_clear_422s(api: Api, world: World) -> None:
    h = api.user("analyst").headers
    c = api.client
    alice, bob = world.persons["alice"], world.persons["bob"]
    cases: list[tuple[str, str, Any, str]] = [
        ("post", f"{P}/{alice}/merge", {"persons": []}, "persons"),
        ("post", f"{P}/{alice}/merge", {"persons": [bob], "force": True}, "force"),
        ("post", f"{P}/{alice}/merge", {"person": [bob]}, "persons"),
        ("post", f"{P}/{alice}/merge", {"persons": bob}, "persons"),
        ("post", f"{P}/{alice}/split", {"observations": []}, "observations"),
        ("post", f"{P}/{alice}/split", {"observations": ["one"]}, "observations"),
        ("post", f"{P}/{alice}/split", {"observations": [1], "name": "x" * 257}, "name"),
        ("post", f"{P}/{alice}/reject", {}, "observations"),
        ("post", f"{P}/{alice}/reject", {"observations": list(range(10_001))}, "observations"),
        ("patch", f"{P}/{alice}", {}, "name"),
        ("patch", f"{P}/{alice}", {"name": 5}, "name"),
    ]
    for method, url, body, where in cases:
        error = _error(c.request(method.upper(), url, json=body, headers=h), 422)
        assert error["code"] == "invalid_request", (url, body, error)
        assert where in error["message"], (url, body, error)
    r = c.post(
        f"{P}/{alice}/merge",
        content=b"{not json",
        headers={**h, "Content-Type": "application/json"},
    )
    assert "JSON" in _error(r, 422)["message"]

    # well-formed but wrong: the service says what is wrong with which ids
    other = world.observations["bob"][0]
    wrong = _error(c.post(f"{P}/{alice}/split", json={"observations": [other]}, headers=h), 422)
    assert str(other) in wrong["message"] and alice in wrong["message"]
    assert (
        "other person"
        in _error(c.post(f"{P}/{alice}/merge", json={"persons": [alice]}, headers=h), 422)[
            "message"
        ]
    )
    _error(c.post(f"{P}/{alice}/merge", json={"persons": ["per_nobody"]}, headers=h), 404)
    _error(c.post(f"{P}/per_nobody/split", json={"observations": [1]}, headers=h), 404)
    _error(c.patch(f"{P}/per_nobody", json={"name": "x"}, headers=h), 404)
    # nothing was changed by any of it
    assert _ok(c.get(P, headers=h))["total"] == 4
    assert _ok(c.get(f"{P}/{alice}/corrections", headers=h)) == []


# --------------------------------------------------------------------------- links
def test_voice_link_confirm_and_undo(api: Api, world: World) -> None:
    h = api.user("analyst").headers
    c = api.client
    alice, voice = world.persons["alice"], world.persons["voice"]
    (link,) = _ok(c.get(f"{P}/links", headers=h))
    assert (link["face_person_id"], link["voice_person_id"], link["state"]) == (
        alice,
        voice,
        "suggested",
    )
    assert link["media"] == {world.media["meeting"]: pytest.approx(3.0)}
    assert _ok(c.get(f"{P}/links", params={"state": "confirmed"}, headers=h)) == []
    _error(c.get(f"{P}/links", params={"state": "maybe"}, headers=h), 422)

    done = _ok(c.post(f"{P}/links/{link['id']}/confirm", headers=h))
    assert done["person_id"] == alice
    person = _ok(c.get(f"{P}/{alice}", headers=h))
    assert (person["faces"], person["voices"]) == (2, 1)
    assert _ok(c.get(f"{P}/{voice}", headers=h))["id"] == alice  # the voice joined alice
    assert _ok(c.get(f"{P}/links", params={"state": "confirmed"}, headers=h))[0]["id"] == link["id"]
    assert (
        "lnk_nothing" in _error(c.post(f"{P}/links/lnk_nothing/reject", headers=h), 404)["message"]
    )

    _ok(c.post(f"{P}/corrections/{done['correction_id']}/undo", headers=h))
    assert _ok(c.get(f"{P}/links", headers=h))[0]["state"] == "suggested"
    assert _ok(c.get(f"{P}/{voice}", headers=h))["id"] == voice

    rejected = _ok(c.post(f"{P}/links/{link['id']}/reject", headers=h))
    assert rejected["correction_id"]
    assert _ok(c.get(f"{P}/links", headers=h))[0]["state"] == "rejected"
    _error(c.post(f"{P}/links/{link['id']}/confirm", headers=h), 409)


# --------------------------------------------------------------------------- dossier
def test_dossier_json_and_markdown_are_audited(api: Api, world: World) -> None:
    viewer, admin = api.user("viewer"), api.user("admin")
    c = api.client
    alice = world.persons["alice"]
    doc = _ok(c.get(f"{P}/{alice}/dossier", headers=api.case_headers(viewer)))
    assert doc["person"]["id"] == alice and doc["facts"]
    assert {s["media_id"] for s in doc["sources"]} >= {world.media["meeting"]}

    r = c.get(f"{P}/{alice}/dossier", params={"format": "md"}, headers=api.case_headers(viewer))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    assert r.headers["content-disposition"] == f'attachment; filename="dossier-{alice}.md"'
    assert r.text.startswith("# ") and alice in r.text and "meeting" in r.text
    _error(
        c.get(f"{P}/{alice}/dossier", params={"format": "pdf"}, headers=api.case_headers(viewer)),
        422,
    )

    events = _ok(
        c.get("/api/v1/audit", params={"action": "person.dossier_export"}, headers=admin.headers)
    )
    assert [(e["actor"], e["object_id"], e["details"]["format"]) for e in events] == [
        ("api:viewer", alice, "md"),
        ("api:viewer", alice, "json"),
    ]


# --------------------------------------------------------------------------- library-wide
def test_sync_and_recluster_keep_persons(api: Api, world: World) -> None:
    h = api.user("analyst").headers
    c = api.client
    report = _ok(c.post(f"{P}/sync", headers=h))
    assert report["media"] == 0 and report["links"] == {}  # already in step
    before = {p["id"] for p in _ok(c.get(P, headers=h))["items"]}

    lib = Library(api.runtime, seed=7)  # same seed: the same people again
    lib.add("again.jpg", faces={"alice": [0.0]})
    report = _ok(c.post(f"{P}/sync", headers=h))
    assert (report["media"], report["observations"], report["new_persons"]) == (1, 1, 0)

    out = _ok(c.post(f"{P}/recluster", headers=h))
    assert sum(v["observations"] for v in out.values()) == 7
    assert all(v["new_persons"] == 0 for v in out.values())
    assert {p["id"] for p in _ok(c.get(P, headers=h))["items"]} == before
    alice = _ok(c.get(f"{P}/{world.persons['alice']}", headers=h))
    assert alice["media"] == 3


# --------------------------------------------------------------------------- search: text
def test_text_search_sees_only_visible_media(api: Api) -> None:
    ann, ben, admin = api.user("uploader", "ann"), api.user("uploader", "ben"), api.user("admin")
    lib = Library(api.runtime)
    mine = lib.add(
        "ann.mp4",
        said=[(0.0, 2.0, "the budget meeting starts now"), (5.0, 7.0, "lunch is late")],
        shown=[(1.0, 3.0, "BUDGET 2025")],
        owner=ann,
    )
    theirs = lib.add("ben.mp4", said=[(0.0, 2.0, "a secret budget")], owner=ben)
    api.runtime.identity.sync()
    c = api.client

    hits = _ok(c.get("/api/v1/search/text", params={"q": "budget"}, headers=ann.headers))
    assert (hits["query"], hits["limit"], hits["offset"]) == ("budget", 20, 0)
    assert {h["media_id"] for h in hits["results"]} == {mine}
    assert {h["source"] for h in hits["results"]} == {"transcript", "ocr"}
    top = hits["results"][0]
    assert top["media_name"] == "ann.mp4" and "[" in top["snippet"]
    assert top["jump"] == f"/api/v1/media/{mine}/timeline?t={top['start']}"
    ocr = _ok(
        c.get("/api/v1/search/text", params={"q": "budget", "source": "ocr"}, headers=ann.headers)
    )
    assert [h["text"] for h in ocr["results"]] == ["BUDGET 2025"]
    assert {
        h["media_id"]
        for h in _ok(c.get("/api/v1/search/text", params={"q": "budget"}, headers=admin.headers))[
            "results"
        ]
    } == {mine, theirs}
    # asking for ben's media by id finds nothing, exactly like an unknown id
    only = _ok(
        c.get(
            "/api/v1/search/text",
            params={"q": "secret", "media_id": theirs},
            headers=ann.headers,
        )
    )
    assert only["results"] == []

    bad: list[tuple[dict[str, str | int], str]] = [
        ({"q": ""}, "q"),
        ({"q": "x" * 501}, "q"),
        ({}, "q"),
        ({"q": "a", "source": "email"}, "source"),
        ({"q": "a", "limit": 201}, "limit"),
        ({"q": "a", "offset": -1}, "offset"),
    ]
    for params, where in bad:
        error = _error(c.get("/api/v1/search/text", params=params, headers=ann.headers), 422)
        assert where in error["message"], (params, error)
    _error(
        c.get("/api/v1/search/text", params={"q": "x"}, headers=api.user("auditor").headers), 403
    )
    events = api.runtime.system.audit_events(cli_principal(), action="search.text", limit=50)
    assert {e.actor for e in events} >= {"api:ann", "api:admin"}


# --------------------------------------------------------------------------- search: face
@pytest.fixture
def face_api(sqlite_runtime: Runtime) -> Iterator[Api]:
    """The real dlib analyzer is the same on both databases: SQLite only, to save time."""
    with TestClient(create_app(sqlite_runtime, start_workers=False)) as client:
        yield Api(sqlite_runtime, client)


def test_search_by_face_photo_finds_the_person(face_api: Api, tmp_path: Path) -> None:
    from PIL import ImageOps

    from aima.cli.jobs import run_jobs_here
    from tests.analyzers import faces_fixtures as ff

    rt = face_api.runtime
    library = ff.save(ImageOps.mirror(ff.astronaut()), tmp_path / "library.jpg")
    outcome = rt.ingest.ingest_file(library, cli_principal(), analyzers=["faces"])
    assert outcome.job_id
    assert run_jobs_here(rt, [outcome.job_id], show=False) == {outcome.job_id: "succeeded"}
    rt.identity.sync()
    (person,) = rt.persons.list(cli_principal()).items

    analyst = face_api.user("analyst")
    query = ff.save(ff.astronaut(), tmp_path / "query.jpg")
    r = face_api.client.post(
        "/api/v1/search/face",
        files={"file": ("astronaut.jpg", query.read_bytes(), "image/jpeg")},
        data={"k": "5"},
        headers=face_api.case_headers(analyst),
    )
    found = _ok(r)
    assert found["query"]["faces"] == 1 and found["query"]["name"] == "astronaut.jpg"
    best = found["results"][0]["persons"][0]
    assert best["person_id"] == person["id"] and best["score"] > 0.9
    assert best["appearances"][0]["media_id"] == outcome.media_id
    (event,) = rt.system.audit_events(cli_principal(), action="search.face", limit=5)
    assert event.actor == "api:analyst" and event.details["persons"] == [person["id"]]
    assert event.details["case"] == face_api.cases["analyst"]
    assert event.details["purpose"] == "face_search"
    assert event.details["query_sha256"] == hashlib.sha256(query.read_bytes()).hexdigest()
    assert not list((rt.settings.data_dir / "tmp").iterdir())  # the query file is gone


@needs_ffmpeg
def test_bad_query_files_are_refused_clearly(face_api: Api, samples: dict[str, bytes]) -> None:
    h = face_api.case_headers(face_api.user("analyst"))
    c = face_api.client

    def post(kind: str, name: str, data: bytes, **form: str) -> Any:
        return c.post(f"/api/v1/search/{kind}", files={"file": (name, data)}, data=form, headers=h)

    text = _error(post("face", "notes.jpg", samples["text"]), 415)
    assert "notes.jpg" in text["message"]
    assert "empty" in _error(post("face", "empty.jpg", b""), 415)["message"]
    video = _error(post("face", "clip.mp4", samples["mp4"]), 422)
    assert "photo" in video["message"] and "clip.mp4" in video["message"]
    silent = _error(post("voice", "still.jpg", samples["jpeg"]), 422)
    assert "audio" in silent["message"]
    assert "k" in _error(post("face", "a.jpg", samples["jpeg"], k="0"), 422)["message"]
    assert (
        "min_score"
        in _error(post("face", "a.jpg", samples["jpeg"], min_score="1.5"), 422)["message"]
    )
    missing = _error(c.post("/api/v1/search/face", headers=h), 422)
    assert "file" in missing["message"]
    # no face at all: an empty answer, not an error
    none = _ok(post("face", "pattern.jpg", samples["jpeg"]))
    assert (none["query"]["faces"], none["results"]) == (0, [])
    assert not list((face_api.runtime.settings.data_dir / "tmp").iterdir())


def test_query_over_the_size_limit_is_413(make_runtime: Any, samples: dict[str, bytes]) -> None:
    rt = make_runtime(limits={"max_bytes": 1000})
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        r = client.post(
            "/api/v1/search/face",
            files={"file": ("big.jpg", samples["jpeg"])},
            headers=api.case_headers(api.user("analyst")),
        )
        assert "size limit" in _error(r, 413)["message"]
        assert not list((rt.settings.data_dir / "tmp").iterdir())
