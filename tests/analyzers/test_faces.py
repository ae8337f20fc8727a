"""The faces analyzer: real dlib models on real faces through the real pipeline, plus units."""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from aima.analyzers._faces_common import (
    RawFace,
    blur_score,
    frontal_score,
    is_flat,
    l2_normalise,
    landmarks_plausible,
    nms,
    square_crop,
    tile_origins,
)
from aima.analyzers._faces_dlib import (
    DLIB_MATCH_DISTANCE,
    RESNET,
    SHAPE_68,
    DlibBackend,
    DlibModels,
    hog_confidence,
    hog_threshold,
)
from aima.analyzers._faces_insightface import ARCFACE_TEMPLATE, decode_scrfd, umeyama
from aima.analyzers._faces_tracks import TrackParams, best_detection, link_tracks, mean_embedding
from aima.analyzers._tracking import iou
from aima.analyzers.base import AnalysisContext, Chunk, ChunkData
from aima.analyzers.faces import Faces, FacesConfig
from aima.inference.models import ModelMissing, ModelStore
from aima.media.types import Frame, MediaInfo, MediaKind
from aima.results.vision import USABLE_FACE, UsableFace
from aima.runtime import build_runtime
from tests.analyzers import faces_fixtures as ff
from tests.conftest import make_settings

# ---------------------------------------------------------------- pipeline, real models


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ff.Runs]:
    root = tmp_path_factory.mktemp("faces")
    rt = build_runtime(
        make_settings(
            root / "data",
            f"sqlite:///{root / 'aima.db'}",
            # keyframes at 0, 1 | 2, 3 | 4 s (2-s chunks); still pictures are not skipped as duplicates
            decode={"max_interval_s": 1.0, "duplicate_threshold": 0.0},
        )
    )
    ast, messi = ff.astronaut(), ff.messi()
    makers: dict[str, Any] = {
        "astronaut": lambda: ff.save(ast, root / "astronaut.png"),
        "messi": lambda: ff.save(messi, root / "messi.jpg"),
        "plain": lambda: ff.save(ff.background(640, 480), root / "plain.png"),
        "video": lambda: ff.make_video(
            root / "people.mp4", [(ast, 2.0), (messi, 2.0), (None, 1.0)]
        ),
    }
    for who, img, kinds in (("astronaut", ast, KINDS), ("messi", messi, ("flip", "bright"))):
        for kind, variant in ff.variants(img).items():
            if kind not in kinds:
                continue
            makers[f"{who}-{kind}"] = lambda v=variant, n=f"{who}-{kind}": ff.save(
                v, root / f"{n}.jpg"
            )
    try:
        yield ff.Runs(rt, makers)
    finally:
        rt.close()


KINDS = ("flip", "crop", "bright")


def _only_face(runs: ff.Runs, name: str) -> dict[str, Any]:
    data = runs.data(name, "faces")
    assert data["count"] == 1, [(f["box"], f["confidence"]) for f in data["faces"]]
    face: dict[str, Any] = data["faces"][0]
    return face


@pytest.mark.real_model("faces")
def test_astronaut_has_one_face_after_false_positive_filtering(runs: ff.Runs) -> None:
    data = runs.data("astronaut", "faces")
    assert data["count"] == 1 and data["frames"] == 1  # HOG's hit on the suit is dropped
    face = data["faces"][0]
    x, y, w, h = face["box"]
    assert 0.30 < x < 0.40 and 0.10 < y < 0.20 and 0.15 < w < 0.21 and 0.15 < h < 0.21
    assert 0.85 < face["confidence"] <= 1.0 and face["score"] > 1.0
    assert face["usable"] and face["quality"]["size_px"] >= 85
    assert face["quality"]["blur"] > 100 and face["quality"]["frontal"] > 0.8
    # landmarks: eyes above the nose above the mouth, inside the box
    (lx, ly), (rx, ry), (nx, ny), (mlx, mly), (mrx, mry) = face["landmarks"]
    assert lx < nx < rx and mlx < mrx and max(ly, ry) < ny < min(mly, mry)
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in face["landmarks"])
    emb = np.asarray(face["embedding"])
    assert emb.shape == (128,) and abs(np.linalg.norm(emb) - 1.0) < 1e-4
    assert data["match_distance"] == DLIB_MATCH_DISTANCE and data["embedding_dim"] == 128
    row = ff.results(runs.rt, runs.job("astronaut"))["faces"]
    assert row.model_id.startswith("dlib-20") and row.model_id.endswith("resnet_v1+hog+shape68")


