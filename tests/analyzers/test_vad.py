"""The vad analyzer: hysteresis and chunk-border logic on numpy fixtures, the Silero ONNX
streaming loop against a stub session, and the real model through the real pipeline on
generated two-voice speech (espeak-ng), silence and a video without sound."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from aima.analyzers._audio_vad import (
    WINDOW_S,
    chunk_segments,
    grid_offset,
    hysteresis,
    merge_segments,
    silero_probs,
)
from aima.analyzers.vad import VadConfig
from tests.analyzers.speech_fixtures import (
    dialogue_run,
    espeak_available,
    make_silence,
    overlap_error,
    run_pipeline,
)
from tests.mediagen import synth

W = WINDOW_S  # 0.032 s


def probs(*runs: tuple[float, float]) -> np.ndarray:
    """A probability track from (value, seconds) runs."""
    return np.concatenate([np.full(round(s / W), v, dtype=np.float32) for v, s in runs])


def detect(p: np.ndarray, **kw: Any) -> list[tuple[float, float]]:
    found = hysteresis(p, total_s=p.size * W, **kw)
    return [(round(s.start, 3), round(s.end, 3)) for s in found]


# --- hysteresis -------------------------------------------------------------------------


def test_speech_is_found_and_padded() -> None:
    p = probs((0.0, 1.024), (0.9, 1.024), (0.0, 1.024))
    (seg,) = hysteresis(p, total_s=p.size * W, speech_pad_s=0.1)
    assert (seg.speech_start, seg.speech_end) == pytest.approx((1.024, 2.048))
    assert (seg.start, seg.end) == pytest.approx((0.924, 2.148))
    assert seg.confidence == pytest.approx(0.9)


def test_values_between_the_thresholds_neither_start_nor_end_speech() -> None:
    # 0.4 is below threshold (0.5) but above neg_threshold (0.35): speech goes on
    p = probs((0.0, 0.512), (0.9, 0.512), (0.4, 1.024), (0.9, 0.512), (0.0, 0.512))
    assert detect(p, speech_pad_s=0) == [(0.512, 2.56)]
    # ...and on its own it never starts speech
    assert detect(probs((0.0, 0.5), (0.45, 2.0), (0.0, 0.5))) == []


def test_pauses_shorter_than_min_silence_do_not_split() -> None:
    short = probs((0.9, 0.64), (0.1, 0.224), (0.9, 0.64), (0.0, 0.64))
    assert len(detect(short, min_silence_s=0.3)) == 1
    long = probs((0.9, 0.64), (0.1, 0.416), (0.9, 0.64), (0.0, 0.64))
    first, second = detect(long, min_silence_s=0.3, speech_pad_s=0.1)
    assert first[1] == pytest.approx(0.64 + 0.1) and second[0] == pytest.approx(1.056 - 0.1)


def test_short_blips_are_dropped() -> None:
    p = probs((0.0, 0.5), (0.95, 0.192), (0.0, 1.0), (0.95, 0.32), (0.0, 0.5))
    assert len(detect(p, min_speech_s=0.25)) == 1


def test_padding_is_clipped_to_the_audio_and_never_overlaps() -> None:
    p = probs((0.9, 0.64), (0.0, 0.64))
    assert detect(p, speech_pad_s=0.2)[0][0] == 0.0
    # a 0.32 s pause with 0.3 s padding: both sides meet in the middle of the pause
    p = probs((0.0, 0.32), (0.9, 0.64), (0.1, 0.32), (0.9, 0.64), (0.0, 0.32))
    (_, a1), (b0, _) = detect(p, min_silence_s=0.3, speech_pad_s=0.3)
    assert a1 == b0 == pytest.approx(0.96 + 0.16)


def test_speech_running_to_the_end_of_the_audio_ends_there() -> None:
    p = probs((0.0, 0.64), (0.9, 0.64))
    assert detect(p, speech_pad_s=0.1) == [(0.54, 1.28)]


def test_config_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValidationError, match="neg_threshold"):
        VadConfig(threshold=0.4, neg_threshold=0.6)
    assert VadConfig().model_dump(exclude={"batch_size", "chunk_s"}) == {
        "threshold": 0.5,
        "neg_threshold": 0.35,
        "min_speech_s": 0.25,
        "min_silence_s": 0.3,
        "speech_pad_s": 0.1,
    }


# --- chunk borders ------------------------------------------------------------------


def test_windows_fall_on_one_media_wide_grid() -> None:
    assert grid_offset(0.0) == 0
    assert grid_offset(8.0) == 0  # 8 s = 250 windows exactly
    skip = grid_offset(3.0)  # 3 s = 93.75 windows: skip to window 94
    assert skip == 94 * 512 - 48000
    assert (3.0 * 16000 + skip) % 512 == 0


def test_a_chunk_owns_what_starts_in_it_and_carries_in_what_runs_into_it() -> None:
    track = probs((0.9, 1.28), (0.0, 1.28), (0.9, 3.2), (0.0, 0.64), (0.9, 1.28), (0.0, 0.32))
    found = hysteresis(track, total_s=8.0, speech_pad_s=0)
    # the span starts at 8 s: speech at 8-9.28, 10.56-13.76 and 14.4-15.68 s
    spans = [(round(8 + s.start, 2), round(8 + s.end, 2)) for s in found]
    assert spans == [(8.0, 9.28), (10.56, 13.76), (14.4, 15.68)]

    def split(core: tuple[float, float]) -> tuple[list[Any], list[Any]]:
        owned, carried = chunk_segments(found, offset_s=8.0, core_start=core[0], core_end=core[1])
        return [(s["start"], s["end"]) for s in owned], [(s["start"], s["end"]) for s in carried]

    # chunk 10-14 s: owns the segment starting at 10.56 (reported whole); 8-9.28 ended
    # before the chunk and 14.4 starts after it: neither is its business
    assert split((10.0, 14.0)) == ([(10.56, 13.76)], [])
    # chunk 11-14 s: that segment started in the chunk before and runs into this one
    assert split((11.0, 14.0)) == ([], [(10.56, 13.76)])
    # chunk 14-18 s: owns 14.4; 10.56-13.76 does not reach it
    assert split((14.0, 18.0)) == ([(14.4, 15.68)], [])


def test_finalize_takes_the_union_of_chunk_views_but_keeps_real_pauses() -> None:
    chunk1 = [{"start": 9.2, "end": 12.0, "confidence": 1.0}]  # cut where its audio ends
    chunk2_carried = [{"start": 9.2, "end": 16.5, "confidence": 0.5}]
    chunk2 = [{"start": 17.2, "end": 19.5, "confidence": 0.9}]  # a 0.7 s pause before it
    merged = merge_segments([*chunk1, *chunk2_carried, *chunk2], join_gap_s=0.1)
    assert [(s["start"], s["end"]) for s in merged] == [(9.2, 16.5), (17.2, 19.5)]
    # confidence is duration weighted: 2.8 s at 1.0 then 4.5 s more at 0.5
    assert merged[0]["confidence"] == pytest.approx((2.8 * 1.0 + 4.5 * 0.5) / 7.3, abs=1e-3)
    # two views of one pause, seen 0.05 s apart, become one segment; a 0.12 s gap stays
    near = [{"start": 0, "end": 1.0, "confidence": 1}, {"start": 1.05, "end": 2, "confidence": 1}]
    assert len(merge_segments(near, join_gap_s=0.1)) == 1
    far = [{"start": 0, "end": 1.0, "confidence": 1}, {"start": 1.12, "end": 2, "confidence": 1}]
    assert len(merge_segments(far, join_gap_s=0.1)) == 2


# --- the ONNX streaming loop ---------------------------------------------------------


class StubSilero:
    """Records what the loop feeds the model; 'speech' = mean |x| of the new samples > 0.1."""

    def __init__(self) -> None:
        self.calls: list[dict[str, np.ndarray]] = []

    def run(self, output_names: list[str] | None, feed: dict[str, Any]) -> list[Any]:
        self.calls.append({k: np.array(v, copy=True) for k, v in feed.items()})
        state = feed["state"] + 1.0
        p = float(np.abs(feed["input"][0, 64:]).mean() > 0.1)
        return [np.array([[p]], dtype=np.float32), state]

    def get_inputs(self) -> list[Any]:
        return []

    def get_outputs(self) -> list[Any]:
        return []


def test_streaming_loop_feeds_context_state_and_rate() -> None:
    audio = np.concatenate([np.zeros(512), np.ones(512), np.full(100, 0.9)]).astype(np.float32)
    stub = StubSilero()
    p = silero_probs(stub, audio)
    assert p.tolist() == [0.0, 1.0, 1.0]  # last window zero-padded
    first, second, third = stub.calls
    assert first["input"].shape == (1, 576) and first["input"].dtype == np.float32
    assert not first["input"][0, :64].any()  # no context before the stream starts
    assert (second["input"][0, :64] == 0).all() and (second["input"][0, 64:] == 1).all()
    assert (third["input"][0, :64] == 1).all()  # the previous window's last 64 samples
    assert np.allclose(third["input"][0, 64:164], 0.9) and not third["input"][0, 164:].any()
    assert first["state"].shape == (2, 1, 128) and not first["state"].any()
    assert (third["state"] == 2).all()  # each call's output state is fed back
    assert int(first["sr"]) == 16000 and first["sr"].dtype == np.int64
    assert silero_probs(stub, np.zeros(0, dtype=np.float32)).size == 0


# --- the real model through the real pipeline --------------------------------------------

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


@pytest.mark.real_model("vad")
@needs_espeak
@pytest.mark.slow
def test_speech_regions_match_the_generated_dialogue() -> None:
    clip, run = dialogue_run()
    assert run.state == "succeeded", run.outcome
    result = run.results["vad"]
    found = [(s["start"], s["end"]) for s in result["segments"]]
    truth = clip.speech_regions(merge_gap_s=0.3)
    assert overlap_error(truth, found) <= 0.3, (truth, found)
    assert all(0.5 <= s["confidence"] <= 1.0 for s in result["segments"])
    assert result["speech_s"] == pytest.approx(sum(b - a for a, b in found), abs=0.01)
    assert run.model_ids["vad"].startswith("silero-vad-")


@needs_espeak
@pytest.mark.slow
def test_a_segment_crossing_chunk_borders_is_reported_once_and_whole() -> None:
    _, run = dialogue_run()
    chunks = run.chunks["vad"]
    assert [c["start"] for c in chunks] == [0.0, 5.0, 10.0, 15.0, 20.0]
    # truth: speech 9.26-16.35 s (two speakers, 0.15 s apart) spans chunks 1, 2 and 3
    owner = chunks[1]["result"]["segments"][-1]
    assert 9.0 < owner["start"] < 10.0 and owner["end"] > 10.0  # runs past its chunk
    assert any(s["end"] > 16.0 for s in chunks[2]["result"]["carried_in"])
    for c in chunks:  # each segment start is owned by exactly the chunk it lies in
        assert all(c["start"] <= s["start"] < c["end"] for s in c["result"]["segments"])
    long = [s for s in run.results["vad"]["segments"] if s["start"] < 10 < 15 < s["end"]]
    assert len(long) == 1


def test_silence_gives_no_segments_and_the_speech_analyzers_succeed_empty(
    tmp_path: Path,
) -> None:
    silent = make_silence(tmp_path / "silence.wav", 3.0)
    run = run_pipeline(silent, tmp_path / "run", chunk_s=2.0)
    assert run.state == "succeeded", run.outcome
    assert (run.results["vad"]["segments"], run.results["vad"]["speech_s"]) == ([], 0.0)
    assert run.results["transcribe"]["segments"] == [] and run.results["transcribe"]["text"] == ""
    assert run.results["speakers"]["speakers"] == [] and run.results["speakers"]["turns"] == []


def test_a_video_without_sound_skips_the_speech_analyzers(tmp_path: Path) -> None:
    video = synth.make_video(tmp_path / "mute.mp4", seconds=2.0, audio=False)
    run = run_pipeline(video, tmp_path / "run")
    assert run.state == "succeeded"
    assert {name: o["status"] for name, o in run.outcome.items()} == {
        "vad": "skipped",
        "transcribe": "skipped",
        "speakers": "skipped",
    }
    assert run.results == {}
