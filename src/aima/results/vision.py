"""Result models of the frame analyzers: faces, emotion, bodies (+ objects), nsfw, ocr, thumbnails.

Boxes are ``[x, y, w, h]`` normalised to the frame (0..1). Times are seconds from
the media start; an image has every detection at ``t = 0``. Confidences are in
[0, 1] and calibrated inside each analyzer (each analyzer module documents how).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field

from aima.results.base import AnalyzerResult, Contribution, Item, Span, TimelineContext

Box = list[float]


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``[x, y, w, h]`` boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


# ---------------------------------------------------------------------------- faces


class FaceQuality(Item):
    model_config = ConfigDict(extra="allow")

    size_px: float = 0.0
    blur: float = 0.0
    frontal: float = 0.0


class FaceDetection(Item):
    """One face on one keyframe."""

    model_config = ConfigDict(extra="allow")

    t: float
    shot: int = 0
    frame: int = 0
    face_index: int = 0
    box: Box
    confidence: float = Field(ge=0, le=1)
    score: float | None = None
    landmarks: list[list[float]] = Field(default_factory=list)
    quality: FaceQuality = Field(default_factory=FaceQuality)
    usable: bool = False
    embedding: list[float] | None = None
    crop: str | None = None
    track: int | None = None


class FaceTrack(Span):
    """One person through consecutive keyframes of a shot."""

    model_config = ConfigDict(extra="allow")

    id: int
    shot: int = 0
    detections: list[int]
    best: int
    crop: str | None = None
    embedding: list[float] | None = None
    usable: bool = False
    confidence: float = 0.0


class FaceLaneItem(Span):
    id: str
    person_id: str | None = None
    person_name: str | None = None
    person_named: bool = False
    seen_until: float
    confidence: float
    detections: int
    crop: str | None
    emotions: dict[str, float]
    top_emotion: str | None


class FacesResult(AnalyzerResult):
    analyzer: Literal["faces"] = "faces"
    faces: list[FaceDetection] = Field(default_factory=list)
    tracks: list[FaceTrack] = Field(default_factory=list)
    count: int = 0
    frames: int = 0
    keyframes: list[float] = Field(
        default_factory=list, description="every analysed keyframe time in frame order"
    )
    model_id: str = "unknown"
    embedding_dim: int | None = None
    match_distance: float | None = None

    def keyframe_times(self) -> list[float]:
        return self.keyframes or sorted({f.t for f in self.faces})

    def timeline(self, ctx: TimelineContext) -> Contribution:
        emotion = ctx.get(EmotionResult)
        by_detection: dict[int, dict[str, float]] = {}
        if emotion is not None:
            for emo in emotion.detections:
                for i, det in enumerate(self.faces):
                    if abs(det.t - emo.t) < 1e-3 and _iou(det.box, emo.box) > 0.5:
                        by_detection[i] = emo.emotions
                        break
        lane: list[FaceLaneItem] = []
        for track in self.tracks:
            indices = [i for i in track.detections if i < len(self.faces)]
            emotions = [by_detection[i] for i in indices if i in by_detection]
            distribution = (
                {k: _mean([e.get(k, 0.0) for e in emotions]) for k in emotions[0]}
                if emotions
                else {}
            )
            start, end = ctx.extend_to_next_keyframe(track.start, track.end)
            lane.append(
                FaceLaneItem(
                    id=f"face-{track.id}",
                    start=start,
                    end=end,
                    seen_until=track.end,
                    confidence=_mean([self.faces[i].confidence for i in indices]),
                    detections=len(indices),
                    crop=track.crop,
                    emotions=distribution,
                    top_emotion=max(distribution, key=lambda k: distribution[k])
                    if distribution
                    else None,
                )
            )
        return Contribution(tracks={"faces": lane}, summary={"face_tracks": len(lane)})


@dataclass(frozen=True, slots=True)
class UsableFace:
    """The one definition of a face good enough to found an identity.

    Used by the ``faces`` analyzer (each face's ``usable`` flag) and by identity
    (``aima.identity.observations.face_drafts``, thresholds from ``settings.identity``)
    so the two can never disagree. The defaults are the measured ones:

    * ``min_size_px`` 32: the smaller box side in decoded pixels; dlib's and ArcFace's
      embeddings of faces under ~30 px drift by more than the same-person distance.
    * ``min_blur`` 15: variance of the Laplacian on the grey face at 112 px
      (:func:`blur_score`). Sharp real faces measured 67-229; Gaussian blur sigma 1.5
      gave 14 and sigma 3 gave 5, and a sigma-1.5 face still matches its sharp self
      but sits at the edge of the match distance. 15 keeps sigma <= 1.5-ish faces out.
      (The analyzer used 20 and identity 15 before; 15 is identity's, which the
      clustering thresholds were tuned with.)
    * ``min_frontal`` 0.15: :func:`frontal_score`; below it the nose is nearly outside
      the eyes (a near profile), where frontal-trained embeddings are unreliable.
    """

    min_size_px: float = 32.0
    min_blur: float = 15.0
    min_frontal: float = 0.15

    def accepts(self, quality: Mapping[str, Any], *, has_embedding: bool = True) -> bool:
        """Whether a face with this ``quality`` dict (``size_px``, ``blur``, ``frontal``) is usable."""
        return bool(
            has_embedding
            and float(quality.get("size_px") or 0.0) >= self.min_size_px
            and float(quality.get("blur") or 0.0) >= self.min_blur
            and float(quality.get("frontal") or 0.0) >= self.min_frontal
        )


USABLE_FACE = UsableFace()


# ---------------------------------------------------------------------------- emotion


class EmotionDetection(Item):
    model_config = ConfigDict(extra="allow")

    t: float
    shot: int = 0
    box: Box
    face_index: int = 0
    emotions: dict[str, float]
    top: str
    confidence: float = Field(ge=0, le=1)


class EmotionResult(AnalyzerResult):
    """Facial expressions per face detection; fused into the face tracks by ``faces``."""

    analyzer: Literal["emotion"] = "emotion"
    detections: list[EmotionDetection] = Field(default_factory=list)
    distribution: dict[str, float] = Field(default_factory=dict)
    count: int = 0
    labels: list[str] = Field(default_factory=list)
    model_id: str = "unknown"


# ---------------------------------------------------------------------------- bodies / objects


class BodyDetection(Item):
    model_config = ConfigDict(extra="allow")

    t: float
    box: Box
    confidence: float = Field(ge=0, le=1)
    track: int | None = None


class TimedBox(Item):
    t: float
    box: Box


class BodyTrack(Span):
    model_config = ConfigDict(extra="allow")

    id: int
    shot: int = 0
    confidence: float = 0.0
    boxes: list[TimedBox] = Field(default_factory=list)


class ObjectDetection(Item):
    """A detected thing other than a person (COCO classes)."""

    model_config = ConfigDict(extra="allow")

    t: float
    label: str
    confidence: float = Field(ge=0, le=1)
    box: Box


class ObjectSpan(Span):
    """One label seen over consecutive keyframes."""

    model_config = ConfigDict(extra="allow")

    label: str
    confidence: float = Field(ge=0, le=1)
    count: int = 1


class BodyLaneItem(Span):
    id: str
    seen_until: float
    boxes: int
    confidence: float


class ObjectLaneItem(Span):
    label: str
    seen_until: float
    confidence: float
    count: int


class BodiesResult(AnalyzerResult):
    analyzer: Literal["bodies"] = "bodies"
    model_config = ConfigDict(extra="allow")

    backend: str = "unknown"
    keyframes: int = 0
    frame_times: list[float] = Field(default_factory=list)
    max_people: int = 0
    detections: list[BodyDetection] = Field(default_factory=list)
    tracks: list[BodyTrack] = Field(default_factory=list)
    objects: list[ObjectDetection] = Field(default_factory=list)
    object_spans: list[ObjectSpan] = Field(default_factory=list)

    def keyframe_times(self) -> list[float]:
        return self.frame_times

    def timeline(self, ctx: TimelineContext) -> Contribution:
        bodies = []
        for t in self.tracks:
            start, end = ctx.extend_to_next_keyframe(t.start, t.end)
            bodies.append(
                BodyLaneItem(
                    id=f"body-{t.id}",
                    start=start,
                    end=end,
                    seen_until=t.end,
                    boxes=len(t.boxes),
                    confidence=t.confidence,
                )
            )
        objects = []
        for o in self.object_spans:
            start, end = ctx.extend_to_next_keyframe(o.start, o.end)
            objects.append(
                ObjectLaneItem(
                    label=o.label,
                    start=start,
                    end=end,
                    seen_until=o.end,
                    confidence=o.confidence,
                    count=o.count,
                )
            )
        labels = sorted({o.label for o in self.object_spans})
        return Contribution(
            tracks={"bodies": bodies, "objects": objects},
            summary={"body_tracks": len(bodies), "objects": labels},
        )


# ---------------------------------------------------------------------------- nsfw


class NsfwLabel(Item):
    label: str
    confidence: float = Field(ge=0, le=1)
    box: Box


class NsfwFrame(Item):
    t: float
    labels: list[NsfwLabel] = Field(default_factory=list)
    score: float = Field(ge=0, le=1)


class NsfwSpan(Span):
    score: float = Field(ge=0, le=1)
    labels: list[str] = Field(default_factory=list)


class NsfwResult(AnalyzerResult):
    analyzer: Literal["nsfw"] = "nsfw"
    frames: list[NsfwFrame] = Field(default_factory=list)
    max_score: float = 0.0
    max_t: float | None = None
    flagged: bool = False
    spans: list[NsfwSpan] = Field(default_factory=list)

    def keyframe_times(self) -> list[float]:
        return [f.t for f in self.frames]

    def timeline(self, ctx: TimelineContext) -> Contribution:
        return Contribution(
            tracks={"nsfw": list(self.spans)},
            summary={"nsfw_max": self.max_score, "nsfw_spans": len(self.spans)},
        )


# ---------------------------------------------------------------------------- ocr


class OcrLine(Span):
    model_config = ConfigDict(extra="allow")

    text: str
    box: Box | None = None
    confidence: float = Field(ge=0, le=1)
    language: str | None = None
    language_confidence: float | None = Field(default=None, ge=0, le=1)
    engine: str | None = None
    frames: int = 1


class OcrLaneItem(Span):
    text: str
    language: str | None
    confidence: float
    box: Box | None
    seen_until: float


class OcrResult(AnalyzerResult):
    analyzer: Literal["ocr"] = "ocr"
    model_config = ConfigDict(extra="allow")

    lines: list[OcrLine] = Field(default_factory=list)
    text: str = ""
    stats: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    def timeline(self, ctx: TimelineContext) -> Contribution:
        lane = []
        for line in self.lines:
            start, end = ctx.extend_to_next_keyframe(line.start, line.end)
            lane.append(
                OcrLaneItem(
                    text=line.text,
                    language=line.language,
                    confidence=line.confidence,
                    box=line.box,
                    start=start,
                    end=end,
                    seen_until=line.end,
                )
            )
        return Contribution(
            tracks={"ocr": lane}, summary={"ocr_lines": len(lane)}, notes=list(self.notes)
        )


# ---------------------------------------------------------------------------- thumbnails


class ThumbnailCandidate(Item):
    t: float
    blob: str


class ThumbnailsResult(AnalyzerResult):
    """A representative frame (images, video) or a waveform picture (audio)."""

    analyzer: Literal["thumbnails"] = "thumbnails"
    thumbnail: str | None = None
    waveform: str | None = None
    t: float | None = None
    width: int
    height: int
    rms: float | None = None
    candidates: list[ThumbnailCandidate] = Field(default_factory=list)

    def timeline(self, ctx: TimelineContext) -> Contribution:
        picture = self.thumbnail or self.waveform
        return Contribution(summary={"thumbnail": picture} if picture else {})
