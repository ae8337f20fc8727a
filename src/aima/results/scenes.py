"""Result model of the vision-language ``scenes`` analyzer (see ``aima.analyzers.scenes``).

One :class:`SceneFrame` per analysed keyframe: what the model described, the objects
and textual logos it named, clothing and actions per person box (boxes from the
``bodies``/``faces`` results of the same keyframe), and restraints. A restraint is a
*flag*, not a finding: it enters the review queue (``aima.services.review``) and counts
only once a person confirmed it, so the timeline lane says "needs review".

Boxes are ``[x, y, w, h]`` normalised to the frame. ``raw_confidence`` is what the model
said; ``confidence`` is that number mapped through the calibration recorded in
``calibration`` (fitted from review decisions, or the documented prior).

Semantic search indexes ``frames[].description`` and ``frames[].objects`` by these names.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aima.results.base import AnalyzerResult, Contribution, Item, Span, TimelineContext

Box = list[float]


class Logo(Item):
    text: str
    confirmed_by_ocr: bool = False
    box: Box | None = None


class PersonLook(Item):
    """Clothing and visible actions of one person box (``ref`` "body:<i>" / "face:<i>":
    the i-th box of that keyframe in the bodies/faces result)."""

    ref: str
    box: Box
    clothing: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)


class Restraint(Item):
    ref: str = Field(description="stable within the result; the review item's ref")
    label: str
    person: str | None = Field(default=None, description="ref of the person box it is on")
    box: Box | None = None
    raw_confidence: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1, description="calibrated")
    evidence: str | None = Field(default=None, description="blob key of the JPEG evidence")


class SceneFrame(Item):
    t: float
    end: float
    shot: int = 0
    description: str = ""
    objects: list[str] = Field(default_factory=list)
    logos: list[Logo] = Field(default_factory=list)
    persons: list[PersonLook] = Field(default_factory=list)
    restraints: list[Restraint] = Field(default_factory=list)
    repaired: bool = False
    error: str | None = Field(default=None, description="why this keyframe has no answer")


class Calibration(Item):
    """``p = 1 / (1 + exp(-(a * raw + b)))`` (Platt scaling)."""

    method: Literal["prior", "platt"] = "prior"
    a: float = 1.0
    b: float = 0.0
    samples: int = 0


class SceneLaneItem(Span):
    description: str
    objects: list[str]
    logos: list[str]
    error: str | None


class RestraintLaneItem(Span):
    ref: str
    label: str
    confidence: float
    raw_confidence: float
    review: str = "needs review"
    text: str
    evidence: str | None


class ScenesResult(AnalyzerResult):
    analyzer: Literal["scenes"] = "scenes"
    frames: list[SceneFrame] = Field(default_factory=list)
    prompt: str = Field(default="", description="prompt id@version (provenance)")
    model: str = Field(default="unknown", description="the model as the server reported it")
    calibration: Calibration = Field(default_factory=Calibration)
    failed_frames: int = 0

    def keyframe_times(self) -> list[float]:
        return [f.t for f in self.frames]

    def restraints(self) -> list[tuple[SceneFrame, Restraint]]:
        return [(f, r) for f in self.frames for r in f.restraints]

    def timeline(self, ctx: TimelineContext) -> Contribution:
        scenes = [
            SceneLaneItem(
                start=f.t,
                end=max(f.end, f.t),
                description=f.description,
                objects=f.objects,
                logos=[logo.text for logo in f.logos],
                error=f.error,
            )
            for f in self.frames
        ]
        flags = [
            RestraintLaneItem(
                start=f.t,
                end=max(f.end, f.t),
                ref=r.ref,
                label=r.label,
                confidence=r.confidence,
                raw_confidence=r.raw_confidence,
                text=f"{r.label} (unreviewed, {r.confidence:.2f})",
                evidence=r.evidence,
            )
            for f, r in self.restraints()
        ]
        notes = []
        if self.failed_frames:
            notes.append(
                f"scenes: {self.failed_frames} keyframe(s) have no description "
                "(the model's answer failed validation)"
            )
        if flags:
            notes.append("restraint flags are unreviewed until an analyst confirms them")
        return Contribution(
            tracks={"scenes": scenes, "restraints": flags},
            summary={"scene_frames": len(scenes), "restraint_flags": len(flags)},
            notes=notes,
        )
