"""The speakers analyzer: windows, clustering, smoothing and turns on numpy fixtures; the
real Resemblyzer encoder through the real pipeline on two generated espeak-ng voices
(WAV and MP4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from aima.analyzers._audio_turns import (
    Turn,
    Window,
    cluster_embeddings,
    cluster_voices,
    frame_f0,
    grid_windows,
    join_regions,
    merge_turns,
    region_turns,
    smooth_labels,
    window_pitch,
)
from aima.analyzers.base import AnalysisContext
from aima.analyzers.speakers import Speakers, SpeakersConfig
from aima.inference.models import ModelStore
from aima.media.types import MediaInfo, MediaKind
from aima.store.blobs import LocalBlobStore
from tests.analyzers.dialogue_gen import CALIBRATION, TEST, TEST_VOICES_ONLY, DialogueSpec
from tests.analyzers.dialogue_gen import make_dialogue as make_varied_dialogue
from tests.analyzers.dialogue_metrics import score
from tests.analyzers.speech_fixtures import (
    DIALOGUE,
    dialogue_run,
    duration_accuracy,
    espeak_available,
    make_dialogue,
    overlap_error,
    run_pipeline,
)

needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")

# --- windows --------------------------------------------------------------------------


def test_windows_cover_a_segment_on_the_media_wide_grid() -> None:
    wins = grid_windows(0.7, 4.6, window_s=1.5, hop_s=0.75, min_window_s=0.5)
    assert wins == [(0.7, 1.5), (0.75, 2.25), (1.5, 3.0), (2.25, 3.75), (3.0, 4.5), (3.75, 4.6)]
    # a clipped window inside a neighbour adds nothing: grid 8.25-9.75 clipped to 9.18-9.75
    # lies inside grid 9.0-10.5 clipped to 9.18-10.5
    assert grid_windows(9.18, 12.0, window_s=1.5, hop_s=0.75, min_window_s=0.5)[0] == (9.18, 10.5)
    assert all(b - a >= 0.5 - 1e-9 for a, b in wins)
    # every instant of the segment is inside some window
    ts = np.linspace(0.7, 4.6, 200)
    assert all(any(a <= t <= b for a, b in wins) for t in ts)
    # two chunks that see one segment with different starts cut the same inner windows
    later = grid_windows(3.1, 4.6, window_s=1.5, hop_s=0.75, min_window_s=0.5)
    assert {w for w in later if w[0] > 3.1} == {w for w in wins if w[0] > 3.1} != set()
    # a segment shorter than any window gets one window spanning it
    assert grid_windows(2.0, 2.3, window_s=1.5, hop_s=0.75, min_window_s=0.5) == [(2.0, 2.3)]
    assert grid_windows(2.0, 2.0, window_s=1.5, hop_s=0.75, min_window_s=0.5) == []


# --- clustering --------------------------------------------------------------------------


def two_voices(n: int = 10, spread: float = 0.15, seed: int = 0) -> np.ndarray:
    """Unit vectors around two directions whose cosine is ≈0.5 (like two distinct voices)."""
    rng = np.random.default_rng(seed)
    a = np.zeros(256)
    a[0] = 1.0
    b = np.zeros(256)
    b[0], b[1] = 0.5, np.sqrt(0.75)
    pts = [v + rng.normal(0, spread / 16, 256) for v in [a] * n + [b] * n]
    return np.asarray([p / np.linalg.norm(p) for p in pts], dtype=np.float32)


def test_clustering_separates_two_voices_and_respects_num_speakers() -> None:
    x = two_voices()
    labels = cluster_embeddings(x, threshold=0.65)
    assert labels.tolist() == [0] * 10 + [1] * 10
    assert set(cluster_embeddings(x, threshold=0.3).tolist()) == {0}  # too lax: one speaker
    assert set(cluster_embeddings(x, threshold=0.65, num_speakers=1).tolist()) == {0}
    assert len(set(cluster_embeddings(x, threshold=0.65, num_speakers=3).tolist())) == 3
    assert cluster_embeddings(x[:1], threshold=0.65).tolist() == [0]
    assert cluster_embeddings(x[:0], threshold=0.65).size == 0


def test_long_media_cluster_a_sample_and_assign_the_rest() -> None:
    x = two_voices(n=60)
    labels = cluster_embeddings(x, threshold=0.65, max_windows=20)
    assert labels.tolist() == [0] * 60 + [1] * 60


# --- smoothing and turns ------------------------------------------------------------


def windows_every(start: float, n: int, hop: float = 0.75, size: float = 1.5) -> list[Window]:
    return [Window(start + i * hop, start + i * hop + size) for i in range(n)]


def test_a_one_window_flip_inside_speech_is_smoothed() -> None:
    wins = windows_every(0.0, 9)
    region = (0.0, wins[-1].end)
    labels = [0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert smooth_labels(labels, wins, region=region, min_turn_s=1.0) == [0] * 9
    # a real turn (four windows = 3 s) stays
    labels = [0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert smooth_labels(labels, wins, region=region, min_turn_s=1.0) == labels
    # a region with a single speaker run is left alone however short
    short = windows_every(0.0, 1)
    assert smooth_labels([1], short, region=(0.0, 0.6), min_turn_s=1.0) == [1]


def test_a_flip_between_two_speakers_joins_the_one_it_resembles() -> None:
    wins = windows_every(0.0, 7)
    labels = [0, 0, 0, 2, 1, 1, 1]
    affinity = np.array([[0.9, 0.1, 0.1]] * 3 + [[0.2, 0.7, 0.3]] + [[0.1, 0.9, 0.1]] * 3)
    out = smooth_labels(labels, wins, region=(0.0, wins[-1].end), min_turn_s=1.0, affinity=affinity)
    assert out == [0, 0, 0, 1, 1, 1, 1]


def test_turn_borders_lie_halfway_between_window_centres() -> None:
    wins = windows_every(10.0, 6)  # centres 10.75, 11.5, ..., 14.5
    turns = region_turns([0, 0, 0, 1, 1, 1], wins, (10.0, 15.25), [0.9] * 3 + [0.7] * 3)
    assert [(t.start, t.end, t.speaker) for t in turns] == [
        (10.0, pytest.approx(12.625), 0),
        (pytest.approx(12.625), 15.25, 1),
    ]
    assert [t.confidence for t in turns] == pytest.approx([0.9, 0.7])


def test_turns_of_one_speaker_join_across_short_pauses() -> None:
    turns = [Turn(0, 2, 0, 1.0), Turn(2.5, 3.5, 0, 0.4), Turn(3.5, 5, 1, 0.8), Turn(7, 8, 1, 1)]
    merged = merge_turns(turns, max_gap_s=1.0)
    assert [(t.start, t.end, t.speaker) for t in merged] == [(0, 3.5, 0), (3.5, 5, 1), (7, 8, 1)]
    assert merged[0].confidence == pytest.approx((2 * 1.0 + 1 * 0.4) / 3)
    assert join_regions([(9.2, 12.0), (9.2, 16.5), (17.1, 19.5)]) == [(9.2, 16.5), (17.1, 19.5)]


def test_config_needs_overlapping_windows() -> None:
    with pytest.raises(ValidationError, match="hop_s"):
        SpeakersConfig(window_s=1.0, hop_s=1.5)


# --- the real encoder through the real pipeline -------------------------------------------


def hyp_turns(result: dict[str, Any]) -> list[tuple[float, float, str]]:
    return [(t["start"], t["end"], t["speaker"]) for t in result["turns"]]


@pytest.mark.real_model("speakers")
@needs_espeak
@pytest.mark.slow
def test_two_voices_are_two_speakers_with_the_right_turns() -> None:
    clip, run = dialogue_run()
    result = run.results["speakers"]
    assert [s["id"] for s in result["speakers"]] == ["S1", "S2"]
    accuracy, mapping = duration_accuracy(clip.turns(), hyp_turns(result))
    assert accuracy >= 0.9, (accuracy, clip.turns(), result["turns"])
    assert mapping == {"S1": "A", "S2": "B"}  # ids in order of first appearance
    for speaker in result["speakers"]:
        emb = np.asarray(speaker["embedding"])
        assert emb.shape == (256,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-3)
        assert speaker["total_s"] > 5
    sims = np.asarray(result["speakers"][0]["embedding"]) @ result["speakers"][1]["embedding"]
    assert sims < 0.8  # distinct voices
    assert all(0.5 <= t["confidence"] <= 1.0 for t in result["turns"])
    assert result["model"] == run.model_ids["speakers"]


@needs_espeak
@pytest.mark.slow
def test_a_turn_crossing_a_chunk_border_is_one_turn() -> None:
    clip, run = dialogue_run()
    turns = hyp_turns(run.results["speakers"])
    # utterance 3 (speaker A, 9.26-13.04 s) crosses the 10 s border, utterance 4 (B,
    # 13.19-16.35 s) the 15 s border; they are 0.15 s apart, inside one VAD segment
    a3, b4 = clip.utterances[2], clip.utterances[3]
    assert a3.start < 10 < a3.end and b4.start < 15 < b4.end
    crossing = [t for t in turns if t[0] < 10 < t[1]]
    assert len(crossing) == 1 and abs(crossing[0][0] - a3.start) < 0.3
    change = [t for t in turns if t[0] < 15 < t[1]]
    assert len(change) == 1 and abs(change[0][0] - b4.start) < 0.5  # the change inside speech
    # each window was embedded once, by the chunk its start falls in
    windows = [
        (c["index"], w)
        for c in run.chunks["speakers"]
        for s in c["result"]["segments"]
        for w in s["windows"]
    ]
    starts = [w[0] for _, w in windows]
    assert len(starts) == len(set(starts))
    chunk_of = {c["index"]: (c["start"], c["end"]) for c in run.chunks["speakers"]}
    assert all(chunk_of[i][0] <= w[0] < chunk_of[i][1] for i, w in windows)
    seg = run.chunks["speakers"][1]["result"]["segments"][0]
    assert len(seg["embeddings"]) == len(seg["windows"]) and len(seg["embeddings"][0]) == 256


@needs_espeak
@pytest.mark.slow
def test_finalize_can_be_forced_to_one_speaker(tmp_path: Path) -> None:
    _, run = dialogue_run()
    info = MediaInfo(MediaKind.AUDIO, "wav", "audio/wav", 1, duration_s=run.media_s)
    ctx = AnalysisContext("m", "j", tmp_path, info, LocalBlobStore(tmp_path / "blobs"))
    chunks = [c["result"] for c in run.chunks["speakers"]]

    def final(**cfg: Any) -> dict[str, Any]:
        analyzer = Speakers(SpeakersConfig(**cfg), default_chunk_s=5, models=ModelStore(tmp_path))
        return analyzer.finalize(ctx, chunks)

    speech = run.results["vad"]["segments"]
    one = final(num_speakers=1)
    assert [s["id"] for s in one["speakers"]] == ["S1"]
    # pauses under merge_gap_s (1 s) do not end a turn: one speaker, one turn
    assert [(t["start"], t["end"]) for t in one["turns"]] == [
        (speech[0]["start"], speech[-1]["end"])
    ]
    apart = final(num_speakers=1, merge_gap_s=0.0)  # one turn per stretch of speech
    assert [(t["start"], t["end"]) for t in apart["turns"]] == [
        (s["start"], s["end"]) for s in speech
    ]


@needs_espeak
@pytest.mark.slow
def test_a_video_with_a_dialogue_gets_vad_and_speakers(tmp_path: Path) -> None:
    clip = make_dialogue(tmp_path, DIALOGUE[:3], name="talk")
    assert clip.mp4 is not None
    run = run_pipeline(clip.mp4, tmp_path / "run", ("vad", "speakers"), chunk_s=5.0)
    assert run.state == "succeeded", run.outcome
    found = [(s["start"], s["end"]) for s in run.results["vad"]["segments"]]
    assert overlap_error(clip.speech_regions(), found) <= 0.3, (clip.speech_regions(), found)
    result = run.results["speakers"]
    assert len(result["speakers"]) == 2
    accuracy, _ = duration_accuracy(clip.turns(), hyp_turns(result))
    assert accuracy >= 0.9, (accuracy, clip.turns(), result["turns"])


# --- voice + pitch clustering (synthetic embeddings) ------------------------------------


def similar_voices(n: int = 20, seed: int = 1) -> tuple[np.ndarray, list[float | None]]:
    """Three voices like espeak ones under Resemblyzer (calibration measured window cosine
    0.80-0.85 within a voice, 0.70-0.74 between one voice at two pitches): A and B point
    almost the same way (cosine 0.9 before noise) and differ in pitch (≈100 vs ≈130 Hz),
    C points elsewhere (cosine 0.5) at ≈220 Hz. Noise makes windows of one voice ≈0.82
    alike; pitch jitters by 0.05 octave."""
    rng = np.random.default_rng(seed)
    a, b, c = np.zeros(256), np.zeros(256), np.zeros(256)
    a[0] = 1.0
    b[0], b[2] = 0.9, np.sqrt(1 - 0.81)
    c[0], c[1] = 0.5, np.sqrt(0.75)
    dirs = [a] * n + [b] * n + [c] * n
    x = np.asarray([v + rng.normal(0, 0.029, 256) for v in dirs], dtype=np.float32)
    base = [np.log2(100.0)] * n + [np.log2(130.0)] * n + [np.log2(220.0)] * n
    pitch: list[float | None] = [float(p + rng.normal(0, 0.05)) for p in base]
    return x, pitch


def test_pitch_separates_voices_the_embedding_confuses() -> None:
    x, pitch = similar_voices()
    kw: dict[str, Any] = {"threshold": 0.42, "pitch_weight": 0.75, "min_windows": 6}
    labels = cluster_voices(x, pitch, **kw)
    assert labels.tolist() == [0] * 20 + [1] * 20 + [2] * 20
    # without pitch the two voices of one direction are one speaker
    merged = cluster_voices(x, pitch, **{**kw, "pitch_weight": 0.0})
    assert merged.tolist() == [0] * 40 + [1] * 20
    # windows without a pitch are judged by their embedding alone
    holes = [None if i % 7 == 0 else p for i, p in enumerate(pitch)]
    assert set(cluster_voices(x, holes, **kw)[40:].tolist()) == {2}
    assert cluster_voices(x, pitch, **kw, num_speakers=1).tolist() == [0] * 60
    assert cluster_voices(x[:1], pitch[:1], **kw).tolist() == [0]


def test_a_few_stray_windows_are_not_a_speaker() -> None:
    x, pitch = similar_voices()
    x, pitch = x[40:], pitch[40:]  # voice C alone
    odd = np.zeros((3, 256), dtype=np.float32)
    odd[:, 5] = 1.0  # three windows unlike anything (a cough, two voices at once)
    xs = np.concatenate([x[:10], odd, x[10:]])
    ps = [*pitch[:10], 7.0, 7.0, 7.0, *pitch[10:]]
    kw: dict[str, Any] = {"threshold": 0.42, "pitch_weight": 0.75}
    assert set(cluster_voices(xs, ps, **kw, min_windows=6).tolist()) == {0}
    assert len(set(cluster_voices(xs, ps, **kw, min_windows=1).tolist())) == 2


def test_pitch_of_a_voiced_tone_and_of_silence() -> None:
    t = np.arange(16000 * 2) / 16000
    tone = (0.3 * np.sign(np.sin(2 * np.pi * 120.0 * t))).astype(np.float32)  # rich harmonics
    f0 = frame_f0(tone)
    assert np.nanmedian(f0) == pytest.approx(120.0, rel=0.03)
    pitch = window_pitch(f0, 10.0, [(10.0, 11.0), (11.0, 12.0), (13.0, 14.0)])
    assert pitch[0] == pytest.approx(np.log2(120.0), abs=0.05) and pitch[2] is None
    assert window_pitch(frame_f0(np.zeros(16000, dtype=np.float32)), 0.0, [(0.0, 1.0)]) == [None]
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.3, 16000).astype(np.float32)  # unvoiced
    assert np.isnan(frame_f0(noise)).mean() > 0.8


# --- varied dialogues (held-out TEST set, thresholds tuned on CALIBRATION) --------------


@needs_espeak
@pytest.mark.slow
@pytest.mark.parametrize("spec", TEST[:2], ids=lambda s: s.name)
def test_held_out_dialogues_get_the_speech_time_right(spec: DialogueSpec, tmp_path: Path) -> None:
    assert not {v.espeak for v in TEST_VOICES_ONLY} & {
        v.espeak for c in CALIBRATION for v in c.voices.values()
    }
    dialogue = make_varied_dialogue(spec, tmp_path)
    run = run_pipeline(dialogue.wav, tmp_path / "run", ("vad", "speakers"), chunk_s=10.0)
    assert run.state == "succeeded", run.outcome
    result = run.results["speakers"]
    s = score(dialogue.turns, hyp_turns(result))
    assert s.accuracy >= 0.8, (s, result["turns"], dialogue.turns)
    assert abs(s.count_error) <= 1, s
    assert {"id", "embedding", "total_s", "windows"} <= set(result["speakers"][0])
