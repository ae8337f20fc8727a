"""YOLOv8 pre- and post-processing, written once for every YOLOv8 model AIMA runs.

Two analyzers feed YOLOv8 detectors: ``bodies`` (a COCO export, 80 classes) and
``nsfw`` (NudeNet 320n/640m, 18 body-part classes). They differ only in how the
frame is fitted into the square model input, because each must reproduce what its
model was evaluated with:

* ``centre`` — ultralytics' ``LetterBox``: resize keeping the aspect ratio, then
  centre on a grey (114) canvas. What an ultralytics COCO export expects.
* ``corner`` — NudeNet 3.4's ``_read_image``: pad the frame with black on the
  right/bottom to a square of its longest side, *then* resize that square. Resizing
  after padding blends the border row with black differently from resizing first,
  so the two modes are not pixel-identical; NudeNet's parity test relies on this one.

Both return the ``ratio`` and ``(left, top)`` padding so that a model coordinate
``m`` maps back to ``(m - pad) / ratio`` frame pixels, which is all
:func:`decode_yolov8` needs.

Decoding: YOLOv8 outputs ``[4 + classes, anchors]`` (``cx, cy, w, h`` in model
pixels then one independent sigmoid score per class). Each anchor keeps its best
class; anchors under ``min_confidence`` are dropped; boxes are mapped back, clipped
to the frame and merged by IoU NMS — across classes (``agnostic``, NudeNet's rule)
or within each class (ultralytics' default, so a person holding a cup keeps both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from aima.analyzers._tracking import nms

LetterboxMode = Literal["centre", "corner"]


@dataclass(frozen=True, slots=True)
class YoloBox:
    """One decoded detection: ``box`` ``[x, y, w, h]`` in frame pixels, its best class and score."""

    box: tuple[float, float, float, float]
    class_id: int
    score: float


def letterbox(
    image: NDArray[np.uint8],
    size: int,
    *,
    mode: LetterboxMode = "centre",
    pad_value: int | None = None,
) -> tuple[NDArray[np.uint8], float, tuple[int, int]]:
    """Fit an image into a ``size``² canvas; returns the canvas, ``ratio`` and ``(left, top)``.

    ``pad_value`` defaults to 114 (ultralytics' grey) for ``centre`` and 0 (NudeNet's
    black) for ``corner``.
    """
    h, w = image.shape[:2]
    channels = image.shape[2] if image.ndim == 3 else 1
    if mode == "corner":
        side = max(h, w)
        padded = np.full((side, side, channels), 0 if pad_value is None else pad_value, np.uint8)
        padded[:h, :w] = image.reshape(h, w, channels)
        resized = cv2.resize(padded, (size, size), interpolation=cv2.INTER_LINEAR)
        canvas = np.asarray(resized, dtype=np.uint8).reshape(size, size, channels)
        return canvas, size / side, (0, 0)
    ratio = min(size / h, size / w)
    nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
    fitted = (
        image if (nw, nh) == (w, h) else cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    )
    left = round((size - nw) / 2 - 0.1)
    top = round((size - nh) / 2 - 0.1)
    canvas = np.full((size, size, channels), 114 if pad_value is None else pad_value, np.uint8)
    canvas[top : top + nh, left : left + nw] = np.asarray(fitted).reshape(nh, nw, channels)
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
    agnostic: bool,
    num_classes: int | None = None,
) -> list[YoloBox]:
    """One image's YOLOv8 output (``[4 + classes, anchors]``, either layout) to frame boxes.

    ``num_classes`` (when known) checks the output's shape; the layout is otherwise
    inferred (more anchors than rows). Empty boxes are dropped; best score first.
    """
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3:
        out = out[0]
    if out.ndim != 2:
        raise ValueError(f"unexpected YOLOv8 output shape {np.shape(output)}")
    # exported layout is (4 + nc, anchors); with nc unknown, anchors are the longer axis
    rows_first = out.shape[0] == 4 + num_classes if num_classes else out.shape[0] < out.shape[1]
    if rows_first:
        out = out.T
    if out.shape[1] < 5 or (num_classes is not None and out.shape[1] != 4 + num_classes):
        raise ValueError(f"unexpected YOLOv8 output shape {np.shape(output)}")
    scores_all = out[:, 4:]
    best = scores_all.argmax(axis=1)
    score = scores_all[np.arange(out.shape[0]), best]
    keep = score >= min_confidence
    rows, best, score = out[keep, :4], best[keep], score[keep]
    left, top = pad
    x1 = np.clip((rows[:, 0] - rows[:, 2] / 2 - left) / ratio, 0, width)
    y1 = np.clip((rows[:, 1] - rows[:, 3] / 2 - top) / ratio, 0, height)
    x2 = np.clip((rows[:, 0] + rows[:, 2] / 2 - left) / ratio, 0, width)
    y2 = np.clip((rows[:, 1] + rows[:, 3] / 2 - top) / ratio, 0, height)
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float64)
    valid = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    boxes, best, score = boxes[valid], best[valid], score[valid]
    if agnostic:
        kept = nms(boxes, score, nms_iou)
    else:
        kept = []
        for cls in np.unique(best):
            idx = np.flatnonzero(best == cls)
            kept.extend(int(idx[i]) for i in nms(boxes[idx], score[idx], nms_iou))
        kept.sort(key=lambda i: (-float(score[i]), i))
    return [
        YoloBox(
            (float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3])),
            int(best[i]),
            float(score[i]),
        )
        for i in kept
    ]
