"""Accepted transcript, OCR, object and scene results as searchable text segments (pure functions).

Each segment dict has ``start``, ``end``, ``text``, ``speaker``, ``language`` and
``confidence``: what :func:`aima.store.fulltext.replace_segments` stores, so a
search hit can jump to the media at ``start`` and say who was speaking.

Speaker attribution is the transcript's own rule
(:meth:`aima.results.TranscribeResult.lane`), the same one the timeline draws: a word
belongs to the speaker whose turn overlaps it most, a segment to the speaker most of
its words belong to.
"""

from __future__ import annotations

from typing import Any

from aima.results import BodiesResult, OcrResult, ScenesResult, SpeakersResult, TranscribeResult

Segment = dict[str, Any]


def transcript_segments(
    transcribe: TranscribeResult, speakers: SpeakersResult | None
) -> list[Segment]:
    """One segment per transcript segment with text, attributed to a speaker when turns exist."""
    out: list[Segment] = []
    lane = transcribe.lane(speakers if speakers and speakers.turns else None)
    for source, seg in zip(transcribe.segments, lane, strict=True):
        text = seg.text.strip()
        if not text:
            continue
        out.append(
            {
                "start": seg.start,
                "end": seg.end,
                "text": text,
                "speaker": seg.speaker,
                "language": (source.model_extra or {}).get("language") or transcribe.language,
                "confidence": seg.confidence,
            }
        )
    return out


def ocr_segments(ocr: OcrResult) -> list[Segment]:
    """One segment per OCR line span (the text shown from ``start`` to ``end``)."""
    return [
        {
            "start": line.start,
            "end": line.end,
            "text": line.text.strip(),
            "speaker": None,
            "language": line.language,
            "confidence": line.confidence,
        }
        for line in ocr.lines
        if line.text.strip()
    ]


def object_segments(bodies: BodiesResult) -> list[Segment]:
    """One segment per object span of the ``bodies`` result: its COCO label as the text.

    Searching "dog" then jumps to when a dog was on screen, like an OCR line does for
    shown text. Labels are English (the COCO class names), so ``language`` is ``en``.
    """
    return [
        {
            "start": span.start,
            "end": span.end,
            "text": span.label.strip(),
            "speaker": None,
            "language": "en",
            "confidence": span.confidence,
        }
        for span in bodies.object_spans
        if span.label.strip()
    ]


def scene_segments(scenes: ScenesResult) -> tuple[list[Segment], list[Segment]]:
    """Per described keyframe: its description (source ``scene``) and each object it names
    (source ``object``), from ``t`` to ``end``. The prompts ask for English answers."""
    described: list[Segment] = []
    named: list[Segment] = []
    for frame in scenes.frames:
        span = {"start": frame.t, "end": max(frame.end, frame.t), "speaker": None, "language": "en"}
        if frame.description.strip():
            described.append({**span, "text": frame.description.strip(), "confidence": None})
        for name in dict.fromkeys(o.strip() for o in frame.objects if o.strip()):
            named.append({**span, "text": name, "confidence": None})
    return described, named
