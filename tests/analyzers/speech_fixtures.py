"""Generated speech for the audio analyzers: two espeak-ng voices, exact known turn times.

Each sentence is synthesised with ``espeak-ng`` (``tests.mediagen.speech``: 16 kHz,
espeak's own leading/trailing silence trimmed) and placed on a timeline with known pauses,
so every utterance's start and end are exact sample positions (the ground truth).
The voices are the pair that Resemblyzer separates best among the espeak variants
measured: ``en-us+m3`` (male) vs ``en+f3`` (female), utterance cosine ≈0.59, while
each voice against itself scores 0.86–0.94.

Nothing is committed: tests build the WAV (and an MP4 with a ``testsrc2`` picture
and the same audio) at run time, deterministically.
"""

from __future__ import annotations

import atexit
import functools
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from aima.media.ffmpeg import tool_path
from tests.mediagen.speech import RATE, espeak_available, synthesize, write_wav

__all__ = [
    "DIALOGUE",
    "RATE",
    "VOICES",
    "PipelineRun",
    "SpeechClip",
    "Utterance",
    "dialogue_run",
    "duration_accuracy",
    "espeak_available",
    "make_dialogue",
    "make_silence",
    "mux_video",
    "overlap_error",
    "run_pipeline",
    "synthesize",
    "write_wav",
]

VOICES = {"A": "en-us+m3", "B": "en+f3"}

# (speaker, sentence, silence before it in seconds). No punctuation inside a sentence:
# espeak pauses ~0.2-0.4 s at a comma or full stop, which a VAD rightly may split on.
# Turn 4 follows turn 3 after only 0.15 s: one VAD segment holding a speaker change.
DIALOGUE: tuple[tuple[str, str, float], ...] = (
    ("A", "Good morning everyone and thank you for coming to the meeting today", 0.8),
    ("B", "I would like to talk about the new budget for the coming year first", 0.7),
    ("A", "That sounds fine so please go ahead and show us all the numbers", 0.6),
    ("B", "The costs went up by ten percent in the last quarter", 0.15),
    ("A", "We should discuss this again next week", 0.9),
)
TAIL_SILENCE_S = 0.8


@dataclass(frozen=True, slots=True)
class Utterance:
    speaker: str
    voice: str
    text: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class SpeechClip:
    """A generated recording and its ground truth (times in seconds from its start)."""

    wav: Path
    mp4: Path | None
    duration_s: float
    utterances: tuple[Utterance, ...]

    @property
    def speakers(self) -> set[str]:
        return {u.speaker for u in self.utterances}

    def speech_regions(self, merge_gap_s: float = 0.3) -> list[tuple[float, float]]:
        """Utterances as a VAD should see them: pauses shorter than ``merge_gap_s`` bridged."""
        regions: list[list[float]] = []
        for u in self.utterances:
            if regions and u.start - regions[-1][1] < merge_gap_s:
                regions[-1][1] = u.end
            else:
                regions.append([u.start, u.end])
        return [(a, b) for a, b in regions]

    def turns(self) -> list[tuple[float, float, str]]:
        return [(u.start, u.end, u.speaker) for u in self.utterances]

    @property
    def transcript(self) -> str:
        """The spoken sentences, lower case, in order (the reference for a word error rate)."""
        return " ".join(u.text.lower() for u in self.utterances)


def make_dialogue(
    directory: Path,
    script: tuple[tuple[str, str, float], ...] = DIALOGUE,
    *,
    video: bool = True,
    name: str = "dialogue",
) -> SpeechClip:
    """Synthesise ``script`` into ``<name>.wav`` (and ``<name>.mp4``) with exact utterance times."""
    parts: list[NDArray[np.float32]] = []
    utterances: list[Utterance] = []
    cursor = 0
    for speaker, text, pause_s in script:
        pause = np.zeros(round(pause_s * RATE), dtype=np.float32)
        voice = VOICES[speaker]
        speech = synthesize(text, voice)
        speech = (0.5 / float(np.abs(speech).max())) * speech
        parts += [pause, speech]
        start = cursor + pause.size
        cursor = start + speech.size
        utterances.append(Utterance(speaker, voice, text, start / RATE, cursor / RATE))
    parts.append(np.zeros(round(TAIL_SILENCE_S * RATE), dtype=np.float32))
    audio = np.concatenate(parts)
    wav = write_wav(directory / f"{name}.wav", audio)
    mp4 = mux_video(wav, directory / f"{name}.mp4") if video else None
    return SpeechClip(wav, mp4, audio.size / RATE, tuple(utterances))


def make_silence(path: Path, seconds: float) -> Path:
    """Digital silence (all-zero samples) as a 16 kHz WAV."""
    return write_wav(path, np.zeros(round(seconds * RATE), dtype=np.float32))


