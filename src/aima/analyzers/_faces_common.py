"""Framework-free pieces of the face analyzers: one face type, geometry, quality, crops.

Everything here is pure numpy/Pillow/OpenCV so it can be unit-tested on arrays; the
model backends (``_faces_dlib``, ``_faces_insightface``) produce :class:`RawFace`
values and the ``faces`` analyzer turns them into JSON.

Landmarks are always the five standard points in image coordinates, in this order:
image-left eye centre, image-right eye centre, nose tip, image-left mouth corner,
image-right mouth corner (the order SCRFD/ArcFace use).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from aima.analyzers._tracking import nms as box_nms

FloatArray = NDArray[np.float32]
Image8 = NDArray[np.uint8]

BLUR_SIDE = 112  # blur is measured on the grey face resized to this square, so it is scale-free


@dataclass(slots=True)
class RawFace:
    """One detected face in source-image pixels, as a backend reports it.

    ``box`` is ``(x0, y0, x1, y1)``; ``score`` the model's raw score; ``confidence``
    that score calibrated to [0, 1] by the backend; ``landmarks`` a 5x2 array;
    ``handle`` whatever the backend needs later to embed this face (e.g. dlib's shape).
    """

    box: tuple[float, float, float, float]
    score: float
    confidence: float
    landmarks: FloatArray
    handle: Any = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def size_px(self) -> float:
        """The smaller side of the box in source pixels."""
        return min(self.width, self.height)


class FaceBackend(Protocol):
    """What the ``faces`` analyzer needs from a detector + embedder pair."""

    model_id: str
    embedding_dim: int
    match_distance: float  # L2 distance between normalised embeddings below which: same person

    def detect(self, image: Image8, magnify: float = 1.0) -> list[RawFace]:
        """Faces in one RGB image, boxes/landmarks in that image's pixels, best first.

        ``magnify`` > 1 looks ``magnify`` times closer than the normal (fast) pass, for
        faces too small for it; how (whole frame or tiles) is the backend's business.
        """
        ...

    def embed(self, items: Sequence[tuple[Image8, RawFace]]) -> FloatArray:
        """One L2-normalised row per (image, face), computed at the image's resolution."""
        ...


# usable faces: one definition, shared with identity (aima.results.vision.UsableFace)


# --------------------------------------------------------------------- calibration


def logistic(score: float, midpoint: float, slope: float) -> float:
    """``1 / (1 + exp(-slope * (score - midpoint)))``, safe for any finite score."""
    z = slope * (score - midpoint)
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def inverse_logistic(p: float, midpoint: float, slope: float) -> float:
    """The raw score at which :func:`logistic` reaches ``p`` (0 < p < 1)."""
    p = min(max(p, 1e-9), 1.0 - 1e-9)
    return midpoint + math.log(p / (1.0 - p)) / slope


# ------------------------------------------------------------------------ geometry


def l2_normalise(vectors: NDArray[Any]) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero)."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: FloatArray = arr / np.maximum(norms, 1e-12)
    return out


def nms(boxes: NDArray[Any], scores: NDArray[Any], threshold: float) -> list[int]:
    """Greedy non-maximum suppression over ``(x0, y0, x1, y1)`` boxes; indices kept, best first."""
    xyxy = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    xywh = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]])
    return box_nms(xywh, scores, threshold)


def normalised_box(face: RawFace, width: int, height: int) -> list[float]:
    """``[x, y, w, h]`` as fractions of the frame, clipped to it."""
    x0 = min(max(face.box[0], 0.0), float(width))
    y0 = min(max(face.box[1], 0.0), float(height))
    x1 = min(max(face.box[2], 0.0), float(width))
    y1 = min(max(face.box[3], 0.0), float(height))
    return [
        round(x0 / width, 5),
        round(y0 / height, 5),
        round((x1 - x0) / width, 5),
        round((y1 - y0) / height, 5),
    ]


def scale_face(face: RawFace, factor: float) -> RawFace:
    """The same face in an image ``factor`` times as large (box, landmarks)."""
    x0, y0, x1, y1 = face.box
    return RawFace(
        (x0 * factor, y0 * factor, x1 * factor, y1 * factor),
        face.score,
        face.confidence,
        (face.landmarks * factor).astype(np.float32),
        face.handle,
    )


