"""GET /api/v1/media/{id}/export?format=json|csv|vtt|srt|pdf: the timeline, one CSV row per item,
the transcript, a PDF report naming the people; audited; other users' media stay hidden."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import zlib
from typing import Any

import pytest
from sqlalchemy import select

from aima.core.ids import new_id
from aima.store.models import (
    AnalysisResult,
    AuditEvent,
    Job,
    Media,
    MediaGrant,
    Observation,
    Person,
)
from tests.api.helpers import Api

FACE_NAME = "Ada Lovelace"
VOICE_NAME = "Grace Hopper"


def _result(media_id: str, job_id: str, analyzer: str, data: dict[str, Any]) -> AnalysisResult:
    return AnalysisResult(
        id=new_id("res"),
        media_id=media_id,
        job_id=job_id,
        analyzer=analyzer,
        analyzer_version="1",
        model_id="test",
        config={},
        config_hash="0" * 64,
        data={"analyzer": analyzer, "schema_version": 1, **data},
        accepted=True,
    )


def _seed(api: Api, owner_id: str) -> str:
    """A 10 s video: one face track (a named person), two speakers (S1 named), OCR, objects, nsfw."""
    words = [
        {"start": 0.5, "end": 0.9, "word": "Good", "confidence": 0.9},
        {"start": 1.0, "end": 1.6, "word": "morning", "confidence": 0.8},
    ]
    faces = {
        "faces": [
            {"t": 1.0, "box": [0.1, 0.1, 0.2, 0.3], "confidence": 0.95, "track": 0},
            {"t": 3.0, "box": [0.1, 0.1, 0.2, 0.3], "confidence": 0.93, "track": 0},
        ],
        "tracks": [{"id": 0, "start": 1.0, "end": 3.0, "detections": [0, 1], "best": 0}],
        "count": 1,
        "keyframes": [1.0, 3.0, 5.0],
    }
    with api.runtime.db.session() as s:
        media = Media(
            id=new_id("med"),
            sha256=hashlib.sha256(new_id("x").encode()).hexdigest(),
            size=1000,
            kind="video",
            format="mp4",
            mime="video/mp4",
            original_name="Meeting.mp4",
            info={"duration_s": 10.0, "width": 640, "height": 360},
            uploaded_by=owner_id,
        )
        s.add(media)
        s.flush()
        s.add(MediaGrant(media_id=media.id, user_id=owner_id))
        job = Job(id=new_id("job"), media_id=media.id, analyzers=["faces"], state="succeeded")
        s.add(job)
        s.flush()
        face_result = _result(media.id, job.id, "faces", faces)
        speakers = _result(
            media.id,
            job.id,
            "speakers",
            {
                "speakers": [{"id": "S1", "total_s": 2.0}, {"id": "S2", "total_s": 1.0}],
                "turns": [
                    {"start": 0.4, "end": 2.4, "speaker": "S1", "confidence": 0.9},
                    {"start": 5.0, "end": 6.0, "speaker": "S2", "confidence": 0.8},
                ],
            },
        )
        transcribe = _result(
            media.id,
            job.id,
            "transcribe",
            {
                "segments": [
                    {"start": 0.5, "end": 1.6, "text": "Good morning", "words": words},
                    {"start": 5.0, "end": 6.0, "text": "Thank you, too.", "words": []},
                ],
                "text": "Good morning Thank you, too.",
                "engine": "test",
            },
        )
        ocr = _result(
            media.id,
            job.id,
            "ocr",
            {
                "lines": [{"start": 2.0, "end": 4.0, "text": "WELCOME TO AIMA", "confidence": 0.9}],
                "text": "WELCOME TO AIMA",
            },
        )
        nsfw = _result(
            media.id,
            job.id,
            "nsfw",
            {"flagged": True, "spans": [{"start": 7.0, "end": 8.0, "score": 0.9}]},
        )
        s.add_all([face_result, speakers, transcribe, ocr, nsfw])
        s.flush()
        ada, grace = (
            Person(id=new_id("per"), name=FACE_NAME),
            Person(id=new_id("per"), name=VOICE_NAME),
        )
        s.add_all([ada, grace])
        s.flush()
        for kind, result, ref, person in (
            ("face", face_result, "track:0", ada),
            ("voice", speakers, "speaker:S1", grace),
        ):
            s.add(
                Observation(
                    kind=kind,
                    media_id=media.id,
                    result_id=result.id,
                    collection=f"{kind}s-test",
                    model_id="test",
                    ref=ref,
                    start=0.0,
                    end=1.0,
                    embedding=b"\0" * 8,
                    dim=2,
                    person_id=person.id,
                )
            )
        return media.id


def _get(api: Api, who: Any, media_id: str, fmt: str) -> Any:
    return api.client.get(
        f"/api/v1/media/{media_id}/export",
        params={"format": fmt},
        headers=api.case_headers(who),  # exports run under a case (purpose binding)
    )


def _pdf_text(pdf: bytes) -> str:
    """The text shown on the PDF's pages: reportlab's content streams (ASCII85 over Flate)."""
    shown: list[str] = []
    for raw in re.findall(rb"stream\r?\n(.*?)\s*endstream", pdf, re.S):
        try:
            content = zlib.decompress(base64.a85decode(raw.strip().removesuffix(b"~>")))
        except (ValueError, zlib.error):
            content = raw
        shown += [m.decode("latin-1") for m in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", content)]
    return " ".join(shown)


def test_every_format_downloads_with_person_names(api: Api) -> None:
    who = api.user("analyst")
    media_id = _seed(api, who.user_id)

    timeline = _get(api, who, media_id, "json")
    assert timeline.status_code == 200, timeline.text
    assert timeline.headers["content-disposition"] == f'attachment; filename="{media_id}.json"'
    tracks = timeline.json()["tracks"]
    assert tracks["faces"][0]["person_name"] == FACE_NAME  # face tracks carry their person
    assert tracks["transcript"][0]["person_name"] == VOICE_NAME
    # the media view reads the same names from the timeline itself
    view = api.client.get(f"/api/v1/media/{media_id}/timeline", headers=who.headers).json()
    assert view["tracks"]["faces"][0]["person_name"] == FACE_NAME

    table = _get(api, who, media_id, "csv")
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert list(rows[0]) == ["lane", "start", "end", "label", "speaker", "person", "confidence"]
    by_lane: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_lane.setdefault(row["lane"], []).append(row)
    assert set(by_lane) >= {"faces", "speakers", "transcript", "ocr", "nsfw"}
    assert by_lane["faces"][0]["person"] == FACE_NAME
    said = by_lane["transcript"][0]
    assert (said["label"], said["speaker"], said["person"]) == ("Good morning", "S1", VOICE_NAME)
    assert float(said["start"]) == 0.5 and float(said["end"]) == 1.6
    assert by_lane["ocr"][0]["label"] == "WELCOME TO AIMA"
    assert [float(r["start"]) for r in rows] == sorted(float(r["start"]) for r in rows)

    vtt = _get(api, who, media_id, "vtt")
    lines = vtt.text.splitlines()
    assert lines[0] == "WEBVTT"
    cues = [line for line in lines if "-->" in line]
    assert cues[0] == "00:00:00.500 --> 00:00:01.600"
    assert f"<v {VOICE_NAME}>Good morning" in vtt.text

    srt = _get(api, who, media_id, "srt")
    blocks = [b.splitlines() for b in srt.text.strip().split("\n\n")]
    assert [b[0] for b in blocks] == ["1", "2"]
    assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", blocks[0][1])
    assert VOICE_NAME in blocks[0][2]

    pdf = _get(api, who, media_id, "pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = _pdf_text(pdf.content)
    for expected in (FACE_NAME, VOICE_NAME, "Meeting.mp4", "WELCOME TO AIMA", "Good morning"):
        assert expected in text, expected

    with api.runtime.db.session() as s:
        audited = s.execute(
            select(AuditEvent).where(AuditEvent.action == "media.export").order_by(AuditEvent.id)
        ).scalars()
        formats = [(e.actor, e.object_id, e.details["format"]) for e in audited]
    assert [f for _, _, f in formats] == ["json", "csv", "vtt", "srt", "pdf"]
    assert {(a, o) for a, o, _ in formats} == {(f"api:{who.username}", media_id)}


def test_exports_are_hidden_from_others_and_unknown_formats_are_422(api: Api) -> None:
    owner, stranger, viewer = api.user("analyst"), api.user("uploader"), api.user("viewer")
    media_id = _seed(api, owner.user_id)
    assert _get(api, stranger, media_id, "json").status_code == 404
    assert _get(api, owner, media_id, "docx").status_code == 422
    assert _get(api, owner, "med_00000000000000000000000000000000", "csv").status_code == 404
    assert _get(api, viewer, media_id, "csv").status_code in (200, 404)  # per the media grants


@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_an_empty_timeline_still_exports(api: Api, fmt: str) -> None:
    who = api.user("analyst")
    with api.runtime.db.session() as s:
        media = Media(
            id=new_id("med"),
            sha256=hashlib.sha256(new_id("x").encode()).hexdigest(),
            size=10,
            kind="image",
            format="jpeg",
            mime="image/jpeg",
            original_name="Empty.jpg",
            info={"width": 10, "height": 10},
            uploaded_by=who.user_id,
        )
        s.add(media)
        s.flush()
        s.add(MediaGrant(media_id=media.id, user_id=who.user_id))
        media_id = media.id
    r = _get(api, who, media_id, fmt)
    assert r.status_code == 200
    if fmt == "csv":
        assert r.text.strip() == "lane,start,end,label,speaker,person,confidence"
    else:
        assert r.content.startswith(b"%PDF") and "None found." in _pdf_text(r.content)