def test_messi_small_face_is_found(runs: ff.Runs) -> None:
    face = _only_face(runs, "messi")
    x, y, w, h = face["box"]
    assert 0.38 < x < 0.45 and 0.22 < y < 0.33  # the player's head, upper middle
    assert w * 548 == pytest.approx(h * 342, abs=1)  # square in pixels
    assert 30 <= face["quality"]["size_px"] <= 45 and face["usable"]


def test_crops_are_jpegs_in_the_blob_store(runs: ff.Runs) -> None:
    for name in ("astronaut", "messi"):
        face = _only_face(runs, name)
        img = Image.open(io.BytesIO(runs.rt.blobs.get_bytes(face["crop"])))
        assert img.format == "JPEG" and img.size == (128, 128)
        # the crop is the face: skin-ish, not the black padding or the background
        assert 60 < np.asarray(img.convert("L")).mean() < 200


def test_plain_image_succeeds_with_zero_faces(runs: ff.Runs) -> None:
    data = runs.data("plain", "faces")
    assert data["count"] == 0 and data["faces"] == [] and data["tracks"] == []
    assert data["frames"] == 1


def test_same_person_is_close_and_different_people_are_far(runs: ff.Runs) -> None:
    def emb(name: str) -> np.ndarray[Any, Any]:
        return np.asarray(_only_face(runs, name)["embedding"])

    ast, messi = emb("astronaut"), emb("messi")
    same = [float(np.linalg.norm(ast - emb(f"astronaut-{k}"))) for k in KINDS]
    same += [float(np.linalg.norm(messi - emb(f"messi-{k}"))) for k in ("flip", "bright")]
    different = [float(np.linalg.norm(messi - emb(f"astronaut-{k}"))) for k in KINDS]
    different.append(float(np.linalg.norm(ast - messi)))
    # measured here: same 0.00-0.18, different 0.54-0.59 (normalised; x1.45 for dlib's raw scale)
    assert max(same) < 0.25 < DLIB_MATCH_DISTANCE, same
    assert min(different) > 0.5 > DLIB_MATCH_DISTANCE, different
    # in dlib's own units (raw descriptors have norm ~1.45) that is dlib's 0.6 rule
    assert max(same) * 1.45 < 0.6 < min(different) * 1.45


def test_video_tracks_cover_each_person_once(runs: ff.Runs) -> None:
    data = runs.data("video", "faces")
    assert data["frames"] == 5  # 0, 1, 2, 3, 4 s
    tracks = data["tracks"]
    assert len(tracks) == 2, [(t["start"], t["end"], t["detections"]) for t in tracks]
    first, second = tracks
    assert (first["start"], first["end"]) == (0.0, 1.0)  # astronaut: 0-2 s
    assert (second["start"], second["end"]) == (2.0, 3.0)  # messi: 2-4 s
    assert len(first["detections"]) == 2 and len(second["detections"]) == 2
    faces = data["faces"]
    assert all(faces[i]["t"] < 2.0 and faces[i]["track"] == 0 for i in first["detections"])
    assert all(2.0 <= faces[i]["t"] < 4.0 for i in second["detections"])
    assert not [f for f in faces if f["t"] >= 4.0]  # the empty background
    a, b = np.asarray(first["embedding"]), np.asarray(second["embedding"])
    assert abs(np.linalg.norm(a) - 1) < 1e-4 and np.linalg.norm(a - b) > data["match_distance"]
    # the track embeddings match the still images of the same people
    ast = np.asarray(_only_face(runs, "astronaut")["embedding"])
    assert np.linalg.norm(a - ast) < 0.25
    for track in tracks:
        assert track["best"] in track["detections"] and track["usable"]
        assert runs.rt.blobs.exists(track["crop"])
    chunks = [c for c in runs.rt.ledger.chunks(runs.job("video").id) if c.analyzer == "faces"]
    assert [c.status for c in chunks] == ["done"] * 3


