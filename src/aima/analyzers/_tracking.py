"""Box geometry shared by the detectors: IoU, non-maximum suppression, keyframe linking.

Boxes are ``[x, y, w, h]`` (top-left corner, width, height) in any one unit per
call: pixels or the normalised 0..1 frame coordinates of the result conventions.

``link_tracks`` joins the detections of consecutive keyframes into tracks by IoU,
greedily (best overlap first), never across a shot change. Keyframes are far
apart (up to ``decode.max_interval_s``), so a track may also skip ``max_gap``
keyframes where the detector missed the object. It returns indices only: each
analyzer builds its own track records from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Box = Sequence[float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``[x, y, w, h]`` boxes (0 when either is empty)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def nms(
    boxes: NDArray[np.floating] | Sequence[Box],
    scores: NDArray[np.floating] | Sequence[float],
    iou_threshold: float,
    *,
    containment: float | None = None,
) -> list[int]:
    """Greedy non-maximum suppression; the indices kept, highest score first.

    A box is suppressed when its IoU with a kept, higher-scoring box exceeds
    ``iou_threshold`` (the rule of ``cv2.dnn.NMSBoxes`` and YOLO post-processing).
    With ``containment`` set, it is also suppressed when that much of the smaller
    of the two boxes lies inside the other: HOG's window grouping leaves boxes
    around two people or around one person's upper body, which IoU alone keeps.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if b.shape[0] != s.shape[0]:
        raise ValueError(f"{b.shape[0]} boxes but {s.shape[0]} scores")
    x1, y1 = b[:, 0], b[:, 1]
    x2, y2 = x1 + b[:, 2], y1 + b[:, 3]
    area = np.clip(b[:, 2], 0, None) * np.clip(b[:, 3], 0, None)
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = area[i] + area[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        drop = overlap > iou_threshold
        if containment is not None:
            smaller = np.minimum(area[i], area[rest])
            inside = np.divide(inter, smaller, out=np.zeros_like(inter), where=smaller > 0)
            drop |= inside > containment
        order = rest[~drop]
    return keep


@dataclass(slots=True)
class _Open:
    shot: int
    last_frame: int
    last_box: Box
    members: list[tuple[int, int]] = field(default_factory=list)


def link_tracks(
    frames: Sequence[tuple[int, Sequence[Box]]],
    *,
    min_iou: float,
    max_gap: int = 0,
) -> list[list[tuple[int, int]]]:
    """Link boxes across consecutive keyframes into tracks.

    ``frames`` are ``(shot, boxes)`` in time order. A box continues the open track
    of the same shot whose last box (seen at most ``max_gap`` keyframes ago)
    overlaps it best, if that IoU is at least ``min_iou``; pairs are matched
    greedily, highest IoU first, each track and box used once. Returns the tracks,
    ordered by their first box, each a list of ``(frame index, box index)``.
    """
    if not 0 < min_iou <= 1:
        raise ValueError("min_iou must be in (0, 1]")
    done: list[_Open] = []
    open_: list[_Open] = []
    for fi, (shot, boxes) in enumerate(frames):
        still: list[_Open] = []
        for track in open_:
            if track.shot == shot and fi - track.last_frame <= max_gap + 1:
                still.append(track)
            else:
                done.append(track)
        open_ = still
        pairs = sorted(
            (
                (overlap, ti, bi)
                for ti, track in enumerate(open_)
                for bi, box in enumerate(boxes)
                if (overlap := iou(track.last_box, box)) >= min_iou
            ),
            key=lambda p: (-p[0], p[1], p[2]),
        )
        used_tracks: set[int] = set()
        used_boxes: set[int] = set()
        for _, ti, bi in pairs:
            if ti in used_tracks or bi in used_boxes:
                continue
            used_tracks.add(ti)
            used_boxes.add(bi)
            track = open_[ti]
            track.members.append((fi, bi))
            track.last_frame, track.last_box = fi, boxes[bi]
        for bi, box in enumerate(boxes):
            if bi not in used_boxes:
                open_.append(_Open(shot, fi, box, [(fi, bi)]))
    done.extend(open_)
    done.sort(key=lambda t: t.members[0])
    return [t.members for t in done]
