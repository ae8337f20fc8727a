"""The bodies analyzer: real HOG detector through the real pipeline, plus numpy-level units.

People come from OpenCV's own sample data (Debian ``opencv-doc``): ``basketball1.png``
(two men, one fully visible) and the first seconds of ``vtest.avi`` (pedestrians,
MS-MPEG4v3 in AVI, cut at test time with a stream copy). A ``testsrc2`` pattern has
no people.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aima.analyzers._tracking import iou, link_tracks, nms
from aima.analyzers.bodies import (
    YOLO_SPEC,
    Bodies,
    BodiesConfig,
    decode_yolov8,
    hog_confidence,
    letterbox,
)
from aima.inference.models import ModelMissing, ModelStore
from aima.jobs.states import JobState
from aima.media import synth
from aima.media.types import Frame
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _sample(name: str) -> Path:
    path = OPENCV_DATA / name
    if not path.exists():
        pytest.skip(f"{path} missing: install the Debian package opencv-doc")
    return path


def _run(rt: Runtime, path: Path) -> tuple[str, dict[str, Any]]:
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=["bodies"])
    assert outcome.status == "created" and outcome.job_id, outcome.error
    assert rt.make_worker("t").run_once()
    job = rt.ledger.get(outcome.job_id)
    assert job.state == JobState.SUCCEEDED, (job.error, job.outcome)
    (result,) = rt.ledger.results(outcome.job_id)
    assert result.analyzer == "bodies"
    assert result.model_id.startswith("opencv-hog-people:")
    return outcome.job_id, result.data


def _assert_in_frame(box: list[float]) -> None:
    x, y, w, h = box
    assert x >= 0 and y >= 0 and w > 0 and h > 0
    assert x + w <= 1.0001 and y + h <= 1.0001


@pytest.fixture
def dense_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """Keyframes every 0.5 s (default 2 s) so walking people overlap between keyframes."""
    settings = make_settings(
        tmp_path / "data", f"sqlite:///{tmp_path / 'aima.db'}", decode={"max_interval_s": 0.5}
    )
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


# --- real detector, real pipeline ----------------------------------------------------------


def test_people_in_an_image_are_found(runtime: Runtime) -> None:
    _, data = _run(runtime, _sample("basketball1.png"))
    assert data["backend"] == "hog" and data["keyframes"] == 1
    assert data["max_people"] >= 1
    for det in data["detections"]:
        _assert_in_frame(det["box"])
        assert 0 <= det["confidence"] <= 1 and det["t"] == 0.0
    # the fully visible man on the left (x < 0.35 of the frame) is found confidently
    left = [d for d in data["detections"] if d["box"][0] + d["box"][2] / 2 < 0.35]
    assert left and max(d["confidence"] for d in left) > 0.8
    assert len(data["tracks"]) == len(data["detections"])  # one frame: one box per track


def test_pedestrians_in_an_old_avi_are_tracked(dense_runtime: Runtime, tmp_path: Path) -> None:
    clip = tmp_path / "vtest4.avi"  # 4 s of the original MS-MPEG4v3 stream, not re-encoded
    source = str(_sample("vtest.avi"))
    cut = ["-t", "4", "-c", "copy", "-f", "avi", str(clip)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", source, *cut], check=True)
    job_id, data = _run(dense_runtime, clip)
    assert len(dense_runtime.ledger.chunks(job_id)) == 2  # chunk_s=2 in tests
    assert data["keyframes"] >= 6
    assert data["max_people"] >= 2  # 3-4 pedestrians are in view
    for det in data["detections"]:
        _assert_in_frame(det["box"])
    # a walking person is followed over several keyframes (>= 1 s)
    long = [t for t in data["tracks"] if len(t["boxes"]) >= 3]
    assert long, data["tracks"]
    for track in data["tracks"]:
        times = [b["t"] for b in track["boxes"]]
        assert times == sorted(times) and (track["start"], track["end"]) == (times[0], times[-1])
    # every detection points at the track that holds its box
    by_id = {t["id"]: t for t in data["tracks"]}
    for det in data["detections"]:
        assert {"t": det["t"], "box": det["box"]} in by_id[det["track"]]["boxes"]


def test_no_people_in_a_test_pattern(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    video = synth.make_video(tmp_path / "pattern.mp4", seconds=3.0, width=640, height=480)
    _, data = _run(sqlite_runtime, video)
    assert data["keyframes"] >= 2
    assert data["max_people"] == 0 and data["detections"] == [] and data["tracks"] == []


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


def test_backend_selection(tmp_path: Path) -> None:
    assert _analyzer(tmp_path).backend == "hog"  # nothing in the models dir
    weights = tmp_path / YOLO_SPEC.path
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"not really onnx")
    auto = _analyzer(tmp_path)
    assert auto.backend == "yolo" and auto.model_id.startswith("yolov8-onnx:yolo/yolov8n.onnx@")
    assert _analyzer(tmp_path, backend="hog").backend == "hog"
    forced = _analyzer(tmp_path / "empty", backend="yolo")
    with pytest.raises(ModelMissing, match=r"yolov8n\.onnx.*yolo export"):
        forced.load()


def _yolo_output(rows: list[list[float]], classes: int = 80) -> np.ndarray:
    """[1, 4 + classes, anchors] like an ultralytics export, one row per anchor given as
    ``[cx, cy, w, h, class, score]``."""
    out = np.zeros((1, 4 + classes, 210), dtype=np.float32)  # 2100 anchors at 320 px
    for i, (cx, cy, w, h, cls, score) in enumerate(rows):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + int(cls), i] = score
    return out


def test_letterbox_and_yolov8_decoding_map_back_to_the_frame() -> None:
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
        )
        assert [round(c, 2) for _, c in found] == [0.9, 0.6]
        assert found[0][0] == pytest.approx([100 / 640, 48 / 480, 100 / 640, 320 / 480], abs=1e-4)
        x, y, w, _ = found[1][0]
        assert x + w == pytest.approx(1.0, abs=1e-4)
        assert y == pytest.approx((100 - 40) * 2 / 480, abs=1e-4)


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
    bodies._session, bodies._input_side, bodies._fixed_batch = stub, 320, 2
    frames = [Frame(t=i * 0.5, image=np.zeros((240, 320, 3), np.uint8)) for i in range(3)]
    found = bodies._detect_yolo(frames)
    assert stub.calls == [(2, 3, 320, 320), (2, 3, 320, 320)]  # last batch padded to 2
    assert len(found) == 3 and all(len(f) == 1 and f[0][1] == pytest.approx(0.77) for f in found)
