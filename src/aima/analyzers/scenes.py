"""Scenes: a vision-language model describes each shot's keyframes (``docs/scenes.md``).

Per keyframe (at most ``max_frames_per_shot`` per shot, the shot-change keyframe first)
the VLM endpoint (``AIMA_LLM__VLM__*``, any OpenAI-compatible server) is asked through
``LlmClient.structured`` for: a scene description, objects, clothing and visible actions
per person box, textual logos/brand names, and restraints (handcuffs, cable ties, rope,
gags, blindfolds, ...) with a box when the model gives one and its confidence.

Upstream results are **optional** (``uses``, not ``requires``): person boxes come from
the ``bodies`` result of the same keyframe (``faces`` where bodies found none), logos
are ``confirmed_by_ocr`` when ``ocr`` read the same text nearby. They are used when
they run in the same job (same chunk plan); a job of ``scenes`` alone still describes
scenes, just without numbered person boxes and OCR confirmation. Making them hard
requirements would force a detector and OCR run (and their cost) on every scenes job.

Restraint confidence: the model's raw number is kept and mapped through a calibration
(``_scenes_calibration``: Platt scaling fitted from review decisions once there are
enough, else a conservative prior); both are stored. Each restraint's evidence (the box
with a margin, else the frame) is stored as a JPEG blob at analysis time; its key is in
the result and the review queue (``aima.services.review``) shows it.

Failures: a keyframe whose answer fails validation twice (after the client's one
repair) is recorded in the result with its reason, the rest of the chunk stands.
``LlmUnavailable`` (endpoint down, timeouts, 429/5xx after retries, open circuit) fails
the chunk: the job ends ``partial`` and a re-run resumes from the committed chunks.

Without ``AIMA_LLM__VLM__BASE_URL`` the analyzer is recorded like a disabled one with
the reason "not configured: ...". It is sensitive (restraints): the sensitive-analyzer
policy applies. It is not in the default analyzer list: it costs GPU time or money.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from pydantic import Field

from aima.analyzers import _scenes_calibration as calibration
from aima.analyzers._scenes_vlm import (
    DESCRIBE,
    PersonBox,
    SceneAnswer,
    check,
    evidence_jpeg,
    jpeg,
    ocr_confirms,
    persons_text,
    restraint_label,
)
from aima.analyzers.base import (
    AnalysisContext,
    Analyzer,
    AnalyzerConfig,
    AnalyzerServices,
    ChunkData,
    Modality,
)
from aima.core.errors import AnalyzerError
from aima.llm import CallContext, LlmClient, LlmInvalidOutput, image_part, text_part
from aima.media.types import Frame, MediaKind
from aima.results import AnalyzerResult
from aima.results.scenes import Calibration, ScenesResult

NOT_CONFIGURED = "not configured: set AIMA_LLM__VLM__BASE_URL (see docs/llm.md)"


class ScenesConfig(AnalyzerConfig):
    max_frames_per_shot: int = Field(
        default=2, ge=1, le=64, description="keyframes asked about per shot (shot change first)"
    )
    image_max_side: int = Field(
        default=768, ge=64, le=4096, description="keyframes are downscaled to this before sending"
    )
    jpeg_quality: int = Field(default=85, ge=30, le=100, description="JPEG quality sent")
    parallel: int = Field(
        default=8,
        ge=1,
        le=256,
        description="keyframes of a chunk asked at once (the client caps it at max_concurrency)",
    )
    logo_ocr_distance: float = Field(
        default=0.25, gt=0, le=2, description="logo and OCR line centres at most this far apart"
    )
    logo_ocr_window_s: float = Field(
        default=1.0, ge=0, description="OCR lines within this many seconds of the keyframe"
    )
    evidence_margin: float = Field(
        default=0.25, ge=0, le=2, description="context around a restraint box in the evidence"
    )
    evidence_max_side: int = Field(
        default=640, ge=64, le=4096, description="evidence JPEGs are at most this long"
    )
    max_tokens: int = Field(
        default=768, ge=64, le=32768, description="answer length limit per keyframe"
    )


class Scenes(Analyzer):
    name = "scenes"
    version = "1.0.0"
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    uses = ("bodies", "faces", "ocr")
    llm_endpoint = "vlm"
    sensitive = True
    Config: ClassVar[type[AnalyzerConfig]] = ScenesConfig
    Result: ClassVar[type[AnalyzerResult]] = ScenesResult
    description = "scene description, clothing, actions, logos and restraints (VLM endpoint)"

    def __init__(self, config: AnalyzerConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._client: LlmClient | None = None
        self._decisions: Callable[[str], Sequence[tuple[float, bool]]] = lambda _n: ()
        self._calibrations: dict[str, Calibration] = {}
        self._cal_lock = threading.Lock()

    @classmethod
    def unavailable_reason(cls, settings: Any) -> str | None:
        return None if settings.llm.vlm.base_url else NOT_CONFIGURED

    def attach(self, services: AnalyzerServices) -> None:
        self._client = services.llm
        self._decisions = services.review_decisions

    @property
    def cfg(self) -> ScenesConfig:
        assert isinstance(self.config, ScenesConfig)
        return self.config

    @property
    def model_id(self) -> str:
        model = self._client.model if self._client is not None else "unconfigured"
        return f"vlm:{model}+{DESCRIBE.ref}"

    def load(self) -> None:
        if self._client is None or not self._client.configured:
            raise AnalyzerError(f"scenes has no VLM endpoint: {NOT_CONFIGURED}")

    def calibration_for(self, job_id: str) -> Calibration:
        """One calibration per job (fitted once from the review decisions so far)."""
        with self._cal_lock:
            if job_id not in self._calibrations:
                if len(self._calibrations) >= 256:  # a long-lived worker keeps recent jobs only
                    self._calibrations.pop(next(iter(self._calibrations)))
                self._calibrations[job_id] = calibration.fit(list(self._decisions(self.name)))
            return self._calibrations[job_id]

    # ------------------------------------------------------------------ per chunk

    def select(self, frames: list[Frame]) -> list[Frame]:
        """At most ``max_frames_per_shot`` keyframes per shot: the first, then evenly spread."""
        by_shot: dict[int, list[Frame]] = defaultdict(list)
        for f in frames:
            by_shot[f.shot].append(f)
        n = self.cfg.max_frames_per_shot
        out: list[Frame] = []
        for shot in sorted(by_shot):
            group = by_shot[shot]
            if len(group) <= n:
                out += group
            else:
                step = len(group) / n
                out += [group[int(i * step)] for i in range(n)]
        return sorted(out, key=lambda f: f.t)

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        client = self._client
        assert client is not None
        frames = self.select(data.frames)
        cal = self.calibration_for(ctx.job_id)
        ends = [f.t for f in frames[1:]] + [data.chunk.end_s if data.chunk.end_s else None]
        persons = _person_boxes(data.upstream)
        ocr = _ocr_lines(data.upstream)
        work = [
            (f, end, persons.get(round(f.t, 3), [])) for f, end in zip(frames, ends, strict=True)
        ]
        workers = max(1, min(self.cfg.parallel, len(work)))
        with ThreadPoolExecutor(workers, thread_name_prefix="scenes") as pool:
            # LlmUnavailable propagates from .result(): the chunk fails, nothing is committed
            answers = list(pool.map(lambda w: self._ask(client, ctx, w[0], w[2]), work))
        out = []
        for (frame, end, boxes), (answer, repaired, model, error) in zip(
            work, answers, strict=True
        ):
            t = round(frame.t, 3)
            entry: dict[str, Any] = {
                "t": t,
                "end": round(end if end is not None else frame.t, 3),
                "shot": frame.shot,
                "repaired": repaired,
                "model": model,
                "error": error,
            }
            if answer is not None:
                entry |= self._read(ctx, frame, answer, boxes, ocr, cal)
            out.append(entry)
        return {"frames": out, "calibration": cal.model_dump(), "prompt": DESCRIBE.ref}

    def _ask(
        self, client: LlmClient, ctx: AnalysisContext, frame: Frame, boxes: list[PersonBox]
    ) -> tuple[SceneAnswer | None, bool, str | None, str | None]:
        cfg = self.cfg
        text = DESCRIBE.render(width=frame.width, height=frame.height, persons=persons_text(boxes))
        image = jpeg(frame.image, cfg.image_max_side, cfg.jpeg_quality)
        messages = [{"role": "user", "content": [text_part(text), image_part(image)]}]
        try:
            got = client.structured(
                messages,
                SceneAnswer,
                prompt=DESCRIBE,
                ctx=CallContext(
                    job_id=ctx.job_id, media_id=ctx.media_id, subject=f"media:{ctx.media_id}"
                ),
                check=lambda a: check(a, len(boxes)),
                max_tokens=cfg.max_tokens,
            )
        except LlmInvalidOutput as exc:
            return None, True, None, exc.reason
        return got.value, got.repaired, got.reply.model, None

    def _read(
        self,
        ctx: AnalysisContext,
        frame: Frame,
        answer: SceneAnswer,
        boxes: list[PersonBox],
        ocr: list[tuple[float, dict[str, Any]]],
        cal: Calibration,
    ) -> dict[str, Any]:
        cfg = self.cfg
        near = [line for t, line in ocr if abs(t - frame.t) <= cfg.logo_ocr_window_s]
        looks = {}
        for p in answer.persons:
            box = boxes[p.id - 1]
            looks[p.id] = {
                "ref": box.ref,
                "box": box.box,
                "clothing": [c.strip() for c in p.clothing if c.strip()],
                "actions": [a.strip() for a in p.actions if a.strip()],
            }
        restraints = []
        t = round(frame.t, 3)
        for j, r in enumerate(answer.restraints):
            person = boxes[r.person - 1] if r.person is not None else None
            where = r.box or (person.box if person is not None else None)
            blob = ctx.blobs.put_bytes(
                evidence_jpeg(frame.image, where, cfg.evidence_margin, cfg.evidence_max_side)
            )
            restraints.append(
                {
                    "ref": f"t{t:.3f}:r{j}",
                    "label": restraint_label(r.label),
                    "person": person.ref if person is not None else None,
                    "box": r.box,
                    "raw_confidence": round(r.confidence, 4),
                    "confidence": calibration.apply(cal, r.confidence),
                    "evidence": blob.sha256,
                }
            )
        return {
            "description": answer.description.strip(),
            "objects": sorted({o.strip().lower() for o in answer.objects if o.strip()}),
            "logos": [
                {
                    "text": logo.text.strip(),
                    "box": logo.box,
                    "confirmed_by_ocr": ocr_confirms(logo, near, cfg.logo_ocr_distance),
                }
                for logo in answer.logos
            ],
            "persons": [looks[k] for k in sorted(looks)],
            "restraints": restraints,
        }

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        frames = sorted((f for c in chunks for f in c["frames"]), key=lambda f: f["t"])
        models = sorted({f["model"] for f in frames if f.get("model")})
        cal = chunks[0]["calibration"] if chunks else calibration.PRIOR.model_dump()
        return {
            "frames": [{k: v for k, v in f.items() if k != "model"} for f in frames],
            "prompt": chunks[0]["prompt"] if chunks else DESCRIBE.ref,
            "model": ", ".join(models) or (self._client.model if self._client else "unknown"),
            "calibration": cal,
            "failed_frames": sum(1 for f in frames if f.get("error")),
        }


def _person_boxes(upstream: dict[str, dict[str, Any]]) -> dict[float, list[PersonBox]]:
    """Per keyframe time: bodies' person boxes, else faces' boxes (refs "body:i"/"face:i")."""
    out: dict[float, list[PersonBox]] = {}
    for entry in upstream.get("faces", {}).get("frames", []):
        faces = [f["box"] for f in entry.get("faces", []) if f.get("box")]
        if faces:
            out[round(float(entry["t"]), 3)] = [
                PersonBox(f"face:{i}", list(b)) for i, b in enumerate(faces)
            ]
    for entry in upstream.get("bodies", {}).get("frames", []):
        people = [p["box"] for p in entry.get("people", []) if p.get("box")]
        if people:
            out[round(float(entry["t"]), 3)] = [
                PersonBox(f"body:{i}", list(b)) for i, b in enumerate(people)
            ]
    return out


def _ocr_lines(upstream: dict[str, dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    return [
        (float(entry["t"]), line)
        for entry in upstream.get("ocr", {}).get("frames", [])
        for line in entry.get("lines", [])
    ]
