"""People (whole bodies) in images and video keyframes, linked into tracks per shot.

Two backends, chosen by ``backend`` (``auto`` takes the strongest one present):

* ``hog`` — the offline default: OpenCV's HOG + linear SVM pedestrian detector
  (Dalal & Triggs, ``cv2.HOGDescriptor.getDefaultPeopleDetector``), shipped with
  ``opencv-python-headless<5``. Frames are downscaled so the longest side is at
  most ``det_max_side`` (never upscaled), scanned with ``win_stride``/``scale``,
  HOG's own window grouping (``group_threshold``) and then our non-maximum
  suppression (IoU ``nms_iou`` plus ``containment``: grouping leaves boxes around
  two people or around an upper body). The detector window is 64×128 pixels: a
  person shorter than ≈100 px at detection scale is not found. It is a dated,
  upright-pedestrian model: seated, partly visible or lying people are missed.
* ``yolo`` — used when ``yolo/yolov8n.onnx`` (any YOLOv8 COCO export) is in the
  models directory: centred letterbox to the model input (grey 114 padding),
  standard YOLOv8 decoding (``[cx, cy, w, h, 80 class scores]`` per anchor),
  person = class 0 when it is the best class, IoU NMS.

Confidence calibration:

* HOG: the SVM margin ``w`` (distance past the decision boundary) is mapped by a
  logistic ``1 / (1 + exp(-calibration_slope * (w - calibration_midpoint)))``,
  midpoint 0.5, slope 3: ``w=0 → 0.18``, ``0.5 → 0.5``, ``1 → 0.82``, ``2 → 0.99``.
  The midpoint is where, on OpenCV's sample footage (``vtest.avi``, the
  ``basketball`` images), false detections stopped outnumbering true ones: false
  boxes had margins 0.5–0.7, real pedestrians mostly 0.8–4.9. It is a rough,
  monotone calibration from a few dozen boxes, not a fitted one.
* YOLO: the class-0 sigmoid score, used as is (YOLOv8 scores are already
  probability-like).

Detections under ``min_confidence`` are dropped. Tracks link boxes of
consecutive keyframes of one shot by IoU (``track_iou``), tolerating
``track_max_gap`` keyframes without a detection; keyframes are up to
``decode.max_interval_s`` apart, so fast or small people moving further than
their own width between keyframes start a new track.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from aima.analyzers._tracking import link_tracks, nms
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.models import ModelSpec, file_sha256
from aima.inference.sessions import InferenceSession, onnx_session
from aima.media.types import Frame, MediaKind

Detection = tuple[list[float], float]  # normalised [x, y, w, h], confidence

YOLO_SPEC = ModelSpec(
    name="yolov8-person",
    path="yolo/yolov8n.onnx",
    how_to_get=(
        "export a YOLOv8 COCO detector to ONNX where the internet is reachable "
        "(`pip install ultralytics && yolo export model=yolov8n.pt format=onnx imgsz=640`; "
        "yolov8s/m work too) and copy it to <AIMA_MODELS_DIR>/yolo/yolov8n.onnx"
    ),
    optional=True,
    description="stronger person detector for the bodies analyzer (COCO class 0)",
)


class BodiesConfig(AnalyzerConfig):
    backend: Literal["auto", "hog", "yolo"] = Field(
        default="auto", description="auto: yolo when its weights are present, else hog"
    )
    min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="calibrated confidence below which boxes are dropped"
    )
    nms_iou: float = Field(default=0.45, gt=0, le=1, description="NMS IoU threshold")
    # HOG backend
    det_max_side: int = Field(
        default=800, ge=128, le=4096, description="HOG: frames downscaled to this longest side"
    )
    win_stride: int = Field(
        default=8, ge=4, le=64, description="HOG: window step in pixels (4 finds more, 4x slower)"
    )
    padding: int = Field(default=8, ge=0, le=64, description="HOG: border added around the frame")
    scale: float = Field(default=1.05, gt=1.0, le=2.0, description="HOG: image pyramid step")
    hit_threshold: float = Field(
        default=0.0, ge=-2, le=10, description="HOG: minimum SVM margin of a window"
    )
    group_threshold: int = Field(
        default=2, ge=0, le=20, description="HOG: windows a grouped box needs, minus one"
    )
    containment: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="HOG: drop a box when this fraction of the smaller box lies in a better one",
    )
    calibration_midpoint: float = Field(
        default=0.5, ge=-2, le=10, description="HOG: SVM margin that maps to confidence 0.5"
    )
    calibration_slope: float = Field(
        default=3.0, gt=0, le=100, description="HOG: logistic slope of the calibration"
    )
    # YOLO backend
    yolo_input: int = Field(
        default=640, ge=32, le=2048, description="YOLO: input side when the model's is dynamic"
    )
    # tracks
    track_iou: float = Field(
        default=0.3, gt=0, le=1, description="IoU that links boxes of consecutive keyframes"
    )
    track_max_gap: int = Field(
        default=1, ge=0, le=100, description="keyframes a track may miss and still continue"
    )


def hog_confidence(margin: float, midpoint: float, slope: float) -> float:
    """The documented logistic calibration of a HOG SVM margin to [0, 1]."""
    return 1.0 / (1.0 + math.exp(-slope * (margin - midpoint)))


def letterbox(
    image: NDArray[np.uint8], size: int, pad_value: int = 114
) -> tuple[NDArray[np.uint8], float, tuple[int, int]]:
    """Resize keeping the aspect ratio and centre on a ``size``² canvas (as ultralytics does).

    Returns the canvas, the scale ``ratio`` and the ``(left, top)`` padding, so that
    a model coordinate ``m`` maps back to ``(m - pad) / ratio`` image pixels.
    """
    h, w = image.shape[:2]
    ratio = min(size / h, size / w)
    nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
    resized = (
        image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    )
    left = round((size - nw) / 2 - 0.1)
    top = round((size - nh) / 2 - 0.1)
    canvas = np.full((size, size, image.shape[2]), pad_value, dtype=np.uint8)
    canvas[top : top + nh, left : left + nw] = resized
    return canvas, ratio, (left, top)


def decode_yolov8(
    output: NDArray[np.floating],
    *,
    ratio: float,
    pad: tuple[int, int],
    width: int,
    height: int,
    min_confidence: float,
    nms_iou: float,
    class_id: int = 0,
) -> list[Detection]:
    """One image's YOLOv8 output (``[4 + classes, anchors]``, either layout) to boxes.

    Rows are ``cx, cy, w, h`` in letterboxed model pixels then one score per class;
    an anchor counts when ``class_id`` is its best class and its score is at least
    ``min_confidence``. Boxes come back normalised to the original ``width``×``height``,
    clipped to the frame, after IoU NMS, best first.
    """
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"unexpected YOLOv8 output shape {np.shape(output)}")
    if out.shape[0] < out.shape[1]:  # (4 + nc, anchors) as exported (anchors: 8400 at 640)
        out = out.T
    if out.shape[1] < 5:
        raise ValueError(f"unexpected YOLOv8 output shape {np.shape(output)}")
    scores_all = out[:, 4:]
    best = scores_all.argmax(axis=1)
    score = scores_all[np.arange(out.shape[0]), best]
    keep = (best == class_id) & (score >= min_confidence)
    rows, score = out[keep, :4], score[keep]
    left, top = pad
    x1 = np.clip((rows[:, 0] - rows[:, 2] / 2 - left) / ratio, 0, width)
    y1 = np.clip((rows[:, 1] - rows[:, 3] / 2 - top) / ratio, 0, height)
    x2 = np.clip((rows[:, 0] + rows[:, 2] / 2 - left) / ratio, 0, width)
    y2 = np.clip((rows[:, 1] + rows[:, 3] / 2 - top) / ratio, 0, height)
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    valid = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    boxes, score = boxes[valid], score[valid]
    scale = np.array([width, height, width, height], dtype=np.float64)
    return [(_norm_box(boxes[i] / scale), float(score[i])) for i in nms(boxes, score, nms_iou)]


def _norm_box(box: Sequence[float] | NDArray[np.floating]) -> list[float]:
    return [round(float(v), 4) for v in box]


class Bodies(Analyzer):
    name = "bodies"
    version = "1.0.0"
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    Config: ClassVar[type[AnalyzerConfig]] = BodiesConfig
    description = "people (whole bodies) per keyframe, linked into tracks per shot"
    model_specs = (YOLO_SPEC,)

    def __init__(self, config: AnalyzerConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._backend: Literal["hog", "yolo"] | None = None
        self._hog: cv2.HOGDescriptor | None = None
        self._session: InferenceSession | None = None
        self._input_name = "images"
        self._input_side = self.cfg.yolo_input
        self._fixed_batch: int | None = None
        self._model_id: str | None = None
        self._id_lock = threading.Lock()

    @property
    def cfg(self) -> BodiesConfig:
        assert isinstance(self.config, BodiesConfig)
        return self.config

    @property
    def backend(self) -> Literal["hog", "yolo"]:
        """The backend this instance uses (decided once; ``auto`` looks for the YOLO weights)."""
        if self._backend is None:
            if self.cfg.backend == "auto":
                self._backend = "yolo" if self.models.available(YOLO_SPEC) else "hog"
            else:
                self._backend = self.cfg.backend
        return self._backend

    @property
    def model_id(self) -> str:
        with self._id_lock:
            if self._model_id is None:
                if self.backend == "hog":
                    self._model_id = f"opencv-hog-people:{cv2.__version__}"
                else:
                    path = self.models.path(YOLO_SPEC)
                    self._model_id = f"yolov8-onnx:{YOLO_SPEC.path}@{file_sha256(path)[:12]}"
            return self._model_id

    def load(self) -> None:
        if self.backend == "hog":
            hog = cv2.HOGDescriptor()
            hog.setSVMDetector(
                np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32)
            )
            self._hog = hog
            return
        session = onnx_session(self.models.path(YOLO_SPEC))
        inp = session.get_inputs()[0]
        self._input_name = inp.name
        shape = list(inp.shape)
        self._fixed_batch = shape[0] if isinstance(shape[0], int) else None
        if len(shape) == 4 and isinstance(shape[2], int):
            self._input_side = int(shape[2])
        self._session = session

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        frames = data.frames
        found = self._detect_hog(frames) if self.backend == "hog" else self._detect_yolo(frames)
        return {
            "frames": [
                {
                    "t": round(frame.t, 3),
                    "shot": frame.shot,
                    "people": [{"box": box, "confidence": round(c, 4)} for box, c in people],
                }
                for frame, people in zip(frames, found, strict=True)
            ]
        }

    # --- HOG -------------------------------------------------------------------------

    def _detect_hog(self, frames: list[Frame]) -> list[list[Detection]]:
        return [self.detect_hog(np.asarray(f.image)) for f in frames]

    def detect_hog(self, image: NDArray[np.uint8]) -> list[Detection]:
        """People in one RGB (or BGR: HOG takes the strongest channel gradient) image."""
        if self._hog is None:
            raise RuntimeError("bodies: load() the HOG detector first")
        cfg = self.cfg
        h, w = image.shape[:2]
        s = min(1.0, cfg.det_max_side / max(h, w))
        small = (
            image if s >= 1.0 else cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        )
        rects, weights = self._hog.detectMultiScale(
            small,
            hitThreshold=cfg.hit_threshold,
            winStride=(cfg.win_stride, cfg.win_stride),
            padding=(cfg.padding, cfg.padding),
            scale=cfg.scale,
            groupThreshold=cfg.group_threshold,
        )
        if len(rects) == 0:
            return []
        boxes = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / s
        margins = np.asarray(weights, dtype=np.float64).reshape(-1)
        conf = np.array(
            [hog_confidence(m, cfg.calibration_midpoint, cfg.calibration_slope) for m in margins]
        )
        # clip to the frame (padding lets windows reach past the border), then normalise
        x1 = np.clip(boxes[:, 0], 0, w)
        y1 = np.clip(boxes[:, 1], 0, h)
        x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, w)
        y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, h)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        ok = (conf >= cfg.min_confidence) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        boxes, conf = boxes[ok], conf[ok]
        scale = np.array([w, h, w, h], dtype=np.float64)
        keep = nms(boxes, conf, cfg.nms_iou, containment=cfg.containment)
        return [(_norm_box(boxes[i] / scale), float(conf[i])) for i in keep]

    # --- YOLO ------------------------------------------------------------------------

    def _detect_yolo(self, frames: list[Frame]) -> list[list[Detection]]:
        if self._session is None:
            raise RuntimeError("bodies: load() the YOLO model first")
        batch = self._fixed_batch or self.cfg.batch_size
        out: list[list[Detection]] = []
        for start in range(0, len(frames), batch):
            group = frames[start : start + batch]
            boxes = [letterbox(np.asarray(f.image), self._input_side) for f in group]
            tensor = np.stack([b[0] for b in boxes]).astype(np.float32) / 255.0
            tensor = np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))  # RGB, NCHW
            if self._fixed_batch and tensor.shape[0] < self._fixed_batch:
                filler = np.zeros((self._fixed_batch - tensor.shape[0], *tensor.shape[1:]))
                tensor = np.concatenate([tensor, filler.astype(np.float32)])
            (pred,) = self._session.run(None, {self._input_name: tensor})[:1]
            for j, (frame, (_, ratio, pad)) in enumerate(zip(group, boxes, strict=True)):
                out.append(
                    decode_yolov8(
                        pred[j],
                        ratio=ratio,
                        pad=pad,
                        width=frame.width,
                        height=frame.height,
                        min_confidence=self.cfg.min_confidence,
                        nms_iou=self.cfg.nms_iou,
                    )
                )
        return out

    # --- media level -----------------------------------------------------------------

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        frames = sorted((f for c in chunks for f in c["frames"]), key=lambda f: f["t"])
        linked = link_tracks(
            [(int(f.get("shot", 0)), [p["box"] for p in f["people"]]) for f in frames],
            min_iou=self.cfg.track_iou,
            max_gap=self.cfg.track_max_gap,
        )
        track_of = {member: tid for tid, members in enumerate(linked) for member in members}
        detections = [
            {
                "t": f["t"],
                "box": p["box"],
                "confidence": p["confidence"],
                "track": track_of[(fi, bi)],
            }
            for fi, f in enumerate(frames)
            for bi, p in enumerate(f["people"])
        ]
        tracks = []
        for tid, members in enumerate(linked):
            items = [(frames[fi], frames[fi]["people"][bi]) for fi, bi in members]
            tracks.append(
                {
                    "id": tid,
                    "shot": int(items[0][0].get("shot", 0)),
                    "start": items[0][0]["t"],
                    "end": items[-1][0]["t"],
                    "confidence": max(p["confidence"] for _, p in items),
                    "boxes": [{"t": f["t"], "box": p["box"]} for f, p in items],
                }
            )
        return {
            "backend": self.backend,
            "keyframes": len(frames),
            "max_people": max((len(f["people"]) for f in frames), default=0),
            "detections": detections,
            "tracks": tracks,
        }
