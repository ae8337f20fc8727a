"""The nsfw analyzer: NudeNet's real 320n model on benign media through the real pipeline,
parity with NudeNet's own pipeline, and numpy-level units of pre/post-processing.

Only benign pictures are used (the astronaut, a footballer, a test pattern): the
tests check that such content is not flagged, that context labels (faces) are
reported, and that the decoding maths is right on synthetic tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from skimage import data as skdata

from aima.analyzers._tracking import nms
from aima.analyzers.nsfw import (
    EXPLICIT_LABELS,
    NUDENET_640M,
    NUDENET_LABELS,
    Nsfw,
    NsfwConfig,
    flagged_spans,
    frame_score,
    postprocess,
    preprocess,
)
from aima.inference.models import ModelStore
from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.services.access import cli_principal
from tests.mediagen import synth

MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")


def _astronaut(tmp_path: Path) -> Path:
    path = tmp_path / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(path)
    return path


def _run(rt: Runtime, path: Path) -> tuple[str, dict[str, Any]]:
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=["nsfw"])
    assert outcome.status == "created" and outcome.job_id, outcome.error
    assert rt.make_worker("t").run_once()
    job = rt.ledger.get(outcome.job_id)
    assert job.state == JobState.SUCCEEDED, (job.error, job.outcome)
    (result,) = rt.ledger.results(outcome.job_id)
    assert result.analyzer == "nsfw" and result.model_id == "nudenet-3.4.2:320n"
    return outcome.job_id, result.data


def _assert_benign(data: dict[str, Any]) -> None:
    assert data["max_score"] < 0.2 and all(f["score"] < 0.2 for f in data["frames"])
    assert data["spans"] == [] and data["flagged"] is False


# --- real model, real pipeline -------------------------------------------------------------


@pytest.mark.real_model("nsfw")
def test_astronaut_is_benign_with_a_face_as_context(runtime: Runtime, tmp_path: Path) -> None:
    _, data = _run(runtime, _astronaut(tmp_path))
    _assert_benign(data)
    (frame,) = data["frames"]
    assert frame["t"] == 0.0 and frame["score"] == 0.0
    faces = [lab for lab in frame["labels"] if lab["label"] == "FACE_FEMALE"]
    assert faces and faces[0]["confidence"] == pytest.approx(0.72, abs=0.03)
    x, y, w, h = faces[0]["box"]  # the face is in the upper middle-left of the picture
    assert 0.25 < x + w / 2 < 0.5 and 0.15 < y + h / 2 < 0.4
    assert data["max_t"] is None  # no explicit label anywhere


def test_footballer_photo_is_benign(sqlite_runtime: Runtime) -> None:
    if not MESSI.exists():
        pytest.skip(f"{MESSI} missing: install the Debian package opencv-doc")
    _, data = _run(sqlite_runtime, MESSI)
    _assert_benign(data)


def test_test_pattern_video_is_benign(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    video = synth.make_video(tmp_path / "pattern.mp4", seconds=5.0, width=640, height=360)
    job_id, data = _run(sqlite_runtime, video)
    assert len(sqlite_runtime.ledger.chunks(job_id)) == 3  # chunk_s=2 in tests
    times = [f["t"] for f in data["frames"]]
    assert len(times) >= 3 and times == sorted(times)
    _assert_benign(data)


def test_audio_is_skipped(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    audio = synth.make_audio(tmp_path / "tone.wav", seconds=2.0)
    outcome = sqlite_runtime.ingest.ingest_file(audio, cli_principal(), analyzers=["nsfw"])
    assert outcome.job_id
    assert sqlite_runtime.make_worker("t").run_once()
    job = sqlite_runtime.ledger.get(outcome.job_id)
    assert job.outcome["nsfw"]["status"] == "skipped"
    assert sqlite_runtime.ledger.results(outcome.job_id) == []


def test_same_labels_as_nudenets_own_pipeline(tmp_path: Path) -> None:
    from nudenet import NudeDetector

    path = _astronaut(tmp_path)
    reference = NudeDetector().detect(str(path))
    ours = Nsfw(NsfwConfig(), default_chunk_s=60, models=ModelStore(tmp_path))
    ours.ensure_loaded()
    image = np.asarray(Image.open(path).convert("RGB"))
    (labels,) = ours.detect([image])
    assert [lab["label"] for lab in labels] == [r["class"] for r in reference]
    for lab, ref in zip(labels, reference, strict=True):
        assert lab["confidence"] == pytest.approx(ref["score"], abs=1e-3)
        # the astronaut is 512x512; NudeNet truncates its pixel boxes to int
        assert [v * 512 for v in lab["box"]] == pytest.approx(ref["box"], abs=1.5)
    # RGB input (what the network was trained on) scores the face higher than NudeNet's BGR
    rgb = Nsfw(NsfwConfig(channels="rgb"), default_chunk_s=60, models=ModelStore(tmp_path))
    rgb.ensure_loaded()
    (rgb_labels,) = rgb.detect([image])
    assert rgb_labels[0]["label"] == "FACE_FEMALE"
    assert rgb_labels[0]["confidence"] > labels[0]["confidence"]


# --- units ---------------------------------------------------------------------------------


def test_preprocess_pads_right_and_bottom_and_orders_channels() -> None:
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    image[..., 0] = 255  # pure red
    bgr, side = preprocess(image, 64, "bgr")
    assert side == 200 and bgr.shape == (3, 64, 64) and bgr.dtype == np.float32
    assert bgr[2, :30].min() == pytest.approx(1.0) and bgr[0].max() == 0.0  # red is channel 2
    assert bgr[:, 34:].max() == 0.0  # the bottom half is black padding
    rgb, _ = preprocess(image, 64, "rgb")
    assert rgb[0, :30].min() == pytest.approx(1.0) and rgb[2].max() == 0.0


def _nudenet_output(rows: list[list[float]]) -> np.ndarray:
    """[4 + 18, anchors]; each row ``[cx, cy, w, h, class index, score]`` in model pixels."""
    out = np.zeros((4 + len(NUDENET_LABELS), len(rows) + 2), dtype=np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(rows):
        out[:4, i] = (cx, cy, w, h)
        out[4 + int(cls), i] = score
    return out


def test_postprocess_maps_model_boxes_back_to_the_frame() -> None:
    face = NUDENET_LABELS.index("FACE_FEMALE")
    feet = NUDENET_LABELS.index("FEET_COVERED")
    # a 640x480 frame is padded to 640x640 and fed at 320: model pixels x 2 = frame pixels
    output = _nudenet_output(
        [
            [100, 60, 40, 40, face, 0.8],  # frame x 160..240, y 80..160
            [101, 61, 40, 40, feet, 0.5],  # overlaps the face: class-agnostic NMS drops it
            [300, 200, 60, 80, feet, 0.6],  # frame x 540..660 (clipped to 640), y 320..480
            [310, 250, 40, 20, feet, 0.9],  # in the padding below the frame: clipped away
            [50, 50, 10, 10, feet, 0.2],  # under min_confidence
        ]
    )
    labels = postprocess(output, side=640, size=320, width=640, height=480)
    assert [lab["label"] for lab in labels] == ["FACE_FEMALE", "FEET_COVERED"]
    assert [lab["confidence"] for lab in labels] == [0.8, 0.6]
    assert labels[0]["box"] == pytest.approx([160 / 640, 80 / 480, 80 / 640, 80 / 480], abs=1e-4)
    assert labels[1]["box"] == pytest.approx([540 / 640, 320 / 480, 100 / 640, 160 / 480], abs=1e-4)
    with pytest.raises(ValueError, match="output shape"):
        postprocess(np.zeros((10, 5)), side=1, size=1, width=1, height=1)


def test_nms_matches_opencv() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        xy = rng.uniform(0, 100, size=(30, 2))
        wh = rng.uniform(5, 40, size=(30, 2))
        boxes = np.hstack([xy, wh])
        scores = rng.uniform(0.3, 1.0, size=30)
        expected = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.25, 0.45)
        assert nms(boxes, scores, 0.45) == [int(i) for i in np.ravel(expected)]


def test_frame_score_uses_only_explicit_labels_and_spans_group_runs() -> None:
    def frame(t: float, *labels: tuple[str, float]) -> dict[str, Any]:
        labs = [{"label": n, "confidence": c, "box": [0, 0, 0.1, 0.1]} for n, c in labels]
        return {"t": t, "labels": labs, "score": frame_score(labs, EXPLICIT_LABELS)}

    frames = [
        frame(0.0, ("FACE_FEMALE", 0.9), ("BELLY_EXPOSED", 0.8)),  # context only: score 0
        frame(2.0, ("BUTTOCKS_EXPOSED", 0.6)),
        frame(4.0, ("FEMALE_BREAST_EXPOSED", 0.7), ("BUTTOCKS_EXPOSED", 0.55)),
        frame(6.0, ("FEMALE_BREAST_EXPOSED", 0.3)),
        frame(8.0, ("ANUS_EXPOSED", 0.51)),
    ]
    assert [f["score"] for f in frames] == [0.0, 0.6, 0.7, 0.3, 0.51]
    spans = flagged_spans(frames, 0.5, EXPLICIT_LABELS)
    assert spans == [
        {
            "start": 2.0,
            "end": 4.0,
            "score": 0.7,
            "labels": ["FEMALE_BREAST_EXPOSED", "BUTTOCKS_EXPOSED"],
        },
        {"start": 8.0, "end": 8.0, "score": 0.51, "labels": ["ANUS_EXPOSED"]},
    ]
    nsfw = Nsfw(NsfwConfig(), default_chunk_s=60, models=ModelStore(Path("unused")))
    out = nsfw.finalize(None, [{"frames": frames[:3]}, {"frames": frames[3:]}])  # type: ignore[arg-type]
    assert (out["max_score"], out["max_t"], out["flagged"]) == (0.7, 4.0, True)
    assert out["spans"] == spans and len(out["frames"]) == 5


def test_model_selection_and_config(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert Nsfw(NsfwConfig(), default_chunk_s=60, models=store).variant == "320n"
    weights = tmp_path / NUDENET_640M.path
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"stand-in")
    auto = Nsfw(NsfwConfig(), default_chunk_s=60, models=ModelStore(tmp_path))
    assert auto.variant == "640m" and auto.spec is NUDENET_640M
    assert auto.model_id.startswith("nudenet:640m@")  # an unpinned file: its hash is the id
    pinned = Nsfw(NsfwConfig(model="320n"), default_chunk_s=60, models=ModelStore(tmp_path))
    assert pinned.variant == "320n"
    with pytest.raises(ValidationError, match="unknown NudeNet labels"):
        NsfwConfig(explicit_labels=("FACE_FEMALE", "NAKED"))
    with pytest.raises(ValidationError):
        NsfwConfig(flag_treshold=0.3)  # type: ignore[call-arg]


class _StubSession:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]:
        (tensor,) = input_feed.values()
        assert tensor.shape[1:] == (3, 640, 640)
        self.batches.append(tensor.shape[0])
        face = NUDENET_LABELS.index("FACE_MALE")
        one = _nudenet_output([[320, 100, 80, 80, face, 0.66]])
        return [np.repeat(one[None], tensor.shape[0], axis=0)]


def test_frames_are_batched_through_the_session(tmp_path: Path) -> None:
    nsfw = Nsfw(NsfwConfig(batch_size=3), default_chunk_s=60, models=ModelStore(tmp_path))
    stub = _StubSession()
    nsfw._session, nsfw._size = stub, 640  # type: ignore[assignment]
    images = [np.zeros((360, 640, 3), np.uint8) for _ in range(7)]
    found = nsfw.detect(images)
    assert stub.batches == [3, 3, 1] and len(found) == 7
    assert all(f[0]["label"] == "FACE_MALE" and f[0]["confidence"] == 0.66 for f in found)
