"""Speech to text with word timestamps, over the VAD's speech segments.

Engines (:mod:`aima.analyzers._audio_asr`): faster-whisper when a CTranslate2
Whisper model sits in ``$AIMA_MODELS_DIR/whisper/<size>`` (accurate, many
languages), else pocketsphinx 5 with its bundled en-US model: fully offline but
weak (word error rate ≈1 on espeak speech, ≈0.23-0.33 on clear human speech), so
its results say so in ``note``. ``backend: whisper`` refuses to run without a
Whisper model instead of falling back.

Each chunk transcribes every VAD segment that touches it (owned and carried in,
see :mod:`aima.analyzers.vad`) and keeps the words that *start* inside the chunk:
a segment crossing a chunk border is heard whole by the chunk it starts in and
continued by the next without a word twice or lost. Confidences: see
:mod:`aima.analyzers._audio_asr` (posterior word probabilities, in [0, 1]).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from aima.analyzers._audio_asr import (
    FALLBACK_NOTE,
    POCKETSPHINX_SPECS,
    WHISPER_SPECS,
    AsrEngine,
    Backend,
    PocketsphinxEngine,
    WhisperEngine,
    most_common,
    owned_piece,
    pocketsphinx_model_id,
    select_backend,
    whisper_device_and_type,
    whisper_model_id,
)
from aima.analyzers._audio_common import (
    AUDIO_KINDS,
    has_audio,
    r3,
    region_samples,
    skip_reason,
    vad_regions,
)
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.models import ModelMissing
from aima.inference.sessions import cpu_threads
from aima.media.types import MediaInfo


class TranscribeConfig(AnalyzerConfig):
    backend: Literal["auto", "pocketsphinx", "whisper"] = Field(
        default="auto",
        description="auto: Whisper when a model is in the models directory, else pocketsphinx",
    )
    whisper_model: str | None = Field(
        default=None,
        description="directory under $AIMA_MODELS_DIR/whisper/ (default: largest present of "
        "large-v3, medium, small, base, tiny)",
    )
    compute_type: str | None = Field(
        default=None, description="CTranslate2 compute type (default: float16 on CUDA, int8 on CPU)"
    )
    language: str | None = Field(
        default=None, description="ISO 639-1 code; None = detect (Whisper; pocketsphinx is en)"
    )
    beam_size: int = Field(default=5, ge=1, le=20, description="Whisper beam width")


class Transcribe(Analyzer):
    name = "transcribe"
    version = "1.0.0"
    modality = Modality.AUDIO
    kinds = AUDIO_KINDS
    requires = ("vad",)
    Config: ClassVar[type[AnalyzerConfig]] = TranscribeConfig
    description = "speech to text with word timestamps (faster-whisper, else pocketsphinx)"
    model_specs = (*POCKETSPHINX_SPECS, *WHISPER_SPECS)

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
        if backend.whisper_dir is not None:
            _, compute_type = whisper_device_and_type(self.cfg.compute_type)
            return whisper_model_id(backend.whisper_dir, compute_type)
        return pocketsphinx_model_id()

    def applies_to(self, info: MediaInfo) -> bool:
        return has_audio(info)

    def skip_reason(self, info: MediaInfo) -> str | None:
        return skip_reason(info)

    def load(self) -> None:
        self._backend = select_backend(self.cfg.backend, self.cfg.whisper_model, self.models)
        if self._backend.whisper_dir is not None:
            self._engine = WhisperEngine(
                self._backend.whisper_dir,
                compute_type=self.cfg.compute_type,
                beam_size=self.cfg.beam_size,
                threads=cpu_threads(),
            )
        else:
            self._engine = PocketsphinxEngine(self.models)

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        assert self._engine is not None
        engine = self._engine
        regions = vad_regions(data, self.name)
        out: dict[str, Any] = {"segments": [], "language": None, "engine": engine.name}
        if self.backend.note:
            out["note"] = self.backend.note
        if not regions:
            return out
        span = data.audio
        languages: list[str | None] = []
        for region in regions:
            audio = region_samples(span, region)
            start = max(region.start, span.start_s)
            pieces, language = engine.transcribe(audio, start, self.cfg.language)
            for piece in pieces:
                kept = owned_piece(piece, span.owns)
                if kept is None:
                    continue
                languages.append(language)
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
        out["language"] = most_common(languages) or self.cfg.language
        return out

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        segments = sorted(
            (s for c in chunks for s in c["segments"]), key=lambda s: (s["start"], s["end"])
        )
        engines = sorted({c["engine"] for c in chunks if c.get("engine")})
        result: dict[str, Any] = {
            "segments": segments,
            "text": " ".join(s["text"] for s in segments if s["text"]),
            "language": most_common([c.get("language") for c in chunks for _ in c["segments"]])
            or most_common([c.get("language") for c in chunks]),
            "engine": "+".join(engines) if engines else self.backend.engine,
        }
        if any(c.get("note") for c in chunks) or (not chunks and self.backend.note):
            result["note"] = FALLBACK_NOTE
        return result
