"""Varied multi-speaker dialogues with exact ground truth, for tuning and testing diarization.

Why this exists: the two-voice fixture in ``speech_fixtures`` has long turns and two very
different voices; the defects seen on media nobody tuned on were similar voices merged,
one voice split mid-sentence and overlapping voices. These dialogues have 3-4 voices
(two of them the same espeak-ng voice at different pitch), many short turns (0.8-2 s),
a few long ones, and overlaps where the next speaker starts before the previous ends.

Two disjoint sets:

* ``CALIBRATION``: the only dialogues thresholds may be tuned on.
* ``TEST``: other seeds, other sentences, and voices that never occur in calibration
  (``en+f4``, ``en+m7``, ``de``), so a test passing on them says something about media
  nobody tuned on.

Ground truth in an overlap: the *dominant* voice (the one with more energy in the
overlapping stretch) owns it, which is what the analyzer is asked to report; the
overlapping stretches themselves are listed in :attr:`Dialogue.overlaps`.

Everything is deterministic (espeak-ng output, a seeded ``numpy`` generator), built at
run time, nothing committed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.signal import resample_poly

from tests.mediagen.speech import RATE, read_wav_bytes, write_wav

_FRAME_S = 0.01  # resolution of the ground-truth label timeline


@dataclass(frozen=True, slots=True)
class Voice:
    """An espeak-ng voice with its base pitch (``-p``, 0-99) and speed (``-s``, words/min)."""

    espeak: str
    pitch: int = 50
    speed: int = 165


@dataclass(frozen=True, slots=True)
class DialogueSpec:
    name: str
    voices: dict[str, Voice]
    sentences: tuple[str, ...]
    seed: int
    turns: int = 14
    overlap_p: float = 0.2  # chance that a turn starts before the previous one ends


@dataclass(frozen=True, slots=True)
class Dialogue:
    """A generated recording and its truth (seconds from its start)."""

    spec: DialogueSpec
    wav: Path
    duration_s: float
    utterances: tuple[tuple[float, float, str], ...]  # as spoken, may overlap
    turns: tuple[tuple[float, float, str], ...]  # non-overlapping, dominant voice wins
    overlaps: tuple[tuple[float, float], ...]

    @property
    def speakers(self) -> set[str]:
        return {t[2] for t in self.turns}


def synthesize_voice(text: str, voice: Voice) -> NDArray[np.float32]:
    """``text`` by ``voice`` at 16 kHz, espeak's leading/trailing silence trimmed."""
    args = ["-v", voice.espeak, "-p", str(voice.pitch), "-s", str(voice.speed)]
    proc = subprocess.run(
        ["espeak-ng", *args, "--stdout", text],
        capture_output=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    pcm, source_rate = read_wav_bytes(proc.stdout)
    ratio = Fraction(RATE, source_rate)
    audio = resample_poly(pcm, ratio.numerator, ratio.denominator).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r} ({voice})")
    return np.asarray(audio[loud[0] : loud[-1] + 1], dtype=np.float32)


def _phrases(spec: DialogueSpec, rng: np.random.Generator) -> list[str]:
    """Turn texts: mostly 2-5 words (0.8-2 s of espeak speech), one in four 7-12 words."""
    words = [w for s in spec.sentences for w in s.split()]
    out, pos = [], int(rng.integers(len(words)))
    for _ in range(spec.turns):
        n = int(rng.integers(7, 13)) if rng.random() < 0.25 else int(rng.integers(2, 6))
        out.append(" ".join(words[(pos + k) % len(words)] for k in range(n)))
        pos += n
    return out