def test_large_frames_detect_on_a_small_copy_and_keep_full_resolution(
    tmp_path: Path, dlib_models: DlibModels
) -> None:
    faces = _dlib_faces(tmp_path, dlib_models, detect_max_side=512)
    big = np.asarray(ff.astronaut().resize((1024, 1024), Image.Resampling.LANCZOS))
    (face,) = faces.run(*_ctx(tmp_path, big))["frames"][0]["faces"]
    assert face["box"] == pytest.approx([175 / 512, 76 / 512, 91 / 512, 91 / 512], abs=0.02)
    assert face["quality"]["size_px"] > 170  # in decoded (1024 px) pixels, not the copy's
    x, y, w, h = face["box"]
    assert all(x < px < x + w and y < py < y + h for px, py in face["landmarks"])
    assert face["usable"]


def test_tiny_face_is_found_but_not_usable(tmp_path: Path, dlib_models: DlibModels) -> None:
    faces = _dlib_faces(tmp_path, dlib_models, upsample=2)  # upsample 2 finds faces from ~20 px
    small = np.asarray(ff.astronaut().resize((128, 128), Image.Resampling.LANCZOS))
    (face,) = faces.run(*_ctx(tmp_path, small))["frames"][0]["faces"]
    assert face["quality"]["size_px"] < 32 and not face["usable"]
    assert face["embedding"] is None  # below min_embed_px (24)


def test_blurred_face_is_not_usable(tmp_path: Path, dlib_models: DlibModels) -> None:
    faces = _dlib_faces(tmp_path, dlib_models)
    sharp = np.asarray(ff.astronaut())
    soft = np.asarray(ff.astronaut().filter(ImageFilter.GaussianBlur(2)))
    (a,) = faces.run(*_ctx(tmp_path, sharp))["frames"][0]["faces"]
    found = faces.run(*_ctx(tmp_path, soft))["frames"][0]["faces"]
    assert a["usable"] and a["quality"]["blur"] > 100
    assert found and all(
        not f["usable"] and f["quality"]["blur"] < USABLE_FACE.min_blur for f in found
    )


@pytest.mark.parametrize(
    ("who", "face_px", "centre", "degradation"),
    [
        # placements, sizes and seeds differ from benchmarks/face_recall_bench.py CALIBRATION
        ("astronaut", 40, (1000, 230), {"noise": 15.0, "jpeg": 18, "seed": 1234}),
        ("messi", 36, (560, 520), {"noise": 10.0, "blur": 0.8, "seed": 99}),
    ],
)
def test_small_grainy_face_is_found_by_the_second_pass(
    tmp_path: Path,
    dlib_models: DlibModels,
    who: str,
    face_px: int,
    centre: tuple[int, int],
    degradation: dict[str, Any],
) -> None:
    scene, truth = ff.small_face_scene(who, face_px=face_px, centre=centre)
    assert truth is not None
    image = ff.degrade(scene, **degradation)  # 1280x720, face ~40 px
    frame = Frame(0.0, image, 0, "image")
    assert _dlib_faces(tmp_path, dlib_models, second_pass=False).detect(frame) == []
    (face,) = _dlib_faces(tmp_path, dlib_models).detect(frame)
    x0, y0, x1, y1 = face.box
    tx0, ty0, tx1, ty1 = truth
    assert iou([x0, y0, x1 - x0, y1 - y0], [tx0, ty0, tx1 - tx0, ty1 - ty0]) > 0.5
    assert face.confidence >= 0.5
    # the record comes out in frame coordinates with its embedding computed at full size
    (record,) = _dlib_faces(tmp_path, dlib_models).run(*_ctx(tmp_path, image))["frames"][0]["faces"]
    assert record["box"][0] == pytest.approx(x0 / 1280, abs=1e-3)
    assert record["embedding"] is not None