def tile_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``tile`` px covering ``length`` px, neighbours sharing at
    least ``overlap`` px; the last tile ends at the border (no partial tiles)."""
    if tile >= length:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def is_flat(image: Image8, min_std: float) -> bool:
    """True for frames with nothing to find: black, single-colour or nearly so.

    The standard deviation of the grey levels of a 64-px thumbnail is below ``min_std``.
    """
    import cv2

    h, w = image.shape[:2]
    k = 64.0 / max(h, w)
    small = image if k >= 1 else cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(np.ascontiguousarray(small[..., :3]), cv2.COLOR_RGB2GRAY)
    return float(grey.std()) < min_std


def shift_face(face: RawFace, dx: float, dy: float) -> RawFace:
    """The same face with its box and landmarks moved by ``(dx, dy)``."""
    x0, y0, x1, y1 = face.box
    return RawFace(
        (x0 + dx, y0 + dy, x1 + dx, y1 + dy),
        face.score,
        face.confidence,
        (face.landmarks + np.array([dx, dy], dtype=np.float32)).astype(np.float32),
        face.handle,
    )


# ------------------------------------------------------------------------- quality


def frontal_score(landmarks: NDArray[Any]) -> float:
    """0..1 from left/right symmetry of the five landmarks (1: nose centred, frontal).

    The nose tip's horizontal distance to the left eye/mouth-corner midline is compared
    with its distance to the right one, measured along the eye axis (so head roll does
    not count as turning away). A profile (nose outside the eyes) gives 0.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    left = (pts[0] + pts[3]) / 2.0
    right = (pts[1] + pts[4]) / 2.0
    axis = pts[1] - pts[0]
    norm = float(np.linalg.norm(axis))
    if norm < 1e-6:
        return 0.0
    axis /= norm
    dl = float(np.dot(pts[2] - left, axis))
    dr = float(np.dot(right - pts[2], axis))
    if dl <= 0 or dr <= 0:
        return 0.0
    return round(min(dl, dr) / max(dl, dr), 4)


def landmarks_plausible(landmarks: NDArray[Any], face: RawFace) -> bool:
    """A face-like layout: eyes apart by 20-80 % of the box width, nose below the eyes and
    above the mouth (along the face's own vertical axis), all points near the box.

    Rejects detector hits on texture where the landmark model has nothing to fit.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    w, h = face.width, face.height
    if w <= 0 or h <= 0:
        return False
    axis = pts[1] - pts[0]
    eye_dist = float(np.linalg.norm(axis))
    if not 0.2 * w <= eye_dist <= 0.8 * w:
        return False
    down = np.array([-axis[1], axis[0]]) / eye_dist  # perpendicular, pointing down the face
    eyes_y = float(np.dot((pts[0] + pts[1]) / 2.0, down))
    nose_y = float(np.dot(pts[2], down))
    mouth_y = float(np.dot((pts[3] + pts[4]) / 2.0, down))
    if not eyes_y < nose_y < mouth_y:
        return False
    x0, y0, x1, y1 = face.box
    mx, my = 0.25 * w, 0.25 * h
    inside = (
        (pts[:, 0] >= x0 - mx)
        & (pts[:, 0] <= x1 + mx)
        & (pts[:, 1] >= y0 - my)
        & (pts[:, 1] <= y1 + my)
    )
    return bool(inside.all())


def _clip_box(image: Image8, box: Sequence[float]) -> tuple[int, int, int, int]:
    h, w = image.shape[:2]
    x0 = int(min(max(math.floor(box[0]), 0), w - 1))
    y0 = int(min(max(math.floor(box[1]), 0), h - 1))
    x1 = int(min(max(math.ceil(box[2]), x0 + 1), w))
    y1 = int(min(max(math.ceil(box[3]), y0 + 1), h))
    return x0, y0, x1, y1


def blur_score(image: Image8, box: Sequence[float]) -> float:
    """Variance of the Laplacian of the grey face, resized to 112x112 (higher: sharper).

    Resizing first makes the value comparable between small and large faces: a tiny
    face upscaled to 112 px is soft and scores low, as it should for identity work.
    """
    import cv2

    x0, y0, x1, y1 = _clip_box(image, box)
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    big = grey.shape[0] > BLUR_SIDE or grey.shape[1] > BLUR_SIDE
    grey = cv2.resize(
        grey,
        (BLUR_SIDE, BLUR_SIDE),
        interpolation=cv2.INTER_AREA if big else cv2.INTER_LINEAR,
    )
    return round(float(cv2.Laplacian(grey, cv2.CV_64F).var()), 2)


def square_crop(image: Image8, box: Sequence[float], margin: float, side: int) -> Image8:
    """A square of ``max(w, h) * (1 + 2 * margin)`` around the box centre, resized to ``side``.

    Parts outside the frame are filled with black, so the face stays centred.
    """
    import cv2

    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    half = max(box[2] - box[0], box[3] - box[1]) * (1.0 + 2.0 * margin) / 2.0
    half = max(half, 1.0)
    x0, y0 = round(cx - half), round(cy - half)
    size = max(1, round(2 * half))
    h, w = image.shape[:2]
    canvas = np.zeros((size, size, image.shape[2]), dtype=np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + size), min(h, y0 + size)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    interp = cv2.INTER_AREA if size > side else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(canvas, (side, side), interpolation=interp), dtype=np.uint8)


def jpeg_bytes(pixels: Image8, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