def mux_video(wav: Path, out: Path, *, width: int = 160, height: int = 120, fps: int = 5) -> Path:
    """An MP4 with a ``testsrc2`` picture and ``wav`` as its AAC audio track."""
    with wave.open(str(wav), "rb") as fh:
        seconds = fh.getnframes() / fh.getframerate()
    cmd = [
        tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds:.3f}",
        "-i", "file:" + str(wav.resolve()),
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", "-ac", "1", "-ar", str(RATE),
        "-t", f"{seconds:.3f}", "-fflags", "+bitexact", "-map_metadata", "-1",
        "-f", "mp4", "file:" + str(out.resolve()),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg could not mux {out.name}: {proc.stderr.decode()[-800:]}")
    return out


# --- running the real pipeline ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """What one ingest + worker pass produced (plain data; the runtime is closed)."""

    state: str
    outcome: dict[str, dict[str, Any]]
    results: dict[str, dict[str, Any]]
    model_ids: dict[str, str]
    chunks: dict[str, list[dict[str, Any]]]  # analyzer -> chunk rows in order
    chunk_seconds: dict[str, float]  # analyzer -> summed analysis time of its chunks
    media_s: float


def run_pipeline(
    path: Path,
    workdir: Path,
    analyzers: tuple[str, ...] = ("vad", "transcribe", "speakers"),
    *,
    chunk_s: float = 5.0,
    config: dict[str, dict[str, Any]] | None = None,
    models_dir: Path | None = None,
) -> PipelineRun:
    """Ingest ``path`` with ``analyzers`` into a fresh SQLite runtime and run one job."""
    from aima.runtime import build_runtime
    from aima.services.access import cli_principal
    from tests.conftest import make_settings

    overrides: dict[str, Any] = {"jobs": {"chunk_s": chunk_s}, "analyzers": config or {}}
    if models_dir is not None:
        overrides["models_dir"] = models_dir
    settings = make_settings(workdir / "data", f"sqlite:///{workdir / 'aima.db'}", **overrides)
    rt = build_runtime(settings)
    try:
        out = rt.ingest.ingest_file(path, cli_principal(), analyzers=list(analyzers))
        assert out.status == "created" and out.job_id, out.error
        assert rt.make_worker("t").run_once()
        job = rt.ledger.get(out.job_id)
        chunks: dict[str, list[dict[str, Any]]] = {}
        seconds: dict[str, float] = {}
        for c in sorted(rt.ledger.chunks(out.job_id), key=lambda c: c.chunk_index):
            row = {
                "index": c.chunk_index,
                "start": c.start_s,
                "end": c.end_s,
                "status": c.status,
                "result": c.result,
                "error": c.error,
            }
            chunks.setdefault(c.analyzer, []).append(row)
            seconds[c.analyzer] = seconds.get(c.analyzer, 0.0) + (c.duration_s or 0.0)
        results = {r.analyzer: dict(r.data) for r in rt.ledger.results(out.job_id)}
        model_ids = {r.analyzer: r.model_id for r in rt.ledger.results(out.job_id)}
        with rt.db.session() as s:
            from aima.store.models import Media

            media = s.get(Media, out.media_id)
            media_s = float((media.info if media else {}).get("duration_s") or 0.0)
        return PipelineRun(
            str(job.state), dict(job.outcome), results, model_ids, chunks, seconds, media_s
        )
    finally:
        rt.close()


@functools.cache
def dialogue_run() -> tuple[SpeechClip, PipelineRun]:
    """The two-voice dialogue WAV through vad + transcribe + speakers with 5 s chunks.

    Run once per test session and shared by the three analyzers' test modules (each
    full run costs seconds of pocketsphinx and torch time on 2 cores).
    """
    workdir = tempfile.TemporaryDirectory(prefix="aima-speech-")
    atexit.register(workdir.cleanup)
    root = Path(workdir.name)
    clip = make_dialogue(root, video=False)
    return clip, run_pipeline(clip.wav, root / "run")


def duration_accuracy(
    truth: list[tuple[float, float, str]], hyp: list[tuple[float, float, str]]
) -> tuple[float, dict[str, str]]:
    """Fraction of the true speech time attributed to the right speaker, under the best
    one-to-one mapping of hypothesis labels to true labels (and that mapping)."""
    import itertools

    true_labels = sorted({t[2] for t in truth})
    hyp_labels = sorted({h[2] for h in hyp})
    total = sum(b - a for a, b, _ in truth)
    best, best_map = 0.0, {}
    for perm in itertools.permutations(true_labels, min(len(true_labels), len(hyp_labels))):
        mapping = dict(zip(hyp_labels, perm, strict=False))
        right = sum(
            max(0.0, min(b, d) - max(a, c))
            for a, b, who in truth
            for c, d, label in hyp
            if mapping.get(label) == who
        )
        if total and right / total > best:
            best, best_map = right / total, mapping
    return best, best_map


def overlap_error(truth: list[tuple[float, float]], found: list[tuple[float, float]]) -> float:
    """Largest boundary error between matched regions (inf when the counts differ)."""
    if len(truth) != len(found):
        return float("inf")
    return max(
        (max(abs(a - c), abs(b - d)) for (a, b), (c, d) in zip(truth, found, strict=True)),
        default=0.0,
    )
