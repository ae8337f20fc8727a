"""Explicit content: NudeNet's body-part detector on every keyframe, flagged spans per media.

The model is NudeNet 3.4.2's bundled ``320n.onnx`` (a YOLOv8n detector of 18
exposed/covered body-part and face classes), run through AIMA's own
``onnx_session`` so providers and threads are chosen in one place. When
``nudenet/640m.onnx`` (NudeNet's larger 640 px model) is in the models directory,
``model: auto`` uses it instead.

Pre- and post-processing reproduce ``nudenet/nudenet.py`` (3.4.2):

* the frame is padded on the right/bottom with black to a square of its longest
  side, resized to the model input (bilinear), scaled to 0..1, NCHW;
* channel order: NudeNet reads files with OpenCV (BGR), converts with
  ``COLOR_RGBA2BGR`` (which swaps R and B on a 3-channel image) and then
  ``blobFromImage(swapRB=True)`` swaps them back, so its network is fed **BGR**.
  ``channels: bgr`` (default) matches that and NudeNet's published numbers;
  ``channels: rgb`` feeds what an ultralytics-trained model saw in training
  (on ``skimage.data.astronaut`` the face scores 0.72 in BGR, 0.81 in RGB);
* decoding: per anchor ``cx, cy, w, h`` then 18 class scores; best class; score
  at least ``min_confidence`` (NudeNet: 0.25 after its 0.2 pre-filter);
  class-agnostic NMS at IoU ``nms_iou`` (0.45). Boxes are clipped to the frame
  (NudeNet clips only the top-left corner) and normalised to ``[x, y, w, h]``.

Confidence is the model's class score as is: YOLOv8 class scores are
independent sigmoids, not recalibrated here. NudeNet's own evaluation reports
modest recall for exposed classes (≈38 % at 0.5 on an NSFW-only set), so a
frame below ``flag_threshold`` is *not* evidence of safe content: lower the
threshold (0.3 catches more, with more false flags on swimwear and skin-toned
scenes) where missing content costs more than reviewing extra frames.

A frame's ``score`` is its highest confidence among the *explicit* labels
(``explicit_labels``: exposed genitalia, female breasts, buttocks, anus); face,
covered and other exposed parts (feet, belly, armpits, male breast) are kept as
context labels but never raise the score. ``spans`` are runs of consecutive
keyframes with ``score >= flag_threshold``.
"""

from __future__ import annotations

import threading
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator

from aima.analyzers._yolo import decode_yolov8, letterbox
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.backends import BackendOption, choose_backend
from aima.inference.models import ModelSpec, file_sha256
from aima.inference.sessions import InferenceSession, onnx_session
from aima.media.types import Frame, MediaKind
from aima.results import AnalyzerResult, NsfwResult

# The class order of NudeNet 3.x's detectors (nudenet.py ``__labels``).
NUDENET_LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
EXPLICIT_LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)

NUDENET_320N = ModelSpec(
    name="nudenet-320n",
    path="320n.onnx",
    package="nudenet",
    sha256="c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
    how_to_get="pip install nudenet==3.4.2 (the wheel ships 320n.onnx)",
    description="NudeNet 3.4 body-part detector, YOLOv8n at 320 px (default)",
    version="nudenet 3.4.2 (320n)",
    licence="AGPL-3.0 (NudeNet)",
)
NUDENET_640M = ModelSpec(
    name="nudenet-640m",
    path="nudenet/640m.onnx",
    how_to_get=(
        "download 640m.onnx from NudeNet's GitHub releases (notAI-tech/NudeNet, v3.4-weights) "
        "and copy it to <AIMA_MODELS_DIR>/nudenet/640m.onnx"
    ),
    optional=True,
    description="NudeNet 3.4 body-part detector, YOLOv8m at 640 px (stronger, ~10x slower)",
    version="NudeNet v3 640m",
    licence="AGPL-3.0 (NudeNet)",
)
_DEFAULT_SIDE = {"320n": 320, "640m": 640}
_OPTIONS = (BackendOption("640m", (NUDENET_640M,)), BackendOption("320n", (NUDENET_320N,)))

Label = dict[str, Any]


