"""Face recall and precision on small, degraded faces: fast pass only vs with the second pass.

Run: ``python -m benchmarks.face_recall_bench`` (≈2-3 min on 2 cores).

Media (generated, nothing downloaded): the two real faces available offline
(scikit-image ``astronaut``, OpenCV ``messi5.jpg``) scaled so the face is 32, 38 or
45 px wide in a 1280x720 frame at calibration placements (``CALIBRATION``), plus
face-free frames (``coffee``, ``rocket`` pictures at the same scale) that count only
for precision. Each frame is degraded per condition: Gaussian noise, blur, JPEG
quality 10-20 and combinations. The faces test (``test_small_grainy_face_is_found``)
uses other placements, sizes and noise seeds.

A detection is a true positive when its IoU with the face's box is at least 0.3
(HOG boxes are looser than the reference box); every other detection is a false
positive. ``ms/frame`` is the mean wall time of the analyzer's detection per frame
(second pass included where it runs).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tests.analyzers import faces_fixtures as ff

from aima.analyzers._faces_dlib import RESNET, SHAPE_68, DlibBackend, DlibModels
from aima.analyzers._tracking import iou
from aima.analyzers.faces import Faces, FacesConfig
from aima.inference.models import ModelStore
from aima.media.types import Frame

from .common import table

# (who, face px, centre) — the benchmark's placements; the tests use others
CALIBRATION: list[tuple[str, int, tuple[int, int]]] = [
    ("astronaut", 32, (300, 250)),
    ("astronaut", 45, (900, 420)),
    ("messi", 38, (640, 300)),
    ("messi", 45, (350, 480)),
    ("coffee", 40, (700, 360)),
    ("rocket", 40, (420, 300)),
]
CONDITIONS: dict[str, dict[str, Any]] = {
    "clean": {},
    "noise σ12": {"noise": 12.0},
    "noise σ20": {"noise": 20.0},
    "blur σ1.0": {"blur": 1.0},
    "jpeg q15": {"jpeg": 15},
    "noise σ12 + jpeg q10": {"noise": 12.0, "jpeg": 10},
    "blur σ1 + noise σ8 + jpeg q20": {"blur": 1.0, "noise": 8.0, "jpeg": 20},
}


def _faces(models: DlibModels, second_pass: bool) -> Faces:
    cfg = FacesConfig(second_pass=second_pass)
    faces = Faces(cfg, default_chunk_s=60, models=ModelStore(Path("unused")))
    faces.use_backend(
        DlibBackend(
            models,
            detect_max_side=cfg.detect_max_side,
            upsample=cfg.upsample,
            min_confidence=cfg.min_confidence,
        )
    )
    return faces


def _score(
    detect: Callable[[Frame], list[Any]],
    frames: list[tuple[np.ndarray[Any, Any], tuple[float, float, float, float] | None]],
) -> tuple[float, float, float]:
    """(recall, precision, ms per frame) of ``detect`` on the frames."""
    tp = fp = positives = 0
    spent = 0.0
    for image, truth in frames:
        start = time.perf_counter()
        found = detect(Frame(0.0, image, 0, "image"))
        spent += time.perf_counter() - start
        positives += truth is not None
        hit = False
        for face in found:
            x0, y0, x1, y1 = face.box
            if truth is not None and not hit:
                tx0, ty0, tx1, ty1 = truth
                if iou([x0, y0, x1 - x0, y1 - y0], [tx0, ty0, tx1 - tx0, ty1 - ty0]) >= 0.3:
                    hit, tp = True, tp + 1
                    continue
            fp += 1
    recall = tp / positives if positives else 0.0
    precision = tp / (tp + fp) if tp + fp else 1.0
    return recall, precision, 1000 * spent / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7, help="noise seed of the calibration set")
    args = parser.parse_args()
    store = ModelStore(Path("unused"))
    models = DlibModels(store.path(SHAPE_68), store.path(RESNET))
    before, after = _faces(models, False), _faces(models, True)
    scenes = [ff.small_face_scene(w, face_px=px, centre=c) for w, px, c in CALIBRATION]
    rows: list[dict[str, object]] = []
    for name, degradation in CONDITIONS.items():
        frames = [
            (ff.degrade(img, seed=args.seed + i, **degradation), box)
            for i, (img, box) in enumerate(scenes)
        ]
        r0, p0, ms0 = _score(before.detect, frames)
        r1, p1, ms1 = _score(after.detect, frames)
        rows.append(
            {
                "condition": name,
                "recall before": f"{r0:.2f}",
                "recall after": f"{r1:.2f}",
                "precision before": f"{p0:.2f}",
                "precision after": f"{p1:.2f}",
                "ms/frame before": f"{ms0:.0f}",
                "ms/frame after": f"{ms1:.0f}",
            }
        )
    print(table(rows))


if __name__ == "__main__":
    main()
