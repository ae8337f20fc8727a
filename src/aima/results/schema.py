"""The result and timeline shapes as the public API publishes them (OpenAPI components).

``ResultData`` is the discriminated union (on ``analyzer``) of every built-in result
model; a plug-in analyzer's result without a model of its own is published as a
plain object. ``TimelineTracks`` names the core lanes with their item types; lanes
added by plug-ins appear as extra keys.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from aima.results.audio import (
    SpeakerLaneItem,
    SpeakersResult,
    SpeechSegment,
    TranscribeResult,
    TranscriptLaneItem,
    VadResult,
)
from aima.results.scenes import ScenesResult
from aima.results.vision import (
    BodiesResult,
    BodyLaneItem,
    EmotionResult,
    FaceLaneItem,
    FacesResult,
    NsfwResult,
    NsfwSpan,
    ObjectLaneItem,
    OcrLaneItem,
    OcrResult,
    ThumbnailsResult,
)

BuiltinResult = Annotated[
    FacesResult
    | EmotionResult
    | BodiesResult
    | NsfwResult
    | OcrResult
    | ThumbnailsResult
    | VadResult
    | TranscribeResult
    | SpeakersResult
    | ScenesResult,
    Field(discriminator="analyzer"),
]
ResultData = BuiltinResult | dict[str, Any]


class TimelineTracks(BaseModel):
    model_config = ConfigDict(extra="allow")

    faces: list[FaceLaneItem] = Field(default_factory=list)
    speakers: list[SpeakerLaneItem] = Field(default_factory=list)
    transcript: list[TranscriptLaneItem] = Field(default_factory=list)
    speech: list[SpeechSegment] = Field(default_factory=list)
    ocr: list[OcrLaneItem] = Field(default_factory=list)
    bodies: list[BodyLaneItem] = Field(default_factory=list)
    objects: list[ObjectLaneItem] = Field(default_factory=list)
    nsfw: list[NsfwSpan] = Field(default_factory=list)


class PendingReview(BaseModel):
    analyzer: str
    result_id: str
    version: str


class Timeline(BaseModel):
    """One media's fused timeline: lanes per modality on one time axis."""

    media: dict[str, Any]
    summary: dict[str, Any]
    notes: list[str] = Field(
        default_factory=list, description="caveats a reader must see (e.g. a fallback engine)"
    )
    tracks: TimelineTracks
    sources: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per analyzer: result id, job, version, model, config"
    )
    pending_review: list[PendingReview] = Field(default_factory=list)