class NsfwConfig(AnalyzerConfig):
    model: Literal["auto", "320n", "640m"] = Field(
        default="auto", description="auto: 640m when its weights are present, else 320n"
    )
    channels: Literal["bgr", "rgb"] = Field(
        default="bgr", description="channel order fed to the network; bgr = NudeNet's own"
    )
    min_confidence: float = Field(
        default=0.25, ge=0, le=1, description="labels below this score are dropped"
    )
    nms_iou: float = Field(default=0.45, gt=0, le=1, description="class-agnostic NMS IoU")
    flag_threshold: float = Field(
        default=0.5, ge=0, le=1, description="frame score from which a span is flagged"
    )
    explicit_labels: tuple[str, ...] = Field(
        default=EXPLICIT_LABELS, description="labels that make up a frame's explicit score"
    )

    @field_validator("explicit_labels")
    @classmethod
    def _known_labels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(NUDENET_LABELS))
        if unknown:
            raise ValueError(f"unknown NudeNet labels {unknown}; known: {list(NUDENET_LABELS)}")
        return value


def preprocess(
    image: NDArray[np.uint8], size: int, channels: Literal["bgr", "rgb"] = "bgr"
) -> tuple[NDArray[np.float32], int]:
    """An RGB frame as NudeNet feeds it: black right/bottom pad to a square, resize, 0..1, CHW.

    Returns the ``3×size×size`` tensor and the padded square's side (for decoding).
    The padding is :func:`aima.analyzers._yolo.letterbox` in ``corner`` mode.
    """
    canvas, _, _ = letterbox(np.asarray(image)[..., :3], size, mode="corner")
    if channels == "bgr":
        canvas = canvas[..., ::-1]
    tensor = canvas.astype(np.float32) * np.float32(1 / 255.0)
    return np.ascontiguousarray(tensor.transpose(2, 0, 1)), max(image.shape[:2])


def postprocess(
    output: NDArray[np.floating],
    *,
    side: int,
    size: int,
    width: int,
    height: int,
    min_confidence: float = 0.25,
    nms_iou: float = 0.45,
) -> list[Label]:
    """One image's raw output (``[4 + 18, anchors]``) to labels with normalised boxes, best first.

    ``side`` is the padded square's side in frame pixels, ``size`` the model input:
    model pixels times ``side / size`` are frame pixels, because the padding sits on
    the right and bottom only. Decoding is the shared :func:`decode_yolov8`, with
    NudeNet's class-agnostic NMS.
    """
    found = decode_yolov8(
        output,
        ratio=size / side,
        pad=(0, 0),
        width=width,
        height=height,
        min_confidence=min_confidence,
        nms_iou=nms_iou,
        agnostic=True,
        num_classes=len(NUDENET_LABELS),
    )
    return [
        {
            "label": NUDENET_LABELS[det.class_id],
            "confidence": round(det.score, 4),
            "box": [
                round(det.box[0] / width, 4),
                round(det.box[1] / height, 4),
                round(det.box[2] / width, 4),
                round(det.box[3] / height, 4),
            ],
        }
        for det in found
    ]


def frame_score(labels: list[Label], explicit: tuple[str, ...] | frozenset[str]) -> float:
    """A frame's explicit score: the best confidence among explicit labels, 0 if none."""
    return max((lab["confidence"] for lab in labels if lab["label"] in explicit), default=0.0)


def flagged_spans(
    frames: list[dict[str, Any]], threshold: float, explicit: tuple[str, ...] | frozenset[str]
) -> list[dict[str, Any]]:
    """Runs of consecutive frames (time order) whose score is at least ``threshold``."""
    spans: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    best: dict[str, float] = {}
    for frame in frames:
        if frame["score"] < threshold:
            current = None
            continue
        if current is None:
            current = {"start": frame["t"], "end": frame["t"], "score": 0.0, "labels": []}
            best = {}
            spans.append(current)
        current["end"] = frame["t"]
        current["score"] = max(current["score"], frame["score"])
        for lab in frame["labels"]:
            if lab["label"] in explicit and lab["confidence"] >= threshold:
                best[lab["label"]] = max(best.get(lab["label"], 0.0), lab["confidence"])
        current["labels"] = sorted(best, key=lambda name: (-best[name], name))
    return spans


