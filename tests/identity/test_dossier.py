"""The person dossier against a real database (SQLite and PostgreSQL), rows built by hand.

Two media: ``interview.mp4`` (Alice on face track 0 and speaker S1, someone else on
track 1 / S2; emotion, NSFW spans, OCR and transcript text) and ``street cam.mp4``
(Alice's face under a person since merged into her, two other people, an NSFW span
elsewhere, and only an *unaccepted* emotion result).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from aima.core.errors import NotFound
from aima.identity.dossier import build_dossier
from aima.identity.dossier_markdown import dossier_markdown
from aima.identity.dossier_parts import timestamp
from aima.store import migrate
from aima.store.db import Database
from aima.store.models import (
    AnalysisResult,
    Job,
    Media,
    Observation,
    Person,
    PersonLink,
    TextSegment,
)

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
ANALYZERS = {"faces", "speakers", "emotion", "transcribe", "ocr", "nsfw"}


@dataclass
class World:
    db: Database
    media_a: str = "med_a"
    media_b: str = "med_b"
    alice: str = "per_alice"
    alice_old: str = "per_alice_old"  # merged into alice
    bob: str = "per_bob"
    voice: str = "per_voice"  # the voice cluster linked to alice's face
    carol: str = "per_carol"


def _face(t: float, box: list[float], confidence: float, index: int) -> dict[str, Any]:
    return {"t": t, "box": box, "confidence": confidence, "face_index": index, "crop": None}


def _emotion(t: float, box: list[float] | None, index: int, **p: float) -> dict[str, Any]:
    top = max(p, key=lambda k: p[k])
    return {
        "t": t,
        "box": box,
        "face_index": index,
        "emotions": p,
        "top": top,
        "confidence": p[top],
    }


L, R = [0.1, 0.1, 0.2, 0.2], [0.6, 0.1, 0.2, 0.2]


def _build(db: Database) -> World:
    w = World(db)
    with db.session() as s:
        for mid, name, day in ((w.media_a, "interview.mp4", 1), (w.media_b, "street cam.mp4", 2)):
            s.add(
                Media(
                    id=mid,
                    sha256=mid.ljust(64, "0"),
                    size=1000,
                    kind="video",
                    format="mp4",
                    mime="video/mp4",
                    original_name=name,
                    info={"duration_s": 40.0},
                    created_at=datetime(2024, 1, day, tzinfo=UTC),
                )
            )
        s.add_all(
            [
                Person(id=w.alice, name="Alice Example"),
                Person(id=w.bob),
                Person(id=w.voice),
                Person(id=w.carol),
            ]
        )
        s.flush()
        s.add(Person(id=w.alice_old, merged_into=w.alice))
        for jid, mid in (("job_a", w.media_a), ("job_b", w.media_b), ("job_b2", w.media_b)):
            s.add(Job(id=jid, media_id=mid, analyzers=sorted(ANALYZERS), state="done"))
        s.flush()

        def result(
            rid: str,
            job: str,
            media: str,
            analyzer: str,
            data: dict[str, Any],
            *,
            accepted: bool = True,
        ) -> None:
            s.add(
                AnalysisResult(
                    id=rid,
                    media_id=media,
                    job_id=job,
                    analyzer=analyzer,
                    analyzer_version="1",
                    model_id=f"{analyzer}-model",
                    config={},
                    config_hash="0" * 64,
                    data=data,
                    accepted=accepted,
                )
            )

        # --- interview.mp4 ---------------------------------------------------------------
        faces_a = [
            _face(1.0, L, 0.90, 0),
            _face(1.0, R, 0.80, 1),
            _face(2.0, L, 0.95, 0),
            _face(2.0, R, 0.85, 1),
            _face(3.0, [0.12, 0.1, 0.2, 0.2], 0.92, 0),
        ]
        tracks_a = [
            {
                "id": 0,
                "start": 1.0,
                "end": 3.0,
                "detections": [0, 2, 4],
                "best": 2,
                "crop": "a" * 64,
                "confidence": 0.923,
            },
            {
                "id": 1,
                "start": 1.0,
                "end": 2.0,
                "detections": [1, 3],
                "best": 3,
                "crop": "b" * 64,
                "confidence": 0.825,
            },
        ]
        result("res_af", "job_a", w.media_a, "faces", {"faces": faces_a, "tracks": tracks_a})
        emotions_a = [
            _emotion(1.0, L, 0, happy=0.8, neutral=0.2, sad=0.0),  # track 0 by box
            _emotion(1.0, R, 1, happy=0.0, neutral=0.1, sad=0.9),  # track 1 (bob)
            _emotion(2.0, [0.11, 0.1, 0.2, 0.2], 7, happy=0.6, neutral=0.4, sad=0.0),  # by IoU
            _emotion(3.0, [0.7, 0.7, 0.1, 0.1], 0, happy=1.0, neutral=0.0, sad=0.0),  # by index
            _emotion(2.0, R, 1, happy=0.0, neutral=0.3, sad=0.7),  # bob
            _emotion(5.0, L, 0, angry=1.0),  # no face at 5.0
        ]
        result("res_ae", "job_a", w.media_a, "emotion", {"detections": emotions_a})
        turns = [
            {"start": 0.5, "end": 2.5, "speaker": "S1", "confidence": 0.9},
            {"start": 2.5, "end": 4.0, "speaker": "S2", "confidence": 0.8},
            {"start": 4.0, "end": 7.0, "speaker": "S1", "confidence": 0.85},
        ]
        speakers = [{"id": "S1", "total_s": 5.0}, {"id": "S2", "total_s": 1.5}]
        result("res_as", "job_a", w.media_a, "speakers", {"speakers": speakers, "turns": turns})
        nsfw_a = [
            {"start": 2.5, "end": 3.5, "score": 0.82, "labels": ["FEMALE_BREAST_EXPOSED"]},
            {"start": 6.0, "end": 7.0, "score": 0.7, "labels": ["BUTTOCKS_EXPOSED"]},
        ]
        result("res_an", "job_a", w.media_a, "nsfw", {"spans": nsfw_a, "flagged": True})
        result("res_ao", "job_a", w.media_a, "ocr", {"lines": []})
        result("res_at", "job_a", w.media_a, "transcribe", {"segments": []})

        # --- street cam.mp4 --------------------------------------------------------------
        box_b, box_c = [0.2, 0.2, 0.3, 0.3], [0.6, 0.2, 0.3, 0.3]
        faces_b = [
            *(_face(t, box_b, c, 0) for t, c in ((10.0, 0.7), (11.0, 0.75), (12.0, 0.8))),
            *(_face(t, box_c, 0.6, 1) for t in (11.0, 12.0, 13.0)),
            *(_face(t, L, 0.65, 0) for t in (20.0, 21.0)),
        ]
        tracks_b = [
            {
                "id": 0,
                "start": 10.0,
                "end": 12.0,
                "detections": [0, 1, 2],
                "best": 2,
                "crop": "c" * 64,
            },
            {
                "id": 1,
                "start": 11.0,
                "end": 13.0,
                "detections": [3, 4, 5],
                "best": 5,
                "crop": "d" * 64,
            },
            {
                "id": 2,
                "start": 20.0,
                "end": 21.0,
                "detections": [6, 7],
                "best": 7,
                "crop": "e" * 64,
            },
        ]
        result("res_bf", "job_b", w.media_b, "faces", {"faces": faces_b, "tracks": tracks_b})
        nsfw_b = [{"start": 30.0, "end": 31.0, "score": 0.9, "labels": ["ANUS_EXPOSED"]}]
        result("res_bn", "job_b", w.media_b, "nsfw", {"spans": nsfw_b, "flagged": True})
        old = [_emotion(10.0, box_b, 0, angry=1.0)]  # a re-run waiting for review
        result("res_be", "job_b2", w.media_b, "emotion", {"detections": old}, accepted=False)
        s.flush()

        def obs(
            kind: str,
            media: str,
            result_id: str,
            ref: str,
            person: str,
            spans: list[list[float]],
            confidence: float,
            crop: str | None = None,
        ) -> None:
            s.add(
                Observation(
                    kind=kind,
                    media_id=media,
                    result_id=result_id,
                    collection=f"{kind}-test",
                    model_id="m",
                    ref=ref,
                    start=spans[0][0],
                    end=spans[-1][1],
                    duration_s=sum(b - a for a, b in spans),
                    count=len(spans),
                    spans=spans,
                    usable=True,
                    confidence=confidence,
                    embedding=b"\0" * 8,
                    dim=2,
                    crop=crop,
                    person_id=person,
                )
            )

        obs("face", w.media_a, "res_af", "track:0", w.alice, [[1.0, 3.0]], 0.923, "a" * 64)
        obs("face", w.media_a, "res_af", "track:1", w.bob, [[1.0, 2.0]], 0.825, "b" * 64)
        obs("voice", w.media_a, "res_as", "speaker:S1", w.alice, [[0.5, 2.5], [4.0, 7.0]], 0.875)
        obs("voice", w.media_a, "res_as", "speaker:S2", w.bob, [[2.5, 4.0]], 0.8)
        obs("face", w.media_b, "res_bf", "track:0", w.alice_old, [[10.0, 12.0]], 0.75, "c" * 64)
        obs("face", w.media_b, "res_bf", "track:1", w.carol, [[11.0, 13.0]], 0.6, "d" * 64)
        obs("face", w.media_b, "res_bf", "track:2", w.bob, [[20.0, 21.0]], 0.65, "e" * 64)

        for source, rid, start, end, text, speaker, conf in (
            ("transcript", "res_at", 0.6, 2.0, "Hello there.", "S1", 0.9),
            ("transcript", "res_at", 2.6, 3.9, "Hi Alice.", "S2", 0.8),
            ("transcript", "res_at", 4.1, 6.5, "Nice weather today.", "S1", None),
            ("ocr", "res_ao", 3.8, 4.5, "BREAKING NEWS", None, 0.95),  # 0.8 s after her face
            ("ocr", "res_ao", 5.0, 6.0, "WEATHER AT SIX", None, 0.9),  # 2 s after: too far
            ("ocr", "res_ao", 0.0, 0.2, "CHANNEL 7", None, 0.88),  # 0.8 s before
        ):
            s.add(
                TextSegment(
                    media_id=w.media_a,
                    result_id=rid,
                    source=source,
                    start=start,
                    end=end,
                    text=text,
                    speaker=speaker,
                    language="en",
                    confidence=conf,
                )
            )
        s.add_all(
            [
                PersonLink(
                    id="lnk_1",
                    face_person_id=w.alice,
                    voice_person_id=w.voice,
                    confidence=0.87,
                    evidence={"media": [w.media_a]},
                    state="linked",
                ),
                PersonLink(
                    id="lnk_2",
                    face_person_id=w.bob,
                    voice_person_id=w.alice,
                    confidence=0.3,
                    evidence={},
                    state="rejected",
                ),
            ]
        )
    return w


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    db = Database(db_url)
    migrate.upgrade(db)
    try:
        yield _build(db)
    finally:
        db.dispose()


def _dossier(w: World, person: str) -> dict[str, Any]:
    with w.db.session() as s:
        return build_dossier(s, person, now=NOW)


def _section(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    facts = {f["id"]: f for f in doc["facts"]}
    return [facts[i] for i in doc["sections"][name]]


def test_every_fact_is_cited_and_ids_are_stable(world: World) -> None:
    doc = _dossier(world, world.alice)
    assert doc["schema"] == "aima.dossier/1"
    assert doc["generated_at"] == NOW.isoformat()
    assert [f["id"] for f in doc["facts"]] == [f"F{i}" for i in range(1, len(doc["facts"]) + 1)]
    listed = [i for ids in doc["sections"].values() for i in ids]
    assert sorted(listed) == sorted(f["id"] for f in doc["facts"])  # each fact in one section
    for fact in doc["facts"]:
        assert fact["statement"].strip() and fact["citations"], fact
        assert any(c["confidence"] is not None for c in fact["citations"]), fact
        for c in fact["citations"]:
            assert c["media_id"] in {world.media_a, world.media_b}
            assert c["media_name"] in {"interview.mp4", "street cam.mp4"}
            assert isinstance(c["start"], float) and c["start"] <= c["end"]
            assert c["analyzer"] in ANALYZERS and c["result_id"].startswith("res_")
    json.dumps(doc)  # JSON-ready as returned
    assert _dossier(world, world.alice) == doc  # deterministic


def test_person_summary_and_appearances(world: World) -> None:
    doc = _dossier(world, world.alice)
    assert doc["person"] == {
        "id": world.alice,
        "name": "Alice Example",
        "merged_ids": [world.alice_old],
    }
    s = doc["summary"]
    assert s["media_count"] == 2
    assert s["first_seen"] == {"media_id": world.media_a, "media_name": "interview.mp4", "t": 0.5}
    assert s["last_seen"] == {"media_id": world.media_b, "media_name": "street cam.mp4", "t": 12.0}
    assert (s["on_screen_s"], s["speaking_s"]) == (4.0, 5.0)
    assert (s["face_observations"], s["voice_observations"]) == (2, 1)

    a, b = _section(doc, "appearances")
    assert a["data"]["media_id"] == world.media_a
    assert (a["data"]["first_seen"], a["data"]["last_seen"]) == (0.5, 7.0)
    assert (a["data"]["on_screen_s"], a["data"]["speaking_s"]) == (2.0, 5.0)
    assert a["data"]["on_screen_spans"] == [[1.0, 3.0]]
    assert a["data"]["speaking_spans"] == [[0.5, 2.5], [4.0, 7.0]]
    assert {c["analyzer"] for c in a["citations"]} == {"faces", "speakers"}
    assert b["data"]["media_id"] == world.media_b  # seen under the merged person's id
    assert (b["data"]["first_seen"], b["data"]["last_seen"], b["data"]["on_screen_s"]) == (
        10.0,
        12.0,
        2.0,
    )
    assert b["data"]["speaking_s"] == 0.0


def test_faces_and_voice_samples(world: World) -> None:
    doc = _dossier(world, world.alice)
    faces = _section(doc, "representative_faces")
    assert [f["data"]["crop"] for f in faces] == ["a" * 64, "c" * 64]
    first = faces[0]["citations"][0]
    assert (first["start"], first["confidence"], first["analyzer"]) == (2.0, 0.95, "faces")
    samples = _section(doc, "voice_samples")
    assert [(f["data"]["start"], f["data"]["end"]) for f in samples] == [(4.0, 7.0), (0.5, 2.5)]
    assert samples[0]["citations"][0]["confidence"] == 0.85  # the turn's own confidence


def test_emotions_from_her_tracks_only_and_accepted_results_only(world: World) -> None:
    doc = _dossier(world, world.alice)
    (fact,) = _section(doc, "emotions")
    assert fact["data"]["detections"] == 3  # by box, by IoU, by face_index; not bob's, not t=5
    assert fact["data"]["distribution"] == {"happy": 0.8, "neutral": 0.2, "sad": 0.0}
    assert fact["data"]["top"] == "happy"
    (cite,) = fact["citations"]  # the unaccepted street-cam emotion result is ignored
    assert (cite["analyzer"], cite["result_id"], cite["start"], cite["end"]) == (
        "emotion",
        "res_ae",
        1.0,
        3.0,
    )
    assert any("Emotion not analysed for: street cam.mp4" in n for n in doc["notes"])

    bob = _dossier(world, world.bob)
    (bob_fact,) = _section(bob, "emotions")
    assert bob_fact["data"]["distribution"]["sad"] == 0.8


def test_said_text_seen_and_flags(world: World) -> None:
    doc = _dossier(world, world.alice)
    said = _section(doc, "said")
    assert [f["data"]["text"] for f in said] == ["Hello there.", "Nice weather today."]
    assert [c["analyzer"] for c in said[1]["citations"]] == ["transcribe", "speakers"]
    assert said[1]["citations"][0]["confidence"] is None  # not invented
    assert said[1]["citations"][1]["confidence"] == 0.85  # the S1 turn at 4.0-7.0

    seen = _section(doc, "text_seen")
    assert [f["data"]["text"] for f in seen] == ["CHANNEL 7", "BREAKING NEWS"]
    assert seen[1]["citations"][0] == {
        "media_id": world.media_a,
        "media_name": "interview.mp4",
        "start": 3.8,
        "end": 4.5,
        "analyzer": "ocr",
        "result_id": "res_ao",
        "confidence": 0.95,
        "observation_id": None,
    }

    (flag,) = _section(doc, "flags")
    assert (flag["data"]["media_id"], flag["data"]["start"], flag["data"]["end"]) == (
        world.media_a,
        2.5,
        3.5,
    )
    assert flag["data"]["labels"] == ["FEMALE_BREAST_EXPOSED"]
    assert flag["citations"][0]["analyzer"] == "nsfw" and flag["citations"][0]["confidence"] == 0.82
    assert any("restraint" in n.lower() for n in doc["notes"])

    bob = _dossier(world, world.bob)
    assert [f["data"]["text"] for f in _section(bob, "said")] == ["Hi Alice."]


def test_appears_with_and_voice_links(world: World) -> None:
    doc = _dossier(world, world.alice)
    company = _section(doc, "appears_with")
    got = [
        (f["data"]["person_id"], f["data"]["media_count"], f["data"]["overlap_s"]) for f in company
    ]
    # bob: [1,2] + [2.5,3] with her face/voice in the interview, never on the street cam
    assert got == [(world.bob, 1, 1.5), (world.carol, 1, 1.0)]
    assert company[0]["citations"][0]["media_id"] == world.media_a

    linked, rejected = _section(doc, "voice_links")
    assert (linked["data"]["state"], linked["data"]["confidence"]) == ("linked", 0.87)
    assert linked["data"]["other_person_id"] == world.voice
    assert [c["analyzer"] for c in linked["citations"]] == ["faces", "speakers"]
    assert (linked["citations"][0]["start"], linked["citations"][0]["end"]) == (1.0, 2.5)
    assert rejected["data"]["state"] == "rejected"
    assert rejected["data"]["other_person_id"] == world.bob
    assert "their voice and the face of Unknown person per_bob" in rejected["statement"]


def test_merged_person_is_followed(world: World) -> None:
    doc = _dossier(world, world.alice_old)
    assert doc["person"]["id"] == world.alice
    assert doc["person"]["merged_ids"] == [world.alice_old]
    assert doc == _dossier(world, world.alice)


def test_unknown_person_is_not_found(world: World) -> None:
    with world.db.session() as s, pytest.raises(NotFound, match="per_nobody"):
        build_dossier(s, "per_nobody")


def test_markdown(world: World) -> None:
    md = dossier_markdown(_dossier(world, world.alice))
    assert md.startswith("# Alice Example\n")
    assert "[F1: interview.mp4 00:00:01.0–00:00:03.0 · faces · 0.92]" in md
    assert "· speakers ·" in md and "· nsfw · 0.82]" in md
    for title in ("## Summary", "## Appearances", "## What they said", "## Sources", "## Notes"):
        assert title in md
    assert "“Hello there.”" in md and world.media_b in md
    assert "{" not in md and "}" not in md

    bob = dossier_markdown(_dossier(world, world.bob))
    assert bob.startswith(f"# Unknown person {world.bob}\n")


def test_timestamp_format() -> None:
    assert timestamp(62.5) == "00:01:02.5"
    assert timestamp(3723.04) == "01:02:03.0"
    assert timestamp(0) == "00:00:00.0"
