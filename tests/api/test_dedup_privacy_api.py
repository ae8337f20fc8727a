"""Uploading someone else's file again grants no access to their metadata (real app, SQLite and
PostgreSQL).

Alice uploads a file as "secret-meeting-A.mp4"; Bob uploads the same bytes as "b.mp4". The
bytes are stored once and the analysis is shared (it is derived from the bytes both hold),
but every response Bob gets names the media "b.mp4" and never carries Alice's file name,
her user id, her jobs or the person names that corrections gave the speakers. The raw
text of each response is checked, so a leak in any field, nested or new, fails the test.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from aima.core.ids import new_id
from aima.store.models import AnalysisResult, AuditEvent, Job
from tests.api.helpers import Account, Api

M = "/api/v1/media"
SECRET = "secret-meeting-A"
SPEECH = "the quarterly budget is approved"


@pytest.fixture
def scene(api: Api, samples: dict[str, bytes]) -> dict[str, Any]:
    """Alice's upload (analysed: a transcript whose speaker a correction named), Bob's copy."""
    alice, bob = api.user("uploader", "alice"), api.user("uploader", "bob")
    first = _upload(api, alice, f"{SECRET}.mp4", samples["jpeg"], 201)
    assert first["status"] == "created" and first["job_id"]
    media_id = first["media_id"]
    _add_speech(api, media_id, first["job_id"])
    api.runtime.identity.sync()
    admin = api.user("admin")
    voice = _voice_person(api, admin, media_id)
    r = api.client.patch(
        f"/api/v1/persons/{voice}", json={"name": "Alice Secretary"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text

    copy = _upload(api, bob, "b.mp4", samples["jpeg"], 200)
    assert (copy["status"], copy["media_id"], copy["name"]) == ("duplicate", media_id, "b.mp4")
    return {
        "alice": alice,
        "bob": bob,
        "media_id": media_id,
        "job_id": first["job_id"],
        # result provenance names alice's job id, which opens nothing for bob (404): not a leak
        "leaks": (SECRET, alice.user_id, "alice", "Alice Secretary"),
    }


def _upload(api: Api, who: Account, name: str, data: bytes, status: int) -> dict[str, Any]:
    r = api.upload(who, [(name, data)])
    assert r.status_code == status, r.text
    assert SECRET not in r.text or name.startswith(SECRET)
    outcome: dict[str, Any] = r.json()["files"][0]
    return outcome


def _add_speech(api: Api, media_id: str, job_id: str) -> None:
    """Accepted speakers + transcript results in the analyzers' final format."""
    speakers = {
        "model": "resemblyzer-test",
        "speakers": [{"id": "S1", "embedding": [1.0] + [0.0] * 255, "total_s": 3.0, "windows": 4}],
        "turns": [{"start": 1.0, "end": 4.0, "speaker": "S1", "confidence": 0.9}],
    }
    transcript = {"language": "en", "segments": [{"start": 1.0, "end": 4.0, "text": SPEECH}]}
    with api.runtime.db.session() as s:
        for analyzer, data in (("speakers", speakers), ("transcribe", transcript)):
            s.add(
                AnalysisResult(
                    id=new_id("res"),
                    media_id=media_id,
                    job_id=job_id,
                    analyzer=analyzer,
                    analyzer_version="1",
                    model_id=analyzer,
                    config={},
                    config_hash="0" * 64,
                    data=data,
                    accepted=True,
                )
            )


def _voice_person(api: Api, admin: Account, media_id: str) -> str:
    r = api.client.get(f"{M}/{media_id}/timeline", headers=admin.headers)
    assert r.status_code == 200, r.text
    person: str = r.json()["tracks"]["speakers"][0]["person_id"]
    assert person
    return person


def _get(api: Api, who: Account, url: str, **params: Any) -> Any:
    """A GET as ``who`` inside an open case of theirs (exports need one: purpose binding)."""
    r = api.client.get(url, params=params or None, headers=api.case_headers(who))
    assert r.status_code == 200, f"{url}: {r.status_code} {r.text}"
    return r


def _clean(text: str, leaks: tuple[str, ...], url: str) -> None:
    for leak in leaks:
        assert leak not in text, f"{url} leaks {leak!r}: {text[:600]}"