def _speaker_order(labels: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Every voice speaks at least twice; no voice follows itself."""
    order: list[str] = []
    for i in range(n):
        missing = [
            lab for lab in labels if order.count(lab) < 2 and (not order or lab != order[-1])
        ]
        pool = missing if missing and n - i <= 2 * len(labels) else labels
        choices = [lab for lab in pool if not order or lab != order[-1]] or labels
        order.append(choices[int(rng.integers(len(choices)))])
    return order


def make_dialogue(spec: DialogueSpec, directory: Path) -> Dialogue:
    """Synthesise ``spec`` into ``<directory>/<name>.wav`` and work out its ground truth."""
    rng = np.random.default_rng(spec.seed)
    labels = sorted(spec.voices)
    texts = _phrases(spec, rng)
    order = _speaker_order(labels, len(texts), rng)
    clips: list[tuple[int, NDArray[np.float32], str]] = []
    cursor = round(0.5 * RATE)
    prev_len = 0
    for who, text in zip(order, texts, strict=True):
        speech = synthesize_voice(text, spec.voices[who])
        gain = float(rng.uniform(0.3, 0.6))
        speech = (gain / float(np.abs(speech).max())) * speech
        if clips and rng.random() < spec.overlap_p:
            # interrupt: start 0.3-0.7 s before the previous turn ends, louder than it
            back = min(round(float(rng.uniform(0.3, 0.7)) * RATE), prev_len // 2)
            start = cursor - back
            speech = speech * (1.6 if gain < 0.5 else 1.2)
        else:
            start = cursor + round(float(rng.uniform(0.1, 0.7)) * RATE)
        clips.append((start, speech, who))
        cursor = max(cursor, start + speech.size)
        prev_len = speech.size
    total = cursor + round(0.6 * RATE)
    audio = np.zeros(total, dtype=np.float32)
    for start, speech, _ in clips:
        audio[start : start + speech.size] += speech
    peak = float(np.abs(audio).max())
    if peak > 0.95:
        audio *= 0.95 / peak
    wav = write_wav(directory / f"{spec.name}.wav", audio)
    turns, overlaps = _truth(clips, total)
    utterances = tuple((s / RATE, (s + c.size) / RATE, who) for s, c, who in clips)
    return Dialogue(spec, wav, total / RATE, utterances, turns, overlaps)


def _truth(
    clips: list[tuple[int, NDArray[np.float32], str]], total: int
) -> tuple[tuple[tuple[float, float, str], ...], tuple[tuple[float, float], ...]]:
    """Per 10 ms frame: the active voice; where two are active, the one with more energy
    over the whole overlapping stretch (so a dominant voice owns all of it)."""
    hop = round(_FRAME_S * RATE)
    frames = -(-total // hop)
    owner: list[str | None] = [None] * frames
    overlaps: list[tuple[float, float]] = []
    for k, (start, speech, who) in enumerate(clips):
        a, b = start // hop, (start + speech.size) // hop
        for f in range(a, b):
            owner[f] = who
        if k:
            p_start, p_speech, _ = clips[k - 1]
            lo, hi = start, min(p_start + p_speech.size, start + speech.size)
            if hi > lo:
                mine = float(np.sum(speech[: hi - lo] ** 2))
                theirs = float(np.sum(p_speech[lo - p_start : hi - p_start] ** 2))
                if theirs > mine:
                    for f in range(lo // hop, hi // hop):
                        owner[f] = clips[k - 1][2]
                overlaps.append((lo / RATE, hi / RATE))
    turns: list[tuple[float, float, str]] = []
    for f, who in enumerate(owner):
        if who is None:
            continue
        t = f * _FRAME_S
        if turns and turns[-1][2] == who and abs(turns[-1][1] - t) < 1e-6:
            turns[-1] = (turns[-1][0], t + _FRAME_S, who)
        else:
            turns.append((t, t + _FRAME_S, who))
    return tuple((round(a, 3), round(b, 3), w) for a, b, w in turns), tuple(overlaps)


# --- the two sets ------------------------------------------------------------------------

_CAL_SENTENCES = (
    "the weather report says it will rain on the coast tomorrow afternoon",
    "please send me the slides before lunch so I can check the numbers",
    "our team finished the first prototype and it works better than expected",
    "I think we need more time to test the new release properly",
    "the train was late again so I missed the beginning of the talk",
    "can you ask the supplier about the price of the larger boxes",
)
_TEST_SENTENCES = (
    "my sister moved to a small village near the mountains last spring",
    "the museum opens at nine and the tickets are cheaper on sunday",
    "we could paint the kitchen green if the landlord agrees to it",
    "the doctor told him to walk for half an hour every single day",
    "nobody remembered where the keys to the old garage were kept",
    "the library will stay closed for repairs until the end of march",
)

# calibration voices: two pairs of the same base voice at different pitch
_CAL_VOICES = {
    "A": Voice("en-us+m3", pitch=35),
    "B": Voice("en-us+m3", pitch=70),
    "C": Voice("en+f3", pitch=50, speed=175),
    "D": Voice("en-gb-x-rp", pitch=45, speed=155),
}
_CAL_VOICES_2 = {
    "A": Voice("en+f3", pitch=40),
    "B": Voice("en+f3", pitch=75, speed=180),
    "C": Voice("en-gb-x-rp", pitch=30),
}
# test voices: en+f4, en+m7 and de never occur in calibration
_TEST_VOICES = {
    "A": Voice("en+m7", pitch=30),
    "B": Voice("en+m7", pitch=65, speed=150),
    "C": Voice("en+f4", pitch=50),
}
_TEST_VOICES_2 = {
    "A": Voice("en+f4", pitch=40, speed=170),
    "B": Voice("de", pitch=45),
    "C": Voice("en-us+m3", pitch=55, speed=150),
    "D": Voice("en+f4", pitch=80),
}

# voices of the test set that calibration never heard
TEST_VOICES_ONLY = (Voice("en+m7"), Voice("en+f4"), Voice("de"))

CALIBRATION: tuple[DialogueSpec, ...] = (
    DialogueSpec("cal1", _CAL_VOICES, _CAL_SENTENCES, seed=101, turns=16),
    DialogueSpec("cal2", _CAL_VOICES_2, _CAL_SENTENCES, seed=102, turns=14),
    DialogueSpec("cal3", _CAL_VOICES, _CAL_SENTENCES[::-1], seed=103, turns=18, overlap_p=0.3),
    DialogueSpec("cal4", _CAL_VOICES_2, _CAL_SENTENCES[::-1], seed=104, turns=12),
)
TEST: tuple[DialogueSpec, ...] = (
    DialogueSpec("test1", _TEST_VOICES, _TEST_SENTENCES, seed=201, turns=14),
    DialogueSpec("test2", _TEST_VOICES_2, _TEST_SENTENCES, seed=202, turns=16),
    DialogueSpec("test3", _TEST_VOICES, _TEST_SENTENCES[::-1], seed=203, turns=16, overlap_p=0.3),
)
