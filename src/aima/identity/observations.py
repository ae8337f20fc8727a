"""Face tracks and speakers of one media become observations: one embedding each.

A face *track* (one person through consecutive keyframes of a shot) is one
observation, not each frame: its embedding is the analyzer's re-normalised mean of
the track's usable detections, so a person's appearance in a video uses all their
frames and weighs as much as a photo. A *speaker* of one media (all their turns) is
one voice observation.

``usable`` decides whether an observation may found a new person (it may always join
one): faces need the analyzer's usable flag plus size, sharpness and pose of the best
detection above the settings' minimums; voices need enough speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aima.core.settings import IdentitySettings


@dataclass(slots=True)
class Draft:
    kind: str
    ref: str
    model_id: str
    embedding: list[float]
    start: float
    end: float
    duration_s: float
    count: int
    spans: list[list[float]]
    usable: bool
    confidence: float
    quality: dict[str, Any] = field(default_factory=dict)
    crop: str | None = None


def _runs(times: list[float], gap_s: float) -> list[list[float]]:
    """Contiguous presence: detection times closer than ``gap_s`` belong to one run."""
    runs: list[list[float]] = []
    for t in sorted(times):
        if runs and t - runs[-1][1] <= gap_s:
            runs[-1][1] = t
        else:
            runs.append([t, t])
    return [[round(a, 3), round(b, 3)] for a, b in runs]


def face_drafts(
    data: dict[str, Any], settings: IdentitySettings, *, max_gap_s: float = 2.5
) -> list[Draft]:
    """One draft per face track with an embedding."""
    faces = data.get("faces", [])
    model_id = str(data.get("model_id", "unknown"))
    drafts = []
    for track in data.get("tracks", []):
        embedding = track.get("embedding")
        if not embedding:
            continue
        members = [faces[i] for i in track.get("detections", []) if 0 <= i < len(faces)]
        best = faces[track["best"]] if 0 <= track.get("best", -1) < len(faces) else None
        quality = dict((best or {}).get("quality") or {})
        good = (
            bool(track.get("usable"))
            and quality.get("size_px", 0) >= settings.face_min_size_px
            and quality.get("blur", 0) >= settings.face_min_blur
            and quality.get("frontal", 0) >= settings.face_min_frontal
        )
        spans = _runs([float(f["t"]) for f in members], max_gap_s) or [
            [float(track["start"]), float(track["end"])]
        ]
        drafts.append(
            Draft(
                kind="face",
                ref=f"track:{track['id']}",
                model_id=model_id,
                embedding=[float(v) for v in embedding],
                start=float(track["start"]),
                end=float(track["end"]),
                duration_s=round(sum(b - a for a, b in spans), 3),
                count=len(members) or 1,
                spans=spans,
                usable=good,
                confidence=float(track.get("confidence", 0.0)),
                quality=quality,
                crop=track.get("crop"),
            )
        )
    return drafts


def voice_drafts(data: dict[str, Any], settings: IdentitySettings) -> list[Draft]:
    """One draft per speaker with an embedding; its turns are its spans."""
    model_id = str(data.get("model", data.get("model_id", "unknown")))
    turns = data.get("turns", [])
    drafts = []
    for speaker in data.get("speakers", []):
        embedding = speaker.get("embedding")
        if not embedding or not any(embedding):
            continue
        mine = [t for t in turns if str(t["speaker"]) == str(speaker["id"])]
        spans = [[round(float(t["start"]), 3), round(float(t["end"]), 3)] for t in mine]
        total = float(speaker.get("total_s") or sum(b - a for a, b in spans))
        confidences = [float(t.get("confidence", 0.0)) for t in mine]
        drafts.append(
            Draft(
                kind="voice",
                ref=f"speaker:{speaker['id']}",
                model_id=model_id,
                embedding=[float(v) for v in embedding],
                start=spans[0][0] if spans else 0.0,
                end=spans[-1][1] if spans else total,
                duration_s=round(total, 3),
                count=int(speaker.get("windows", len(mine))),
                spans=spans,
                usable=total >= settings.voice_min_speech_s,
                confidence=round(sum(confidences) / len(confidences), 4) if confidences else 0.0,
                quality={"speech_s": round(total, 3)},
            )
        )
    return drafts
