"""The offline default face backend: dlib's HOG detector, 68-point landmarks, ResNet embedding.

Weights ship in the ``face_recognition_models`` package (dlib 68-point shape predictor,
``dlib_face_recognition_resnet_model_v1``); the HOG detector is built into dlib.

Confidence calibration. ``detector.run`` returns an SVM margin (0 is the SVM's own
decision boundary). It is mapped to [0, 1] with a logistic curve,
``confidence = 1 / (1 + exp(-2.5 * (score - 0.3)))``, anchored on what was measured
here: clear frontal faces score 1.0-2.0 (astronaut 1.16, messi5 2.0; flipped, darkened,
brightened, rescaled copies 1.0-2.0) and map to 0.85-0.99; the one false hit on
``astronaut`` (a patch of the suit/flag) scores 0.06-0.13 (0.36-0.40); twenty other
scikit-image pictures gave no hit above -0.1. A raw 0.3 is therefore taken as the
even-odds point (0.5, the default ``min_confidence``). This is a monotone, documented
mapping, not a fit on a labelled data set.

dlib's DNN is not safe to call from two threads at once: one lock serialises the models.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from aima.analyzers._faces_common import (
    FloatArray,
    Image8,
    RawFace,
    inverse_logistic,
    l2_normalise,
    logistic,
    scale_face,
)
from aima.inference.models import ModelSpec

HOG_MIDPOINT = 0.3
HOG_SLOPE = 2.5
# dlib's documented same-person threshold is 0.6 on its raw descriptors, whose norm is
# nearly constant (measured 1.43-1.46 on every face tried here). On the L2-normalised
# embeddings AIMA stores that is 0.6 / 1.45 = 0.41. Measured (normalised): astronaut vs
# flipped/cropped/brightened/darkened/2x copies 0.02-0.16, messi5 vs its variants
# 0.13-0.18, astronaut vs messi5 0.54-0.59.
DLIB_MATCH_DISTANCE = 0.41
CHIP_SIZE = 150  # the aligned input of dlib's ResNet
CHIP_PADDING = 0.25

_PKG = "face_recognition_models"
_HOW = "pip install face_recognition_models (installed by `make setup`)"
SHAPE_68 = ModelSpec(
    name="dlib-shape-predictor-68",
    package=_PKG,
    path="models/shape_predictor_68_face_landmarks.dat",
    sha256="fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
    how_to_get=_HOW,
    description="dlib 68-point face landmarks (iBUG 300-W)",
    version="face_recognition_models 0.3.0",
    licence="iBUG 300-W training data: check terms before commercial use",
)
RESNET = ModelSpec(
    name="dlib-face-recognition-resnet-v1",
    package=_PKG,
    path="models/dlib_face_recognition_resnet_model_v1.dat",
    sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    how_to_get=_HOW,
    description="dlib ResNet-29 128-d face embedding",
    version="face_recognition_models 0.3.0",
    licence="CC0-1.0 (dlib model)",
)
DLIB_SPECS = (SHAPE_68, RESNET)

# 68-point indices -> the five standard landmarks
_LEFT_EYE = slice(36, 42)
_RIGHT_EYE = slice(42, 48)
_NOSE_TIP = 30
_MOUTH_LEFT = 48
_MOUTH_RIGHT = 54


def hog_confidence(score: float) -> float:
    """The documented calibration of a HOG SVM margin to [0, 1]."""
    return logistic(score, HOG_MIDPOINT, HOG_SLOPE)


def hog_threshold(min_confidence: float) -> float:
    """The raw HOG margin that corresponds to ``min_confidence``."""
    return inverse_logistic(min_confidence, HOG_MIDPOINT, HOG_SLOPE)


def dlib_version() -> str:
    try:
        return version("dlib-bin")
    except PackageNotFoundError:
        import dlib

        return str(dlib.__version__)


def dlib_model_id() -> str:
    return f"dlib-{dlib_version()}/resnet_v1+hog+shape68"


def five_from_68(points: Any) -> FloatArray:
    """The standard five landmarks from a dlib 68-point shape (as an Nx2 array)."""
    pts = np.asarray(points, dtype=np.float32)
    out: FloatArray = np.stack(
        [
            pts[_LEFT_EYE].mean(axis=0),
            pts[_RIGHT_EYE].mean(axis=0),
            pts[_NOSE_TIP],
            pts[_MOUTH_LEFT],
            pts[_MOUTH_RIGHT],
        ]
    ).astype(np.float32)
    return out


class DlibModels:
    """The loaded dlib models (the expensive part: ~1 s), shareable between backends."""

    def __init__(self, shape_path: Path, resnet_path: Path) -> None:
        import dlib

        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(shape_path))
        self.resnet = dlib.face_recognition_model_v1(str(resnet_path))
        self.lock = threading.Lock()


class DlibBackend:
    """HOG on a downscaled copy (speed), landmarks and embedding at decode resolution."""

    embedding_dim = 128
    match_distance = DLIB_MATCH_DISTANCE

    def __init__(
        self, models: DlibModels, *, detect_max_side: int, upsample: int, min_confidence: float
    ) -> None:
        self.models = models
        self.detect_max_side = detect_max_side
        self.upsample = upsample
        self.threshold = hog_threshold(min_confidence)
        self.model_id = dlib_model_id()

    def detect(self, image: Image8, magnify: float = 1.0) -> list[RawFace]:
        """HOG on a copy scaled to ``detect_max_side`` (times ``magnify``: the whole frame is
        scanned closer, which costs ~``magnify``² the fast pass), landmarks at full size."""
        h, w = image.shape[:2]
        scale = min(1.0, self.detect_max_side / max(h, w)) * magnify
        small = image
        if scale != 1.0:
            import cv2

            small = np.asarray(
                cv2.resize(
                    image,
                    (max(1, round(w * scale)), max(1, round(h * scale))),
                    interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR,
                ),
                dtype=np.uint8,
            )
        small = np.ascontiguousarray(small)
        with self.models.lock:
            rects, scores, _ = self.models.detector.run(small, self.upsample, self.threshold)
        faces: list[RawFace] = []
        for rect, score in sorted(zip(rects, scores, strict=True), key=lambda rs: -rs[1]):
            det = RawFace(
                (
                    float(rect.left()),
                    float(rect.top()),
                    float(rect.left() + rect.width()),
                    float(rect.top() + rect.height()),
                ),
                float(score),
                hog_confidence(float(score)),
                np.zeros((5, 2), dtype=np.float32),
            )
            faces.append(scale_face(det, 1.0 / scale))
        if faces:
            self._landmarks(np.ascontiguousarray(image), faces)
        return faces

    def _landmarks(self, image: Image8, faces: list[RawFace]) -> None:
        m = self.models
        with m.lock:
            for face in faces:
                x0, y0, x1, y1 = (round(v) for v in face.box)
                shape = m.shape(image, m.dlib.rectangle(x0, y0, x1, y1))
                face.landmarks = five_from_68([(p.x, p.y) for p in shape.parts()])
                face.handle = shape

    def embed(self, items: Sequence[tuple[Image8, RawFace]]) -> FloatArray:
        if not items:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        m = self.models
        chips = [
            m.dlib.get_face_chip(
                np.ascontiguousarray(img), face.handle, size=CHIP_SIZE, padding=CHIP_PADDING
            )
            for img, face in items
        ]
        with m.lock:
            vectors = m.resnet.compute_face_descriptor(chips)
        return l2_normalise(np.asarray([np.asarray(v) for v in vectors], dtype=np.float32))