def test_a_duplicate_uploader_sees_only_their_own_view(api: Api, scene: dict[str, Any]) -> None:
    bob, media_id, leaks = scene["bob"], scene["media_id"], scene["leaks"]
    # alice reads the media's summary first: a cached summary must not be served to bob
    assert SECRET in _get(api, scene["alice"], f"{M}/{media_id}/summary").text
    seen: dict[str, Any] = {}
    for url, params in (
        (M, {}),
        (M, {"q": "b.mp4"}),
        (M, {"sort": "name"}),
        (f"{M}/{media_id}", {}),
        (f"{M}/{media_id}/results", {}),
        (f"{M}/{media_id}/timeline", {}),
        (f"{M}/{media_id}/transcript", {}),
        (f"{M}/{media_id}/export", {"format": "json"}),
        (f"{M}/{media_id}/export", {"format": "csv"}),
        (f"{M}/{media_id}/export", {"format": "vtt"}),
        (f"{M}/{media_id}/summary", {}),
        ("/api/v1/search/text", {"q": "budget"}),
        ("/api/v1/jobs", {}),
    ):
        r = _get(api, bob, url, **params)
        _clean(r.text, leaks, url)
        seen[f"{url}?{params}"] = r

    listing = seen[f"{M}?{{}}"].json()
    assert listing["total"] == 1
    card = listing["items"][0]
    assert (card["original_name"], card["uploaded_by"], card["access"]) == (
        "b.mp4",
        None,
        "duplicate",
    )
    assert card["job"] is None  # alice's job is hers
    detail = seen[f"{M}/{media_id}?{{}}"].json()
    assert (detail["original_name"], detail["uploaded_by"], detail["access"]) == (
        "b.mp4",
        None,
        "duplicate",
    )
    timeline = seen[f"{M}/{media_id}/timeline?{{}}"].json()
    assert timeline["media"]["name"] == "b.mp4"
    # the analysis is shared (same bytes), the person a correction named is not
    assert [seg["text"] for seg in timeline["tracks"]["transcript"]] == [SPEECH]
    assert {seg["person_id"] for seg in timeline["tracks"]["transcript"]} == {None}
    hits = seen["/api/v1/search/text?{'q': 'budget'}"].json()["results"]
    assert [(h["media_name"], h["person_name"]) for h in hits] == [("b.mp4", None)]
    assert seen["/api/v1/jobs?{}"].json()["total"] == 0
    assert [i["original_name"] for i in seen[f"{M}?{{'q': 'b.mp4'}}"].json()["items"]] == ["b.mp4"]

    # probing alice's name finds nothing; her job is "not found", like any unknown id
    assert _get(api, bob, M, q="secret").json()["total"] == 0
    r = api.client.get(f"/api/v1/jobs/{scene['job_id']}", headers=bob.headers)
    assert r.status_code == 404
    _clean(r.text, leaks[:2], "job")
    # a job bob submits is his, and shows under his name
    r = api.client.post("/api/v1/jobs", json={"media_id": media_id}, headers=bob.headers)
    assert r.status_code in (200, 201, 202), r.text
    jobs = _get(api, bob, "/api/v1/jobs").json()["items"]
    assert [(j["id"], j["media_name"]) for j in jobs] == [(r.json()["id"], "b.mp4")]
    _clean(_get(api, bob, M).text, leaks, M)


def test_owner_and_analyst_see_the_original(api: Api, scene: dict[str, Any]) -> None:
    alice, media_id = scene["alice"], scene["media_id"]
    # her summary first: bob's (test above) must never be served from hers
    assert SECRET in _get(api, alice, f"{M}/{media_id}/summary").text
    detail = _get(api, alice, f"{M}/{media_id}").json()
    assert (detail["original_name"], detail["uploaded_by"], detail["access"]) == (
        f"{SECRET}.mp4",
        alice.user_id,
        "upload",
    )
    timeline = _get(api, alice, f"{M}/{media_id}/timeline").json()
    assert timeline["media"]["name"] == f"{SECRET}.mp4"
    assert timeline["tracks"]["transcript"][0]["person_name"] == "Alice Secretary"
    hits = _get(api, alice, "/api/v1/search/text", q="budget").json()["results"]
    assert [(h["media_name"], h["person_name"]) for h in hits] == [
        (f"{SECRET}.mp4", "Alice Secretary")
    ]
    card = _get(api, alice, M).json()["items"][0]
    assert card["job"]["id"] == scene["job_id"] and card["original_name"] == f"{SECRET}.mp4"

    analyst = api.user("analyst")
    detail = _get(api, analyst, f"{M}/{media_id}").json()
    assert (detail["original_name"], detail["uploaded_by"], detail["access"]) == (
        f"{SECRET}.mp4",
        alice.user_id,
        "all",
    )
    assert _get(api, analyst, M, q="secret").json()["total"] == 1


def test_sharing_grants_the_owners_view_and_is_audited(api: Api, scene: dict[str, Any]) -> None:
    alice, bob, media_id = scene["alice"], scene["bob"], scene["media_id"]
    carol = api.user("uploader", "carol")
    for url in (f"{M}/{media_id}", f"{M}/{media_id}/timeline", f"{M}/{media_id}/results"):
        r = api.client.get(url, headers=carol.headers)
        assert r.status_code == 404, f"{url}: {r.status_code}"
        _clean(r.text, scene["leaks"], url)
    assert _get(api, carol, M).json()["total"] == 0
    assert _get(api, carol, "/api/v1/search/text", q="budget").json()["results"] == []

    share = f"{M}/{media_id}/share"
    r = api.client.post(share, json={"username": "carol"}, headers=bob.headers)
    assert r.status_code == 403, r.text  # bob's copy does not make him the owner
    r = api.client.post(share, json={"username": "nobody"}, headers=alice.headers)
    assert r.status_code == 404, r.text
    r = api.client.post(share, json={"username": "carol"}, headers=carol.headers)
    assert r.status_code == 404, r.text  # not visible to her: as if it did not exist
    r = api.client.post(share, json={"username": "carol"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "media_id": media_id,
        "username": "carol",
        "access": "share",
        "created": True,
    }

    detail = _get(api, carol, f"{M}/{media_id}").json()
    assert (detail["original_name"], detail["uploaded_by"], detail["access"]) == (
        f"{SECRET}.mp4",
        alice.user_id,
        "share",
    )
    assert _get(api, carol, f"/api/v1/jobs/{scene['job_id']}").json()["id"] == scene["job_id"]
    assert _get(api, carol, M).json()["items"][0]["original_name"] == f"{SECRET}.mp4"
    with api.runtime.db.session() as s:
        audited = s.execute(
            select(AuditEvent.actor, AuditEvent.object_id, AuditEvent.details).where(
                AuditEvent.action == "media.share"
            )
        ).all()
        assert s.get(Job, scene["job_id"]) is not None
    assert [(a, o, d["user"]) for a, o, d in audited] == [("api:alice", media_id, "carol")]
    # bob still sees only his own view
    _clean(_get(api, bob, f"{M}/{media_id}").text, scene["leaks"], "bob after the share")
