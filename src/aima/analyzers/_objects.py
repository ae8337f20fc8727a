"""COCO object classes and the per-span object summary of the ``bodies`` analyzer.

Both detectors the ``bodies`` analyzer runs were trained on COCO, but they number
the classes differently:

* the TensorFlow Object Detection API models (SSD-MobileNet-v2 COCO) use the 90
  *category ids* of the COCO annotations, of which 80 are used (ids 12, 26, 29,
  30, 45, 66, 68, 69, 71 and 83 were dropped from the released data set);
* YOLOv8 exports use 0..79, the same 80 classes in the same order.

:data:`COCO_LABELS` is the 90-id map; :data:`COCO80` is its 80 labels in order, so
YOLO class ``i`` is ``COCO80[i]`` and SSD id ``k`` is ``COCO_LABELS[k]``.

``object_spans`` turns per-keyframe detections into what a person searching for
"dog" wants back: from when to when a label was on screen, how sure the detector
was at best, and how many boxes support it. A span is a run of keyframes of one
shot where the label was seen, allowing ``max_gap`` keyframes without it (the
detector misses an object now and then); a shot change always ends a span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COCO_LABELS: dict[int, str] = {
    1: "person",
    2: "bicycle",
    3: "car",
    4: "motorcycle",
    5: "airplane",
    6: "bus",
    7: "train",
    8: "truck",
    9: "boat",
    10: "traffic light",
    11: "fire hydrant",
    13: "stop sign",
    14: "parking meter",
    15: "bench",
    16: "bird",
    17: "cat",
    18: "dog",
    19: "horse",
    20: "sheep",
    21: "cow",
    22: "elephant",
    23: "bear",
    24: "zebra",
    25: "giraffe",
    27: "backpack",
    28: "umbrella",
    31: "handbag",
    32: "tie",
    33: "suitcase",
    34: "frisbee",
    35: "skis",
    36: "snowboard",
    37: "sports ball",
    38: "kite",
    39: "baseball bat",
    40: "baseball glove",
    41: "skateboard",
    42: "surfboard",
    43: "tennis racket",
    44: "bottle",
    46: "wine glass",
    47: "cup",
    48: "fork",
    49: "knife",
    50: "spoon",
    51: "bowl",
    52: "banana",
    53: "apple",
    54: "sandwich",
    55: "orange",
    56: "broccoli",
    57: "carrot",
    58: "hot dog",
    59: "pizza",
    60: "donut",
    61: "cake",
    62: "chair",
    63: "couch",
    64: "potted plant",
    65: "bed",
    67: "dining table",
    70: "toilet",
    72: "tv",
    73: "laptop",
    74: "mouse",
    75: "remote",
    76: "keyboard",
    77: "cell phone",
    78: "microwave",
    79: "oven",
    80: "toaster",
    81: "sink",
    82: "refrigerator",
    84: "book",
    85: "clock",
    86: "vase",
    87: "scissors",
    88: "teddy bear",
    89: "hair drier",
    90: "toothbrush",
}
COCO80: tuple[str, ...] = tuple(COCO_LABELS[k] for k in sorted(COCO_LABELS))
PERSON = "person"


def coco_label(category_id: int) -> str | None:
    """The label of a COCO category id (1..90), ``None`` for the ten unused ids."""
    return COCO_LABELS.get(category_id)


def yolo_label(class_index: int) -> str | None:
    """The label of a YOLOv8 COCO class index (0..79), ``None`` outside that range."""
    return COCO80[class_index] if 0 <= class_index < len(COCO80) else None


@dataclass(slots=True)
class _Span:
    label: str
    shot: int
    start: float
    end: float
    confidence: float
    count: int
    last: int  # index of the last keyframe that had the label


def object_spans(
    frames: Sequence[tuple[float, int, Sequence[tuple[str, float]]]], *, max_gap: int = 1
) -> list[dict[str, Any]]:
    """Spans per label from keyframes ``(t, shot, [(label, confidence), ...])`` in time order.

    Each span: ``{"label", "shot", "start", "end", "confidence" (the best), "count"
    (boxes in the span)}``, ordered by start then label.
    """
    if max_gap < 0:
        raise ValueError("max_gap must be >= 0")
    done: list[_Span] = []
    open_: dict[str, _Span] = {}
    for index, (t, shot, found) in enumerate(frames):
        for label, confidence in found:
            span = open_.get(label)
            if span is not None and (span.shot != shot or index - span.last > max_gap + 1):
                done.append(span)
                span = None
            if span is None:
                span = _Span(label, shot, t, t, confidence, 0, index)
                open_[label] = span
            span.end, span.last = t, index
            span.confidence = max(span.confidence, confidence)
            span.count += 1
    done.extend(open_.values())
    done.sort(key=lambda s: (s.start, s.label))
    return [
        {
            "label": s.label,
            "shot": s.shot,
            "start": s.start,
            "end": s.end,
            "confidence": round(s.confidence, 4),
            "count": s.count,
        }
        for s in done
    ]