class _CountingBackend:
    """Wraps a backend and records each ``magnify`` it is asked for."""

    def __init__(self, inner: DlibBackend) -> None:
        self.inner = inner
        self.model_id, self.embedding_dim = inner.model_id, inner.embedding_dim
        self.match_distance = inner.match_distance
        self.calls: list[float] = []

    def detect(self, image: np.ndarray[Any, Any], magnify: float = 1.0) -> list[RawFace]:
        self.calls.append(magnify)
        return self.inner.detect(image, magnify)

    def embed(self, items: Any) -> Any:
        return self.inner.embed(items)


def test_second_pass_runs_only_on_faceless_frames_that_are_not_flat(
    tmp_path: Path, dlib_models: DlibModels
) -> None:
    faces = _dlib_faces(tmp_path, dlib_models)
    counting = _CountingBackend(faces._backend)  # type: ignore[arg-type]
    faces.use_backend(counting)
    flat = np.full((360, 640, 3), 30, np.uint8)
    assert faces.detect(Frame(0.0, flat, 0, "image")) == [] and counting.calls == [1.0]
    counting.calls.clear()
    assert faces.detect(Frame(0.0, np.asarray(ff.astronaut()), 0, "image"))
    assert counting.calls == [1.0]  # found on the fast pass
    counting.calls.clear()
    scene = np.asarray(ff.background(640, 360))
    assert faces.detect(Frame(0.0, scene, 0, "image")) == []
    assert counting.calls == [1.0, 2.0]  # looked again, found nothing
    assert is_flat(flat, 4.0) and not is_flat(scene, 4.0)


def test_one_definition_of_a_usable_face() -> None:
    from aima.core.settings import IdentitySettings

    cfg, ident = FacesConfig(), IdentitySettings()
    assert (cfg.min_face_px, cfg.min_blur, cfg.min_frontal) == (
        USABLE_FACE.min_size_px,
        USABLE_FACE.min_blur,
        USABLE_FACE.min_frontal,
    )
    assert (ident.face_min_size_px, ident.face_min_blur, ident.face_min_frontal) == (
        USABLE_FACE.min_size_px,
        USABLE_FACE.min_blur,
        USABLE_FACE.min_frontal,
    )
    good = {"size_px": 40.0, "blur": 30.0, "frontal": 0.8}
    assert USABLE_FACE.accepts(good)
    assert not USABLE_FACE.accepts(good, has_embedding=False)
    assert not USABLE_FACE.accepts({**good, "size_px": 31.9})
    assert not USABLE_FACE.accepts({**good, "blur": 14.9})
    assert not USABLE_FACE.accepts({**good, "frontal": 0.1})
    assert not USABLE_FACE.accepts({})
    assert UsableFace(min_blur=40.0).accepts(good) is False


def test_tiles_cover_the_frame_with_overlap() -> None:
    assert tile_origins(100, 200, 10) == [0]
    starts = tile_origins(1280, 320, 64)
    assert starts[0] == 0 and starts[-1] == 1280 - 320
    assert all(b - a <= 320 - 64 for a, b in itertools.pairwise(starts))


# ---------------------------------------------------------------- direct analyzer tests


def _direct(tmp_path: Path, config: FacesConfig, models: Path | None = None) -> Faces:
    return Faces(config, default_chunk_s=60, models=ModelStore(models or tmp_path / "models"))


@pytest.fixture(scope="module")
def dlib_models() -> DlibModels:
    """The dlib models loaded once for the direct tests (the pipeline tests load their own)."""
    store = ModelStore(Path("unused"))  # package files: the directory is not consulted
    return DlibModels(store.path(SHAPE_68), store.path(RESNET))