class Nsfw(Analyzer):
    name = "nsfw"
    version = "1.0.0"
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    Config: ClassVar[type[AnalyzerConfig]] = NsfwConfig
    Result: ClassVar[type[AnalyzerResult]] = NsfwResult
    description = "explicit content per keyframe (NudeNet body parts), flagged spans"
    model_specs = (NUDENET_320N, NUDENET_640M)

    def __init__(self, config: AnalyzerConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._variant: Literal["320n", "640m"] | None = None
        self._session: InferenceSession | None = None
        self._input_name = "images"
        self._size = 320
        self._variant_lock = threading.Lock()
        self._file_id: str | None = None

    @property
    def cfg(self) -> NsfwConfig:
        assert isinstance(self.config, NsfwConfig)
        return self.config

    @property
    def variant(self) -> Literal["320n", "640m"]:
        """Which NudeNet model this instance uses (``auto``: 640m when present)."""
        with self._variant_lock:
            if self._variant is None:
                chosen = choose_backend(self.name, self.cfg.model, _OPTIONS, self.models)
                self._variant = "640m" if chosen == "640m" else "320n"
            return self._variant

    @property
    def spec(self) -> ModelSpec:
        return NUDENET_640M if self.variant == "640m" else NUDENET_320N

    @property
    def model_id(self) -> str:
        try:
            pkg = f"nudenet-{package_version('nudenet')}"
        except PackageNotFoundError:  # pragma: no cover - the spec's package is missing too
            pkg = "nudenet"
        if self.variant == "320n":
            return f"{pkg}:320n"  # the file is pinned by sha256 in NUDENET_320N
        with self._variant_lock:
            if self._file_id is None:
                self._file_id = file_sha256(self.models.path(NUDENET_640M))[:12]
        return f"nudenet:640m@{self._file_id}"

    def load(self) -> None:
        session = onnx_session(self.models.path(self.spec))
        inp = session.get_inputs()[0]
        self._input_name = inp.name
        shape = list(inp.shape)
        fixed = len(shape) == 4 and isinstance(shape[2], int)
        self._size = int(shape[2]) if fixed else _DEFAULT_SIDE[self.variant]
        self._session = session

    def detect(self, images: list[NDArray[np.uint8]]) -> list[list[Label]]:
        """Labels for RGB images, in batches of ``batch_size``."""
        if self._session is None:
            raise RuntimeError("nsfw: load() the model first")
        cfg = self.cfg
        out: list[list[Label]] = []
        for start in range(0, len(images), cfg.batch_size):
            group = images[start : start + cfg.batch_size]
            prepared = [preprocess(img, self._size, cfg.channels) for img in group]
            tensor = np.stack([p[0] for p in prepared])
            (pred,) = self._session.run(None, {self._input_name: tensor})[:1]
            for j, (img, (_, side)) in enumerate(zip(group, prepared, strict=True)):
                out.append(
                    postprocess(
                        pred[j],
                        side=side,
                        size=self._size,
                        width=int(img.shape[1]),
                        height=int(img.shape[0]),
                        min_confidence=cfg.min_confidence,
                        nms_iou=cfg.nms_iou,
                    )
                )
        return out

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        frames: list[Frame] = data.frames
        found = self.detect([np.asarray(f.image) for f in frames])
        explicit = frozenset(self.cfg.explicit_labels)
        return {
            "frames": [
                {"t": round(f.t, 3), "labels": labels, "score": frame_score(labels, explicit)}
                for f, labels in zip(frames, found, strict=True)
            ]
        }

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        frames = sorted((f for c in chunks for f in c["frames"]), key=lambda f: f["t"])
        top = max(frames, key=lambda f: f["score"], default=None)
        max_score = top["score"] if top is not None else 0.0
        spans = flagged_spans(frames, self.cfg.flag_threshold, frozenset(self.cfg.explicit_labels))
        return {
            "frames": frames,
            "max_score": max_score,
            "max_t": top["t"] if top is not None and max_score > 0 else None,
            "flagged": bool(spans),
            "spans": spans,
        }
