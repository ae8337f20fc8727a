"""The legacy people detector: OpenCV's HOG + linear SVM (Dalal & Triggs), kept as an option.

``bodies`` uses SSD-MobileNet-v2 by default; ``backend: hog`` still runs this
detector, which needs no weights beyond ``opencv-python-headless<5``. Frames are
downscaled so the longest side is at most ``det_max_side`` (never upscaled),
scanned with ``win_stride``/``scale``, HOG's own window grouping
(``group_threshold``) and then our NMS (IoU plus ``containment``: grouping leaves
boxes around two people or around an upper body). The 64×128 window misses people
shorter than ≈100 px at detection scale, and seated or lying people.

Confidence: the SVM margin ``w`` is mapped by ``1 / (1 + exp(-slope * (w - midpoint)))``,
midpoint 0.5, slope 3 (``w=0 → 0.18``, ``0.5 → 0.5``, ``1 → 0.82``, ``2 → 0.99``). The
midpoint is where, on OpenCV's ``vtest.avi`` and ``basketball`` images, false boxes
(margins 0.5–0.7) stopped outnumbering real pedestrians (0.8–4.9): a rough, monotone
calibration from a few dozen boxes, not a fitted one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from aima.analyzers._detect_ssd import Detected
from aima.analyzers._objects import PERSON
from aima.analyzers._tracking import nms


@dataclass(frozen=True, slots=True)
class HogParams:
    """The HOG scan and calibration settings (``BodiesConfig`` fields of the same names)."""

    det_max_side: int
    win_stride: int
    padding: int
    scale: float
    hit_threshold: float
    group_threshold: int
    containment: float
    calibration_midpoint: float
    calibration_slope: float
    min_confidence: float
    nms_iou: float


def hog_confidence(margin: float, midpoint: float, slope: float) -> float:
    """The documented logistic calibration of a HOG SVM margin to [0, 1]."""
    return 1.0 / (1.0 + math.exp(-slope * (margin - midpoint)))


class HogPeople:
    """OpenCV's default people detector, built once per analyzer."""

    def __init__(self) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(
            np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32)
        )

    def detect(self, image: NDArray[np.uint8], p: HogParams) -> list[Detected]:
        """People in one RGB (or BGR: HOG takes the strongest channel gradient) image."""
        h, w = image.shape[:2]
        s = min(1.0, p.det_max_side / max(h, w))
        small = (
            image if s >= 1.0 else cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        )
        rects, weights = self._hog.detectMultiScale(
            small,
            hitThreshold=p.hit_threshold,
            winStride=(p.win_stride, p.win_stride),
            padding=(p.padding, p.padding),
            scale=p.scale,
            groupThreshold=p.group_threshold,
        )
        if len(rects) == 0:
            return []
        boxes = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / s
        margins = np.asarray(weights, dtype=np.float64).reshape(-1)
        conf = np.array(
            [hog_confidence(m, p.calibration_midpoint, p.calibration_slope) for m in margins]
        )
        # clip to the frame (padding lets windows reach past the border), then normalise
        x1 = np.clip(boxes[:, 0], 0, w)
        y1 = np.clip(boxes[:, 1], 0, h)
        x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, w)
        y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, h)
        boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
        ok = (conf >= p.min_confidence) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        boxes, conf = boxes[ok], conf[ok]
        scale = np.array([w, h, w, h], dtype=np.float64)
        keep = nms(boxes, conf, p.nms_iou, containment=p.containment)
        return [
            Detected(PERSON, [round(float(v), 4) for v in boxes[i] / scale], float(conf[i]))
            for i in keep
        ]
