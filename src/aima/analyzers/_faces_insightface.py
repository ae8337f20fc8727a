"""The stronger face backend: InsightFace SCRFD detector + ArcFace (w600k_r50) embedding, ONNX.

Used when an operator puts both files in the models directory (``AIMA_MODELS_DIR``):
``insightface/scrfd_10g_bnkps.onnx`` and ``insightface/w600k_r50.onnx`` (from the
InsightFace ``buffalo_l`` model pack; the detector there is named ``det_10g.onnx``).
Sessions come from :func:`aima.inference.sessions.onnx_session` (CUDA when present).

Pre/post-processing follows InsightFace's reference ``SCRFD``/``ArcFaceONNX`` code:
SCRFD gets the image letterboxed into the top-left of a 640x640 canvas, ``(x - 127.5) /
128``, RGB, NCHW; its outputs are per-stride score, distance-box and keypoint maps
(strides 8/16/32 with two anchors, or 8..128 with one), decoded around anchor centres,
filtered at ``min_confidence`` and merged by NMS at IoU 0.4. The score is the model's
own sigmoid probability and is used as ``confidence`` unchanged. ArcFace gets a
112x112 crop aligned by a similarity transform (Umeyama) of the five keypoints onto
the standard ArcFace template, ``(x - 127.5) / 127.5``, RGB, NCHW; its 512-d output is
L2-normalised.

The same-person threshold (L2 distance 1.1 on normalised vectors, cosine 0.395) is the
usual ArcFace operating point, not measured here: no weights were available to test.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from aima.analyzers._faces_common import (
    FloatArray,
    Image8,
    RawFace,
    l2_normalise,
    nms,
    shift_face,
    tile_origins,
)
from aima.core.errors import ConfigError
from aima.inference.models import ModelSpec
from aima.inference.sessions import InferenceSession, onnx_session

_HOW = (
    "optional: copy scrfd_10g_bnkps.onnx (buffalo_l's det_10g.onnx) and w600k_r50.onnx from the "
    "InsightFace model zoo into <AIMA_MODELS_DIR>/insightface/; mind their non-commercial licence"
)
SCRFD = ModelSpec(
    name="insightface-scrfd-10g-kps",
    path="insightface/scrfd_10g_bnkps.onnx",
    how_to_get=_HOW,
    optional=True,
    description="SCRFD 10G face detector with 5 keypoints (ONNX)",
    version="buffalo_l SCRFD-10G",
    licence="InsightFace models: non-commercial research use",
)
ARCFACE = ModelSpec(
    name="insightface-arcface-w600k-r50",
    path="insightface/w600k_r50.onnx",
    how_to_get=_HOW,
    optional=True,
    description="ArcFace ResNet-50 (WebFace600K) 512-d face embedding (ONNX)",
    version="buffalo_l w600k_r50",
    licence="InsightFace models: non-commercial research use",
)
INSIGHTFACE_SPECS = (SCRFD, ARCFACE)

ARCFACE_MATCH_DISTANCE = 1.1
DET_SIZE = 640
NMS_IOU = 0.4
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def umeyama(src: NDArray[Any], dst: NDArray[Any]) -> NDArray[np.float64]:
    """The 2x3 similarity transform (rotation, uniform scale, shift) taking ``src`` onto ``dst``
    in the least-squares sense (Umeyama 1991; what ``skimage`` uses for ``norm_crop``)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    d = np.ones(2)
    if np.linalg.det(cov) < 0:
        d[1] = -1.0
    u, s, vt = np.linalg.svd(cov)
    rot = u @ np.diag(d) @ vt
    var = src_c.var(axis=0).sum()
    scale = float(s @ d / var) if var > 0 else 1.0
    out = np.zeros((2, 3), dtype=np.float64)
    out[:, :2] = rot * scale
    out[:, 2] = dst_mean - scale * (rot @ src_mean)
    return out


def anchor_centres(height: int, width: int, stride: int, anchors: int) -> FloatArray:
    """SCRFD anchor centres for one feature map, row-major, each repeated ``anchors`` times."""
    ys, xs = np.mgrid[:height, :width]
    centres = (np.stack([xs, ys], axis=-1).astype(np.float32) * stride).reshape(-1, 2)
    if anchors > 1:
        centres = np.repeat(centres, anchors, axis=0)
    out: FloatArray = centres
    return out


