"""Speech recognition: word error rate and speed per engine, whole file vs AIMA's windows.

    .venv/bin/python -m benchmarks.asr_bench [--clips 2] [--engines base,tiny.en,pocketsphinx]

Generates (deterministically, seed 1) ``--clips`` recordings of four espeak-ng sentences
each, two voices alternating (``en-us+m3``, ``en+f3``), random pauses of 0.4-1.5 s.
This is the *calibration* set: its sentences, pauses and seed differ from those in
``tests/analyzers/test_transcribe.py``, whose WER bounds are set from these numbers
with a margin. espeak-ng speech is robotic and unnatural: absolute WERs here say
little about human speech (MODELS.md: Whisper base WER ≈0 on clear human speech),
but the *comparison between paths* on the same audio is what this measures.

For each engine (Whisper base int8, Whisper tiny.en int8, pocketsphinx), on the same
audio and Silero VAD segments (default VAD settings):

1. ``whole``: one engine call on the whole file (the reference path);
2. ``segments``: one call per VAD segment (AIMA's path before windows; the brief
   measured pocketsphinx at WER 0.55 this way vs 0.23 whole-file on human speech);
3. ``windows``: AIMA's path now, :func:`aima.analyzers.transcribe.speech_windows`
   (segments merged into windows of up to 25 s, 0.4 s padding).

Clips are shorter than the default 60 s chunk, so one chunk sees each whole clip:
this is the analyzer's path without the database around it. WER: word-level
Levenshtein on lower-case words without punctuation. RTF: engine wall seconds per
audio second (also CPU seconds: wall times on a shared 2-core machine are noisy).

Measured here (2 clips, 34.6 s; 2 cores shared with other jobs, load 3-9, so wall RTF
is noisy and CPU RTF is the steadier figure; whole run 4 min wall, 1.5 min CPU):

    engine        path      WER   RTF wall  RTF cpu
    base          whole     0.03  0.76      0.26
    base          segments  0.03  3.04      0.78
    base          windows   0.03  0.63      0.26
    tiny.en       whole     0.09  0.22      0.09
    tiny.en       segments  0.04  0.53      0.20
    tiny.en       windows   0.05  0.18      0.09
    pocketsphinx  whole     0.76  0.70      0.33
    pocketsphinx  segments  0.78  0.34      0.25
    pocketsphinx  windows   0.80  0.66      0.30

On this espeak set per-segment decoding did not cost Whisper accuracy but tripled its
CPU time (one 30 s-padded encoder pass per segment); windows match the whole-file
call in both. pocketsphinx is unusable on espeak whatever the path (WER ≈0.8).
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tests.mediagen.speech import RATE, synthesize

from aima.analyzers._audio_asr import (
    WHISPER_BASE_SPEC,
    WHISPER_TINY_EN_SPEC,
    AsrEngine,
    PocketsphinxEngine,
    WhisperEngine,
    WhisperOptions,
)
from aima.analyzers._audio_common import Region
from aima.analyzers._audio_vad import hysteresis, silero_probs
from aima.analyzers.transcribe import speech_windows, word_error_rate
from aima.analyzers.vad import SILERO_ONNX
from aima.inference.models import ModelStore
from aima.inference.sessions import onnx_session

from .common import say, table

CALIBRATION = (
    "The weather was cold and windy when we left the house this morning",
    "Please send me the report before the end of the day",
    "Our team finished the project two weeks earlier than planned",
    "She bought fresh bread and cheese at the market near the station",
    "We will meet again on Friday to decide what comes next",
    "The children played in the garden until it started to rain",
    "He forgot his keys in the car and had to call a friend",
    "Most people in the village work on the farms or in the shops",
)
VOICES = ("en-us+m3", "en+f3")


def make_clip(sentences: tuple[str, ...], rng: random.Random) -> NDArray[np.float32]:
    parts: list[NDArray[np.float32]] = []
    for i, text in enumerate(sentences):
        speech = synthesize(text, VOICES[i % len(VOICES)])
        speech = (0.5 / float(np.abs(speech).max())) * speech
        parts += [np.zeros(round(rng.uniform(0.4, 1.5) * RATE), np.float32), speech]
    parts.append(np.zeros(RATE // 2, np.float32))
    return np.concatenate(parts)


def vad(audio: NDArray[np.float32], models: ModelStore) -> list[Region]:
    session = onnx_session(models.path(SILERO_ONNX), threads=1)
    found = hysteresis(silero_probs(session, audio), total_s=audio.size / RATE)
    return [Region(s.start, s.end) for s in found]


def run_path(
    engine: AsrEngine, audio: NDArray[np.float32], spans: list[tuple[float, float]]
) -> tuple[str, float, float]:
    """Transcript, wall seconds and CPU seconds of ``engine`` over ``spans`` (media s)."""
    words: list[str] = []
    wall, cpu = time.perf_counter(), time.process_time()
    for a, b in spans:
        heard = engine.transcribe(audio[round(a * RATE) : round(b * RATE)], a, None)
        words += [p.text for p in heard.pieces]
    return " ".join(words), time.perf_counter() - wall, time.process_time() - cpu


def engines(names: list[str], models: ModelStore) -> dict[str, Callable[[], AsrEngine]]:
    options = WhisperOptions(compute_type="int8", threads=2)
    makers: dict[str, Callable[[], AsrEngine]] = {
        "base": lambda: WhisperEngine(models.path(WHISPER_BASE_SPEC).parent, "base", options),
        "tiny.en": lambda: WhisperEngine(
            models.path(WHISPER_TINY_EN_SPEC).parent, "tiny.en", options
        ),
        "pocketsphinx": lambda: PocketsphinxEngine(models),
    }
    return {name: makers[name] for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--engines", default="base,tiny.en,pocketsphinx")
    args = parser.parse_args()
    models_dir = Path(
        os.environ.get("AIMA_MODELS_DIR") or Path(tempfile.gettempdir()) / "aima-asr-bench-models"
    )
    models = ModelStore(models_dir)
    rng = random.Random(1)
    clips = []
    for c in range(args.clips):
        sentences = CALIBRATION[4 * c : 4 * c + 4] or CALIBRATION[:4]
        audio = make_clip(sentences, rng)
        clips.append((" ".join(sentences), audio, vad(audio, models)))
    total_s = sum(a.size for _, a, _ in clips) / RATE
    say(f"{len(clips)} clips, {total_s:.1f} s of espeak-ng speech; models in {models_dir}")
    rows: list[dict[str, object]] = []
    for name, make in engines(args.engines.split(","), models).items():
        engine = make()
        for path in ("whole", "segments", "windows"):
            errors, ref_words, wall, cpu = 0.0, 0, 0.0, 0.0
            for reference, audio, regions in clips:
                duration = audio.size / RATE
                spans = {
                    "whole": [(0.0, duration)],
                    "segments": [(r.start, r.end) for r in regions],
                    "windows": [
                        (w.start, w.end) for w in speech_windows(regions, 0.0, duration, 25.0, 0.4)
                    ],
                }[path]
                text, w_s, c_s = run_path(engine, audio, spans)
                n = len(reference.split())
                errors += word_error_rate(reference, text) * n
                ref_words += n
                wall, cpu = wall + w_s, cpu + c_s
            rows.append(
                {
                    "engine": name,
                    "path": path,
                    "WER": errors / ref_words,
                    "RTF wall": wall / total_s,
                    "RTF cpu": cpu / total_s,
                }
            )
            say(table(rows[-1:]).splitlines()[-1])
    say("\n" + table(rows))


if __name__ == "__main__":
    main()
