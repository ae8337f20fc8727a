"""The thumbnails analyzer end to end on real generated media (ffmpeg + Pillow)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aima.analyzers.thumbnails import merge_columns
from aima.jobs.states import JobState
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.mediagen import synth


def _run(rt: Runtime, path: Path) -> tuple[str, dict]:  # type: ignore[type-arg]
    outcome = rt.ingest.ingest_file(path, cli_principal())
    assert outcome.status == "created" and outcome.job_id
    worker = rt.make_worker("t")
    assert worker.run_once()
    job = rt.ledger.get(outcome.job_id)
    assert job.state == JobState.SUCCEEDED, job.error
    (result,) = rt.ledger.results(outcome.job_id)
    assert result.analyzer == "thumbnails" and result.model_id.startswith("pillow-")
    return outcome.job_id, result.data


@pytest.mark.real_model("thumbnails")
def test_video_thumbnail_is_a_real_frame_from_each_chunk(runtime: Runtime, tmp_path: Path) -> None:
    video = synth.make_video(tmp_path / "v.mp4", seconds=5.0, width=320, height=240)
    job_id, data = _run(runtime, video)
    chunks = runtime.ledger.chunks(job_id)
    assert len(chunks) == 3  # chunk_s=2 in tests: 0-2, 2-4, 4-5
    assert all(c.status == "done" and c.attempts == 1 for c in chunks)
    # one candidate keyframe from inside each chunk (exact frame times)
    windows = [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]
    assert all(
        lo <= c["t"] < hi + 1e-6 for c, (lo, hi) in zip(data["candidates"], windows, strict=True)
    )
    img = Image.open(io.BytesIO(runtime.blobs.get_bytes(data["thumbnail"])))
    assert img.format == "JPEG" and max(img.size) == 320
    assert data["thumbnail"] in {c["blob"] for c in data["candidates"]}


def test_image_thumbnail_is_scaled(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    image = synth.make_image(tmp_path / "big.jpg", width=1600, height=900)
    _, data = _run(sqlite_runtime, image)
    assert (data["width"], data["height"]) == (320, 180)


def test_audio_gets_a_waveform(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    audio = synth.make_audio(tmp_path / "a.wav", seconds=3.0)
    _, data = _run(sqlite_runtime, audio)
    img = Image.open(io.BytesIO(sqlite_runtime.blobs.get_bytes(data["waveform"])))
    assert img.format == "PNG" and img.size == (800, 120)
    assert data["rms"] > 0.05  # a real tone, not silence
    # lavfi's sine has amplitude 1/8: about 0.25 * 60 = 15 px tall in every column
    extent = _extents(img)
    assert (extent >= 12).mean() > 0.95 and extent.max() <= 20


def _tone_then_silence(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A 440 Hz tone at amplitude 0.5 for the first half, digital silence after."""
    t = np.arange(int(seconds * rate)) / rate
    pcm = np.where(t < seconds / 2, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((pcm * 32767).astype("<i2").tobytes())
    return path


def _extents(img: Image.Image) -> np.ndarray:  # type: ignore[type-arg]
    """Non-background pixels per column."""
    pixels = np.asarray(img.convert("RGB"), dtype=np.int16)
    return (np.abs(pixels - 250).sum(axis=2) > 30).sum(axis=0)  # type: ignore[no-any-return]


@pytest.mark.real_model("thumbnails")
@pytest.mark.parametrize("seconds", [3.0, 600.0])
def test_waveform_follows_the_audio_at_any_duration(tmp_path: Path, seconds: float) -> None:
    """Under ~4 min the 1.0 waveform was blank; every column now shows its own samples."""
    # chunk_s 50 at 600 s puts chunk borders inside pixel columns (0.75 s each)
    chunk_s = 2 if seconds < 10 else 50
    rt = build_runtime(
        make_settings(
            tmp_path / "data", f"sqlite:///{tmp_path / 'aima.db'}", jobs={"chunk_s": chunk_s}
        )
    )
    try:
        _, data = _run(rt, _tone_then_silence(tmp_path / "a.wav", seconds))
        img = Image.open(io.BytesIO(rt.blobs.get_bytes(data["waveform"])))
    finally:
        rt.close()
    assert {"waveform", "width", "height", "rms"} <= set(data)
    extent = _extents(img)
    assert img.size == (800, 120) and (extent > 0).all()
    tone, silence = extent[: int(0.45 * 800)], extent[int(0.55 * 800) :]
    # amplitude 0.5 of a 120 px image: about 60 px; silence: the 1-2 px centre line
    assert (tone >= 50).mean() > 0.95 and tone.max() <= 64
    assert silence.max() <= 2


def test_fewer_samples_than_columns_are_interpolated() -> None:
    chunks = [
        {"first_column": 0, "low": [-0.5], "high": [0.5], "rms": 0.1},
        {"first_column": 4, "low": [0.1, None, 0.3], "high": [0.1, None, 0.3], "rms": 0.1},
    ]
    low, high, filled = merge_columns(chunks, 8)
    assert filled == 3
    assert low.tolist() == pytest.approx([-0.5, -0.35, -0.2, -0.05, 0.1, 0.2, 0.3, 0.3])
    assert high.tolist() == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1, 0.2, 0.3, 0.3])
    # a column cut by a chunk border takes the extremes of both halves
    border = [
        {"first_column": 0, "low": [-0.1, -0.2], "high": [0.1, 0.2], "rms": 0.1},
        {"first_column": 1, "low": [-0.6, 0.0], "high": [0.05, 0.0], "rms": 0.1},
    ]
    low, high, filled = merge_columns(border, 3)
    assert filled == 3 and low.tolist()[1] == -0.6 and high.tolist()[1] == 0.2
