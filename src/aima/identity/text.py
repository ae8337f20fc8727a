"""Accepted transcript and OCR results as searchable text segments (pure functions).

Each segment dict has ``start``, ``end``, ``text``, ``speaker``, ``language`` and
``confidence``: what :func:`aima.store.fulltext.replace_segments` stores, so a
search hit can jump to the media at ``start`` and say who was speaking.

Speaker attribution is done here rather than imported from ``aima.pipeline.fusion``
because ``identity/`` and ``pipeline/`` sit on the same layer and must not import
each other. The rule is the same: a word belongs to the speaker whose turns overlap
it most, a segment to the speaker most of its words belong to.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

Segment = dict[str, Any]


def _overlaps(turns: list[dict[str, Any]], start: float, end: float) -> dict[str, float]:
    """Seconds of [start, end] covered by each speaker's turns."""
    covered: dict[str, float] = defaultdict(float)
    for turn in turns:
        overlap = min(end, float(turn["end"])) - max(start, float(turn["start"]))
        if overlap > 0:
            covered[str(turn["speaker"])] += overlap
    return covered


def _speaker(turns: list[dict[str, Any]], seg: dict[str, Any]) -> str | None:
    """Majority speaker over the segment's words; the segment's own span if no word has one."""
    votes: Counter[str] = Counter()
    for word in seg.get("words") or ():
        covered = _overlaps(turns, float(word["start"]), float(word["end"]))
        if covered:
            votes[max(covered, key=lambda who: covered[who])] += 1
    if votes:
        return votes.most_common(1)[0][0]  # ties: the speaker heard first
    covered = _overlaps(turns, float(seg["start"]), float(seg["end"]))
    return max(covered, key=lambda who: covered[who]) if covered else None


def transcript_segments(
    transcribe: dict[str, Any], speakers: dict[str, Any] | None
) -> list[Segment]:
    """One segment per transcript segment with text, attributed to a speaker when turns exist."""
    turns = (speakers or {}).get("turns") or []
    language = transcribe.get("language")
    out: list[Segment] = []
    for seg in transcribe.get("segments") or ():
        text = str(seg.get("text") or "").strip()
        if not text:
            continue
        out.append(
            {
                "start": float(seg["start"]),
                "end": float(seg["end"]),
                "text": text,
                "speaker": _speaker(turns, seg) if turns else None,
                "language": seg.get("language") or language,
                "confidence": seg.get("confidence"),
            }
        )
    return out


def ocr_segments(ocr: dict[str, Any]) -> list[Segment]:
    """One segment per OCR line span (the text shown from ``start`` to ``end``)."""
    out: list[Segment] = []
    for line in ocr.get("lines") or ():
        text = str(line.get("text") or "").strip()
        if not text:
            continue
        out.append(
            {
                "start": float(line["start"]),
                "end": float(line["end"]),
                "text": text,
                "speaker": None,
                "language": line.get("language"),
                "confidence": line.get("confidence"),
            }
        )
    return out