def decode_scrfd(
    outputs: Sequence[NDArray[Any]],
    input_hw: tuple[int, int],
    threshold: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """SCRFD raw outputs -> (boxes x0y0x1y1, scores, keypoints Nx5x2) in input pixels, after NMS."""
    n = len(outputs)
    if n not in (9, 15):
        raise ConfigError(
            f"SCRFD model has {n} outputs; AIMA needs a keypoint model (9 or 15 outputs, "
            "e.g. scrfd_10g_bnkps / det_10g)"
        )
    fmc = 3 if n == 9 else 5
    strides = [8, 16, 32] if fmc == 3 else [8, 16, 32, 64, 128]
    anchors = 2 if fmc == 3 else 1
    boxes, scores, kpss = [], [], []
    for i, stride in enumerate(strides):
        score = np.asarray(outputs[i]).reshape(-1)
        dist = np.asarray(outputs[i + fmc]).reshape(-1, 4) * stride
        kps = np.asarray(outputs[i + 2 * fmc]).reshape(-1, 10) * stride
        centres = anchor_centres(input_hw[0] // stride, input_hw[1] // stride, stride, anchors)
        keep = np.where(score >= threshold)[0]
        c = centres[keep]
        d = dist[keep]
        boxes.append(np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1))
        k = kps[keep].reshape(-1, 5, 2) + c[:, None, :]
        kpss.append(k)
        scores.append(score[keep])
    all_boxes = np.concatenate(boxes).astype(np.float32)
    all_scores = np.concatenate(scores).astype(np.float32)
    all_kps = np.concatenate(kpss).astype(np.float32)
    if len(all_scores) == 0:
        return all_boxes.reshape(0, 4), all_scores, all_kps.reshape(0, 5, 2)
    keep_idx = nms(all_boxes, all_scores, NMS_IOU)
    return all_boxes[keep_idx], all_scores[keep_idx], all_kps[keep_idx]


class InsightFaceBackend:
    embedding_dim = 512
    match_distance = ARCFACE_MATCH_DISTANCE
    model_id = "insightface/scrfd_10g_bnkps+arcface_w600k_r50"

    def __init__(self, scrfd_path: Path, arcface_path: Path, *, min_confidence: float) -> None:
        self._det: InferenceSession = onnx_session(scrfd_path)
        self._rec: InferenceSession = onnx_session(arcface_path)
        self.threshold = min_confidence
        shape = self._det.get_inputs()[0].shape
        fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        self._det_hw = (int(shape[2]), int(shape[3])) if fixed else (DET_SIZE, DET_SIZE)
        rec_shape = self._rec.get_inputs()[0].shape
        self._rec_side = int(rec_shape[2]) if isinstance(rec_shape[2], int) else 112
        self._rec_batch = not isinstance(rec_shape[0], int) or rec_shape[0] != 1

    def detect(self, image: Image8, magnify: float = 1.0) -> list[RawFace]:
        """SCRFD on the letterboxed frame; with ``magnify`` > 1 on overlapping tiles, each
        letterboxed to the same input, so faces appear ``magnify`` times larger."""
        if magnify <= 1.0:
            return self._detect_once(image)
        h, w = image.shape[:2]
        dh, dw = self._det_hw
        scale = min(dh / h, dw / w) * magnify
        th, tw = min(h, max(1, round(dh / scale))), min(w, max(1, round(dw / scale)))
        overlap_y, overlap_x = th // 5, tw // 5  # a face cut by one tile is whole in the next
        found: list[RawFace] = []
        for y0 in tile_origins(h, th, overlap_y):
            for x0 in tile_origins(w, tw, overlap_x):
                tile = np.ascontiguousarray(image[y0 : y0 + th, x0 : x0 + tw])
                found.extend(shift_face(f, x0, y0) for f in self._detect_once(tile))
        if not found:
            return []
        boxes = np.array([f.box for f in found], dtype=np.float64)
        keep = nms(boxes, np.array([f.score for f in found]), NMS_IOU)
        return [found[i] for i in keep]

    def _detect_once(self, image: Image8) -> list[RawFace]:
        import cv2

        h, w = image.shape[:2]
        dh, dw = self._det_hw
        scale = min(dh / h, dw / w)
        nh, nw = max(1, int(h * scale)), max(1, int(w * scale))
        canvas = np.zeros((dh, dw, 3), dtype=np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh))
        blob = ((canvas.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        name = self._det.get_inputs()[0].name
        outputs = self._det.run(None, {name: blob})
        boxes, scores, kps = decode_scrfd(outputs, (dh, dw), self.threshold)
        faces = []
        for box, score, pts in zip(boxes / scale, scores, kps / scale, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            faces.append(RawFace((x0, y0, x1, y1), float(score), float(score), pts))
        return faces

    def align(self, image: Image8, face: RawFace) -> Image8:
        import cv2

        template = ARCFACE_TEMPLATE * (self._rec_side / 112.0)
        matrix = umeyama(face.landmarks, template)
        out = cv2.warpAffine(
            image, matrix, (self._rec_side, self._rec_side), borderValue=(0.0, 0.0, 0.0)
        )
        return np.asarray(out, dtype=np.uint8)

    def embed(self, items: Sequence[tuple[Image8, RawFace]]) -> FloatArray:
        if not items:
            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        crops = np.stack([self.align(img, face) for img, face in items]).astype(np.float32)
        blob = ((crops - 127.5) / 127.5).transpose(0, 3, 1, 2)
        name = self._rec.get_inputs()[0].name
        if self._rec_batch:
            out = np.asarray(self._rec.run(None, {name: blob})[0])
        else:
            out = np.concatenate(
                [np.asarray(self._rec.run(None, {name: b[None]})[0]) for b in blob]
            )
        return l2_normalise(out.reshape(len(items), -1))
