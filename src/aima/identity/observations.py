"""Face tracks and speakers of one media become observations: one embedding each.

A face *track* (one person through consecutive keyframes of a shot) is one
observation, not each frame: its embedding is the analyzer's re-normalised mean of
the track's usable detections, so a person's appearance in a video uses all their
frames and weighs as much as a photo. A *speaker* of one media (all their turns) is
one voice observation.

A face track's *presence* is real screen time, not the instants it was detected at:
keyframes are kept at shot changes and whenever the picture changes (near-duplicates
are skipped), so a face seen at keyframe t is on screen until the next analysed
keyframe (or the end of the media). The analysed keyframes' times come, best first,
from the faces result's ``keyframes`` list (frame index -> time, when the analyzer
provides it), from another frame analyzer's ``frames`` list for the same media (nsfw,
bodies: one decode, one keyframe set), and otherwise from the faces result itself:
detections carry their frame index, so the frame after a track is known exactly when
someone is detected in it, is the media end when the track reaches the last analysed
frame, and is interpolated between the nearest known frames otherwise. The draft's
``spans`` are this presence (a missed keyframe inside a track does not break it; a
gap longer than ``max_gap_s`` between detections does), and ``quality["keyframes"]``
lists every keyframe time the face was detected at.

``usable`` decides whether an observation may found a new person (it may always join
one): faces need the analyzer's usable flag plus size, sharpness and pose of the best
detection above the settings' minimums; voices need enough speech.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aima.core.settings import IdentitySettings
from aima.results import AnalyzerResult, FacesResult, SpeakersResult
from aima.results.vision import FaceDetection, UsableFace


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


def keyframe_grid(results: Iterable[AnalyzerResult]) -> list[float]:
    """Analysed keyframe times from results that list their frames (nsfw, bodies)."""
    times: set[float] = set()
    for result in results:
        times.update(result.keyframe_times())
    return sorted(times)


@dataclass(slots=True)
class Frames:
    """What is known about the analysed keyframes of one media: index -> time, and the end."""

    known: dict[int, float]
    count: int
    grid: list[float]
    duration: float | None

    @classmethod
    def of(
        cls, faces: FacesResult, grid: Sequence[float] = (), duration: float | None = None
    ) -> Frames:
        listed = faces.keyframes
        known = dict(enumerate(listed)) if listed else {f.frame: f.t for f in faces.faces}
        n = faces.frames or (max(known) + 1 if known else 0)
        if len(grid) == n and n and not listed:
            known = {i: float(t) for i, t in enumerate(grid)}  # the same decode's keyframes
        return cls(known, n, sorted(grid), duration)

    def after(self, index: int, t: float) -> float:
        """When the picture shown at frame ``index`` (time ``t``) is next known to change."""
        nxt = self.known.get(index + 1)
        if nxt is not None:
            return nxt
        if self.grid:
            later = [g for g in self.grid if g > t + 1e-6]
            if later:
                return later[0]
            return max(t, self.duration) if self.duration is not None else t
        if index + 1 >= self.count:
            return max(t, self.duration) if self.duration is not None else t
        # unknown frame between known ones: spread the unknown frames evenly up to the
        # next known frame (or the end of the media, frame number ``count``)
        anchors = [i for i in self.known if i > index]
        if anchors:
            j = min(anchors)
            t_next = self.known[j]
        elif self.duration is not None:
            j, t_next = self.count, self.duration
        else:
            return t
        return t + (t_next - t) / (j - index)


def presence(members: list[FaceDetection], frames: Frames, max_gap_s: float) -> list[list[float]]:
    """On-screen spans of one track: each detection lasts until the next analysed keyframe."""
    spans: list[list[float]] = []
    for f in sorted(members, key=lambda f: f.t):
        t = f.t
        end = frames.after(f.frame, t)
        if spans and t - spans[-1][1] <= max_gap_s:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([t, end])
    return [[round(a, 3), round(b, 3)] for a, b in spans]


def face_drafts(
    result: FacesResult,
    settings: IdentitySettings,
    *,
    grid: Sequence[float] = (),
    duration: float | None = None,
    max_gap_s: float = 2.5,
) -> list[Draft]:
    """One draft per face track with an embedding, spanning the track's real presence.

    ``grid``: analysed keyframe times of this media from other frame analyzers (may be
    empty); ``duration``: the media's length (None for photos).
    """
    faces = result.faces
    frames = Frames.of(result, grid, duration)
    usable = UsableFace(
        settings.face_min_size_px, settings.face_min_blur, settings.face_min_frontal
    )
    drafts = []
    for track in result.tracks:
        if not track.embedding:
            continue
        members = [faces[i] for i in track.detections if 0 <= i < len(faces)]
        best = faces[track.best] if 0 <= track.best < len(faces) else None
        quality = best.quality.model_dump() if best is not None else {}
        good = track.usable and usable.accepts(quality)
        spans = presence(members, frames, max_gap_s) or [[track.start, track.end]]
        quality["keyframes"] = sorted({round(f.t, 3) for f in members})
        drafts.append(
            Draft(
                kind="face",
                ref=f"track:{track.id}",
                model_id=result.model_id,
                embedding=[float(v) for v in track.embedding],
                start=spans[0][0],
                end=spans[-1][1],
                duration_s=round(sum(b - a for a, b in spans), 3),
                count=len(members) or 1,
                spans=spans,
                usable=good,
                confidence=track.confidence,
                quality=quality,
                crop=track.crop,
            )
        )
    return drafts


def voice_drafts(result: SpeakersResult, settings: IdentitySettings) -> list[Draft]:
    """One draft per speaker with an embedding; its turns are its spans."""
    drafts = []
    for speaker in result.speakers:
        if not speaker.embedding or not any(speaker.embedding):
            continue
        mine = [t for t in result.turns if t.speaker == speaker.id]
        spans = [[round(t.start, 3), round(t.end, 3)] for t in mine]
        total = speaker.total_s or sum(b - a for a, b in spans)
        confidences = [t.confidence for t in mine]
        drafts.append(
            Draft(
                kind="voice",
                ref=f"speaker:{speaker.id}",
                model_id=result.model,
                embedding=[float(v) for v in speaker.embedding],
                start=spans[0][0] if spans else 0.0,
                end=spans[-1][1] if spans else total,
                duration_s=round(total, 3),
                count=speaker.windows or len(mine),
                spans=spans,
                usable=total >= settings.voice_min_speech_s,
                confidence=round(sum(confidences) / len(confidences), 4) if confidences else 0.0,
                quality={"speech_s": round(total, 3)},
            )
        )
    return drafts
