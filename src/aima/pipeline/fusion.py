"""Fuse the accepted results of every analyzer into one timeline per media.

Fusion knows no analyzer: each stored result is read through its typed model
(:mod:`aima.results`) and asked, through one hook (``timeline()``), which tracks and
summary figures it adds. Results see each other through the
:class:`~aima.results.TimelineContext` (the transcript attributes words to the
speakers' turns; face tracks carry the emotions measured on their detections).

Visual things last until the next analysed keyframe: keyframes are kept at shot
changes and whenever the picture changed within the maximum interval, so the frames
in between were near-duplicates of the last kept one (``seen_until`` keeps the last
keyframe where a thing was actually observed).

Confidence: every analyzer reports per-detection confidences in [0, 1] calibrated
inside that analyzer; fusion does not rescale them. Scores of different analyzers are
comparable in range, not in meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aima.results import AnalyzerResult, TimelineContext, load_result

#: lanes every timeline has (possibly empty), so clients need not test for them
CORE_TRACKS = ("faces", "speakers", "transcript", "speech", "ocr", "bodies", "objects", "nsfw")
CORE_SUMMARY: dict[str, Any] = {
    "face_tracks": 0,
    "speakers": 0,
    "speech_s": 0.0,
    "transcript_segments": 0,
    "words": 0,
    "ocr_lines": 0,
    "body_tracks": 0,
    "objects": [],
    "nsfw_max": None,
    "nsfw_spans": 0,
}


def typed_results(results: Mapping[str, Mapping[str, Any]]) -> dict[str, AnalyzerResult]:
    """Stored result data (analyzer name -> row data) read through each analyzer's model."""
    return {name: load_result(name, data) for name, data in results.items()}


def keyframe_grid(results: Mapping[str, AnalyzerResult]) -> list[float]:
    """Every analysed keyframe time known from any frame analyzer's result."""
    times: set[float] = set()
    for result in results.values():
        times.update(result.keyframe_times())
    return sorted(times)


def fuse(
    media: dict[str, Any], results: Mapping[str, AnalyzerResult], sources: dict[str, Any]
) -> dict[str, Any]:
    """One timeline from typed results (analyzer name -> result)."""
    ctx = TimelineContext(
        duration_s=media.get("duration_s"), keyframes=keyframe_grid(results), results=results
    )
    tracks: dict[str, list[Any]] = {name: [] for name in CORE_TRACKS}
    summary: dict[str, Any] = dict(CORE_SUMMARY)
    notes: list[str] = []
    for name in sorted(results):
        contribution = results[name].timeline(ctx)
        for lane, items in contribution.tracks.items():
            tracks.setdefault(lane, []).extend(items)
        summary.update(contribution.summary)
        notes.extend(contribution.notes)
    summary["analyzers"] = sorted(results)
    return {
        "media": media,
        "summary": summary,
        "notes": notes,
        "tracks": {lane: [_plain(item) for item in items] for lane, items in tracks.items()},
        "sources": sources,
    }


def build_timeline(
    media: dict[str, Any], results: Mapping[str, Mapping[str, Any]], sources: dict[str, Any]
) -> dict[str, Any]:
    """One timeline for one media from its accepted results' stored data."""
    return fuse(media, typed_results(results), sources)


def _plain(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    return dump(mode="json") if dump is not None else item
