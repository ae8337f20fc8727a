"""Accepted transcript / OCR results as text segments (hand-built result dicts)."""

from __future__ import annotations

from typing import Any

from aima.identity.text import ocr_segments as _ocr_segments
from aima.identity.text import transcript_segments as _transcript_segments
from aima.results import OcrResult, SpeakersResult, TranscribeResult


def transcript_segments(
    transcribe: dict[str, Any], speakers: dict[str, Any] | None
) -> list[dict[str, Any]]:
    typed = SpeakersResult.build(speakers) if speakers is not None else None
    return _transcript_segments(TranscribeResult.build(transcribe), typed)


def ocr_segments(ocr: dict[str, Any]) -> list[dict[str, Any]]:
    return _ocr_segments(OcrResult.build(ocr))


def word(start: float, end: float, text: str) -> dict[str, Any]:
    return {"start": start, "end": end, "word": text, "confidence": 0.9}


TRANSCRIBE: dict[str, Any] = {
    "language": "de",
    "segments": [
        {  # words 1-2 inside S1's turn, word 3 inside S2's: S1 has the majority
            "start": 0.0,
            "end": 3.0,
            "text": " Guten Tag zusammen ",
            "confidence": 0.8,
            "words": [word(0.0, 0.8, "Guten"), word(0.9, 1.5, "Tag"), word(2.2, 3.0, "zusammen")],
        },
        {  # one word straddling both turns: it goes to the one covering more of it
            "start": 1.8,
            "end": 2.4,
            "text": "ja",
            "confidence": 0.7,
            "words": [word(1.8, 2.4, "ja")],
        },
        {  # no words: the segment span decides
            "start": 5.0,
            "end": 6.0,
            "text": "ohne Wörter",
            "confidence": 0.6,
            "words": [],
            "language": "en",
        },
        {"start": 6.0, "end": 7.0, "text": "   ", "confidence": 0.1, "words": []},
        {  # outside every turn
            "start": 20.0,
            "end": 21.0,
            "text": "Stille danach",
            "confidence": 0.5,
            "words": [word(20.0, 21.0, "Stille")],
        },
    ],
}
SPEAKERS: dict[str, Any] = {
    "speakers": [{"id": "S1"}, {"id": "S2"}],
    "turns": [
        {"start": 0.0, "end": 2.0, "speaker": "S1", "confidence": 0.9},
        {"start": 2.0, "end": 4.0, "speaker": "S2", "confidence": 0.9},
        {"start": 4.5, "end": 5.2, "speaker": "S1", "confidence": 0.9},
        {"start": 5.2, "end": 8.0, "speaker": "S2", "confidence": 0.9},
    ],
}


def test_transcript_segments_attribute_speakers_by_overlap() -> None:
    segs = transcript_segments(TRANSCRIBE, SPEAKERS)
    assert [s["text"] for s in segs] == ["Guten Tag zusammen", "ja", "ohne Wörter", "Stille danach"]
    assert [s["speaker"] for s in segs] == ["S1", "S2", "S2", None]
    first = segs[0]
    assert first == {
        "start": 0.0,
        "end": 3.0,
        "text": "Guten Tag zusammen",
        "speaker": "S1",
        "language": "de",
        "confidence": 0.8,
    }
    assert segs[2]["language"] == "en"  # a segment's own language wins over the result's


def test_transcript_segments_without_speakers_or_segments() -> None:
    segs = transcript_segments(TRANSCRIBE, None)
    assert len(segs) == 4 and {s["speaker"] for s in segs} == {None}
    assert transcript_segments(TRANSCRIBE, {"turns": []})[0]["speaker"] is None
    assert transcript_segments({"segments": [], "language": None}, SPEAKERS) == []
    assert transcript_segments({}, None) == []


def test_word_majority_beats_segment_overlap() -> None:
    # S2 covers most of the segment's time, but two of its three words are S1's.
    data = {
        "language": "de",
        "segments": [
            {
                "start": 1.0,
                "end": 4.0,
                "text": "a b c",
                "confidence": 0.9,
                "words": [word(1.0, 1.4, "a"), word(1.5, 1.9, "b"), word(2.0, 4.0, "c")],
            }
        ],
    }
    assert transcript_segments(data, SPEAKERS)[0]["speaker"] == "S1"


def test_ocr_segments_one_per_line_keeping_language_and_confidence() -> None:
    ocr = {
        "lines": [
            {
                "text": " EXIT ",
                "start": 1.0,
                "end": 4.5,
                "box": [0.1, 0.1, 0.2, 0.05],
                "confidence": 0.93,
                "language": "en",
                "engine": "rapidocr",
            },
            {"text": "", "start": 2.0, "end": 3.0, "confidence": 0.2, "language": None},
            {"text": "   ", "start": 2.0, "end": 3.0, "confidence": 0.2, "language": None},
            {"text": "Ausgang", "start": 5, "end": 6, "confidence": 0.8, "language": "de"},
        ],
        "text": "EXIT\nAusgang",
    }
    assert ocr_segments(ocr) == [
        {
            "start": 1.0,
            "end": 4.5,
            "text": "EXIT",
            "speaker": None,
            "language": "en",
            "confidence": 0.93,
        },
        {
            "start": 5.0,
            "end": 6.0,
            "text": "Ausgang",
            "speaker": None,
            "language": "de",
            "confidence": 0.8,
        },
    ]
    assert ocr_segments({"lines": []}) == []
    assert ocr_segments({}) == []
