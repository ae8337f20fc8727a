"""The thumbnails analyzer end to end on real generated media (ffmpeg + Pillow)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from aima.jobs.states import JobState
from aima.media import synth
from aima.runtime import Runtime
from aima.services.access import cli_principal


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