def _dlib_faces(tmp_path: Path, models: DlibModels, **config: Any) -> Faces:
    cfg = FacesConfig(**config)
    faces = _direct(tmp_path, cfg)
    faces.use_backend(
        DlibBackend(
            models,
            detect_max_side=cfg.detect_max_side,
            upsample=cfg.upsample,
            min_confidence=cfg.min_confidence,
        )
    )
    return faces


def _ctx(tmp_path: Path, image: np.ndarray[Any, Any]) -> tuple[AnalysisContext, ChunkData]:
    from aima.store.blobs import LocalBlobStore

    info = MediaInfo(MediaKind.IMAGE, "png", "image/png", 1, width=image.shape[1],
                     height=image.shape[0])  # fmt: skip
    ctx = AnalysisContext("m", "j", tmp_path / "x.png", info, LocalBlobStore(tmp_path / "blobs"))
    data = ChunkData(Chunk(0, None, None), ff.FrameSource([Frame(0.0, image, 0, "image")]))  # type: ignore[arg-type]
    return ctx, data


def test_lower_threshold_shows_the_false_hits_that_are_filtered(
    tmp_path: Path, dlib_models: DlibModels
) -> None:
    image = np.asarray(ff.astronaut())
    loose = _dlib_faces(tmp_path, dlib_models, min_confidence=0.2, check_landmarks=False)
    found = loose.run(*_ctx(tmp_path, image))["frames"][0]["faces"]
    assert len(found) >= 2
    extra = [f for f in found if f["box"][1] > 0.5]  # hits on the suit, lower half
    assert extra and all(f["confidence"] < 0.5 for f in extra)
    strict = _dlib_faces(tmp_path, dlib_models)
    assert len(strict.run(*_ctx(tmp_path, image))["frames"][0]["faces"]) == 1


def test_backend_selection(tmp_path: Path) -> None:
    auto = _direct(tmp_path, FacesConfig())
    assert auto.choose_backend() == "dlib" and auto.model_id.startswith("dlib-")
    forced = _direct(tmp_path, FacesConfig(backend="insightface"))
    with pytest.raises(ModelMissing, match=r"scrfd_10g_bnkps\.onnx.*to get it"):
        forced.load()
    (tmp_path / "models" / "insightface").mkdir(parents=True)
    (tmp_path / "models" / "insightface" / "scrfd_10g_bnkps.onnx").write_bytes(b"x")
    assert auto.choose_backend() == "dlib"  # one of two files is not enough
    (tmp_path / "models" / "insightface" / "w600k_r50.onnx").write_bytes(b"x")
    assert auto.choose_backend() == "insightface"
    assert auto.model_id.startswith("insightface/")
    assert _direct(tmp_path, FacesConfig(backend="dlib")).choose_backend() == "dlib"


def test_forced_insightface_without_weights_fails_clearly(tmp_path: Path) -> None:
    rt = build_runtime(
        make_settings(
            tmp_path / "data",
            f"sqlite:///{tmp_path / 'aima.db'}",
            analyzers={"faces": {"backend": "insightface"}},
        )
    )
    try:
        job = ff.run_job(rt, ff.save(ff.background(320, 240), tmp_path / "p.png"))
    finally:
        rt.close()
    assert job.state == "failed"
    assert "scrfd_10g_bnkps.onnx" in job.outcome["faces"]["reason"]
    assert "AIMA_MODELS_DIR" in job.outcome["faces"]["reason"]
    assert job.outcome["emotion"]["status"] == "failed"  # it requires faces


