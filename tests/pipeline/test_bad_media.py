"""Bad media in the middle of the pipeline gives a clear per-analyzer outcome, not a lost job."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.store.models import JobChunk
from tests.mediagen import synth

VISION = ["faces", "emotion", "bodies", "nsfw", "ocr"]
AUDIO = ["vad", "transcribe", "speakers"]


def _run(rt: Runtime, path: Path, analyzers: list[str]) -> tuple[str, dict[str, dict[str, str]]]:
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyzers=analyzers)
    assert outcome.status == "created", outcome.error
    assert outcome.job_id and rt.make_worker("w").run_once()
    job = rt.ledger.get(outcome.job_id)
    return job.state, job.outcome


def test_audio_only_file_skips_vision_analyzers(sqlite_runtime: Runtime, tmp_path: Path) -> None:
    state, outcome = _run(
        sqlite_runtime, synth.make_audio(tmp_path / "a.wav", seconds=2.0), [*VISION, "vad"]
    )
    assert state == JobState.SUCCEEDED
    for name in VISION:
        assert outcome[name] == {"status": "skipped", "reason": "does not apply to audio media"}
    assert outcome["vad"]["status"] == "succeeded"


def test_image_without_faces_is_a_success_with_no_faces(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    outcome = sqlite_runtime.ingest.ingest_file(
        synth.make_image(tmp_path / "plain.png", fmt="PNG"),
        cli_principal(),
        analyzers=["faces", "emotion"],
    )
    assert outcome.job_id and sqlite_runtime.make_worker("w").run_once()
    assert sqlite_runtime.ledger.get(outcome.job_id).state == JobState.SUCCEEDED
    results = {r.analyzer: r.data for r in sqlite_runtime.ledger.results(outcome.job_id)}
    assert results["faces"]["faces"] == [] and results["emotion"]["detections"] == []


def test_video_without_sound_skips_speech_analyzers(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    video = synth.make_video(tmp_path / "mute.mp4", seconds=2.0, audio=False)
    state, outcome = _run(sqlite_runtime, video, ["thumbnails", *AUDIO])
    assert state == JobState.SUCCEEDED
    for name in AUDIO:
        assert outcome[name] == {"status": "skipped", "reason": "no audio stream"}


def test_stream_that_breaks_midway_fails_with_the_time_and_keeps_earlier_chunks(
    sqlite_runtime: Runtime, tmp_path: Path
) -> None:
    """A file whose middle is destroyed passes ingest (its start and end decode) and breaks
    while the pipeline decodes it: each analyzer that needs the broken part fails with the
    time in its reason; chunks before the damage stay committed; nothing is lost."""
    video = synth.make_video(tmp_path / "v.mp4", seconds=12.0, faststart=True, audio=False)
    data = bytearray(video.read_bytes())
    lo, hi = int(len(data) * 0.5), int(len(data) * 0.8)
    data[lo:hi] = bytes(hi - lo)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    state, outcome = _run(sqlite_runtime, damaged, ["thumbnails", "nsfw"])
    assert state == JobState.FAILED  # every analyzer of this job needed the broken part
    for name in ("thumbnails", "nsfw"):
        assert outcome[name]["status"] == "failed"
        assert "the video stream is corrupt at" in outcome[name]["reason"]
    with sqlite_runtime.db.session() as s:
        done = (
            s.execute(select(JobChunk.chunk_index).where(JobChunk.status == "done")).scalars().all()
        )
    assert 0 in done  # chunks before the damage were analysed and kept