def test_insightface_backend_with_stub_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SCRFD/ArcFace code path (letterbox, decode, NMS, alignment, batching) on stub
    sessions: real weights are not available here."""
    import aima.analyzers._faces_insightface as mod

    stubs = {"scrfd_10g_bnkps.onnx": ff.StubScrfd(), "w600k_r50.onnx": ff.StubArcFace()}
    monkeypatch.setattr(mod, "onnx_session", lambda path, **_: stubs[Path(path).name])
    models = tmp_path / "models"
    (models / "insightface").mkdir(parents=True)
    for name in stubs:
        (models / "insightface" / name).write_bytes(b"stub")
    faces = _direct(tmp_path, FacesConfig(), models)
    assert faces.choose_backend() == "insightface"
    image = np.asarray(ff.background(640, 480))
    out = faces.run(*_ctx(tmp_path, image))
    assert out["model_id"].startswith("insightface/") and out["embedding_dim"] == 512
    (face,) = out["frames"][0]["faces"]
    # centre (320, 240) of the 640x640 letterbox = (320, 240) here (scale 1), 64 px square
    assert face["box"] == pytest.approx([288 / 640, 208 / 480, 64 / 640, 64 / 480], abs=1e-4)
    assert face["confidence"] == pytest.approx(0.9)
    assert len(face["embedding"]) == 512 and face["quality"]["frontal"] == 1.0
    assert face["landmarks"][2] == pytest.approx([320 / 640, (240 + 3.2) / 480], abs=1e-3)


# ------------------------------------------------------------------------ pure units


def test_hog_calibration_is_monotone_and_anchored() -> None:
    assert hog_confidence(0.3) == pytest.approx(0.5)
    assert hog_threshold(0.5) == pytest.approx(0.3)
    assert hog_threshold(hog_confidence(-0.7)) == pytest.approx(-0.7)
    values = [hog_confidence(s) for s in np.linspace(-3, 5, 50)]
    assert all(0 < v < 1 for v in values) and values == sorted(values)
    assert hog_confidence(1.16) > 0.85 and hog_confidence(0.12) < 0.4  # measured TP / FP
    assert hog_confidence(-1e6) == 0.0 and hog_confidence(1e6) == 1.0  # no overflow


def test_iou_and_nms() -> None:
    assert iou([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert iou([0, 0, 1, 1], [2, 2, 1, 1]) == 0.0
    assert iou([0, 0, 2, 1], [1, 0, 2, 1]) == pytest.approx(1 / 3)
    assert iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.5]), 0.4) == [1, 2]


def _face(cx: float = 50, cy: float = 50, size: float = 40) -> RawFace:
    pts = np.array([[-0.2, -0.15], [0.2, -0.15], [0, 0.05], [-0.15, 0.25], [0.15, 0.25]])
    lm = (pts * size + [cx, cy]).astype(np.float32)
    return RawFace((cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), 1.0, 0.9, lm)


def test_frontal_score_and_landmark_plausibility() -> None:
    face = _face()
    assert frontal_score(face.landmarks) == 1.0 and landmarks_plausible(face.landmarks, face)
    turned = face.landmarks.copy()
    turned[2, 0] += 2  # nose towards the right eye
    assert 0.2 < frontal_score(turned) < 0.8
    turned[2, 0] += 10  # beyond the eye/mouth midline: profile
    assert frontal_score(turned) == 0.0
    angle = math.radians(30)  # head roll does not count as turning away
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    assert frontal_score((face.landmarks - 50) @ rot.T + 50) == pytest.approx(1.0)
    upside = face.landmarks.copy()
    upside[:, 1] = 100 - upside[:, 1]  # mouth above the eyes
    assert not landmarks_plausible(upside, face)
    squeezed = face.landmarks.copy()
    squeezed[1, 0] = squeezed[0, 0] + 2  # eyes 2 px apart in a 40 px box
    assert not landmarks_plausible(squeezed, face)
    assert not landmarks_plausible(face.landmarks + 60, face)  # far outside the box


def test_blur_score_and_square_crop() -> None:
    rng = np.random.default_rng(0)
    sharp = (rng.random((80, 80, 3)) > 0.5).astype(np.uint8) * 255
    soft = np.asarray(Image.fromarray(sharp).filter(ImageFilter.GaussianBlur(3)))
    assert blur_score(sharp, (0, 0, 80, 80)) > 10 * blur_score(soft, (0, 0, 80, 80))
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = square_crop(image, (0, 0, 20, 40), 0.25, 64)
    assert crop.shape == (64, 64, 3)
    assert crop[32, 0].tolist() == [0, 0, 0] and crop[32, 40].tolist() == [200, 200, 200]


def _det(frame: int, box: list[float], emb: list[float] | None, shot: int = 0) -> dict[str, Any]:
    vec = None if emb is None else l2_normalise(np.asarray(emb))[0].tolist()
    return {"frame": frame, "t": frame * 0.5, "shot": shot, "box": box, "embedding": vec}


PARAMS = TrackParams(min_iou=0.3, max_distance=0.41, relink_distance=0.31, max_missed=1)
A, B = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]  # two people (distance 1.41)


def test_tracks_follow_a_person_and_split_people() -> None:
    here, there = [0.4, 0.2, 0.2, 0.2], [0.0, 0.6, 0.2, 0.2]
    faces = [
        _det(0, here, A),
        _det(1, here, A),
        _det(2, there, [0.98, 0.05, 0.0]),  # A moved far between keyframes: relinked
        _det(3, there, B),  # B takes A's place without a cut: embedding veto
        _det(4, there, B),
    ]
    assert link_tracks(faces, PARAMS) == [[0, 1, 2], [3, 4]]


def test_tracks_without_embeddings_use_overlap_and_respect_shots_and_gaps() -> None:
    box = [0.4, 0.2, 0.2, 0.2]
    moved = [0.45, 0.22, 0.2, 0.2]  # IoU ~0.55
    faces = [
        _det(0, box, None),
        _det(1, moved, None),
        _det(3, moved, None),  # one keyframe missed: same track (max_missed=1)
        _det(6, moved, None),  # two missed: new track
        _det(7, moved, None, shot=1),  # a cut: new track
        _det(7, [0.0, 0.0, 0.1, 0.1], None, shot=1),  # second face in the frame
    ]
    assert link_tracks(faces, PARAMS) == [[0, 1, 2], [3], [4], [5]]
    far = [_det(0, box, None), _det(1, [0.0, 0.7, 0.2, 0.2], None)]
    assert link_tracks(far, PARAMS) == [[0], [1]]  # no overlap, nothing else to go by


def test_track_summary_picks_best_crop_and_normalised_mean() -> None:
    faces = [
        {"usable": True, "quality": {"size_px": 40, "blur": 100, "frontal": 0.9},
         "embedding": l2_normalise(np.asarray([1.0, 0.1]))[0].tolist()},
        {"usable": True, "quality": {"size_px": 80, "blur": 100, "frontal": 0.9},
         "embedding": l2_normalise(np.asarray([1.0, -0.1]))[0].tolist()},
        {"usable": False, "quality": {"size_px": 200, "blur": 2, "frontal": 1.0},
         "embedding": [0.0, 1.0]},
    ]  # fmt: skip
    assert best_detection(faces, [0, 1, 2], min_blur=20) == 1
    mean = mean_embedding(faces, [0, 1, 2])
    assert mean == pytest.approx([1.0, 0.0], abs=1e-6)  # the unusable one is left out
    assert mean_embedding([{"usable": False, "embedding": None}], [0]) is None


def test_umeyama_recovers_a_similarity_and_scrfd_decoding() -> None:
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = ARCFACE_TEMPLATE
    dst = src @ (scale * rot).T + shift
    m = umeyama(src, dst)
    assert m[:, :2] == pytest.approx(scale * rot) and m[:, 2] == pytest.approx(shift)
    outs = ff.StubScrfd().run(None, {"x": np.zeros((1, 3, 640, 640), np.float32)})
    boxes, scores, kps = decode_scrfd(outs, (640, 640), 0.5)
    assert boxes.tolist() == [[288, 208, 352, 272]] and scores.tolist() == pytest.approx([0.9])
    assert kps[0, 0].tolist() == pytest.approx([320 - 12.8, 240 - 9.6])
    assert len(decode_scrfd(outs, (640, 640), 0.95)[1]) == 0
