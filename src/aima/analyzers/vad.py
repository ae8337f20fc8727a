"""Voice activity detection: where in the audio someone speaks (Silero VAD on ONNX Runtime).

The model is the ONNX file shipped in the ``silero-vad`` wheel (installed ``--no-deps``:
the package itself imports torch, we only read its file). Each chunk runs Silero's
streaming loop over the whole chunk audio including the overlap (windows on one
media-wide grid), decides speech with hysteresis
(:func:`aima.analyzers._audio_vad.hysteresis`) and reports:

* ``segments``: those whose start the chunk owns, whole (a segment may run past the
  chunk's end);
* ``carried_in``: those that started in an earlier chunk and run into this one, as
  this chunk sees them. The owning chunk's audio stops ``overlap`` seconds after its
  end, so long speech is cut there; and two chunks may judge a pause near an edge
  differently. ``finalize`` takes the union of both lists, so no speech falls
  between chunks; transcribe and speakers read both lists and keep what *starts*
  inside their chunk (words, embedding windows).

``confidence`` is the mean Silero speech probability over the segment's 32 ms
windows: Silero's output is already a calibrated-looking probability (≈1.0 inside
clean speech, ≈0 in silence), so it is used as is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from aima.analyzers._audio_common import (
    AUDIO_KINDS,
    MODEL_RATE,
    has_audio,
    package_version,
    skip_reason,
    to_model_rate,
)
from aima.analyzers._audio_vad import (
    chunk_segments,
    grid_offset,
    hysteresis,
    merge_segments,
    silero_probs,
)
from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.inference.models import ModelSpec
from aima.inference.sessions import InferenceSession, onnx_session
from aima.media.types import MediaInfo
from aima.results import AnalyzerResult, VadResult

SILERO_ONNX = ModelSpec(
    name="silero-vad",
    path="data/silero_vad.onnx",
    package="silero_vad",
    sha256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    how_to_get="pip install --no-deps silero-vad==6.2.3 (only its ONNX file is used; no torch)",
    description="Silero VAD v6, 16 kHz, 512-sample windows",
    version="silero-vad 6.2.3 (v6 ONNX)",
    licence="MIT",
)


class VadConfig(AnalyzerConfig):
    threshold: float = Field(default=0.5, gt=0, lt=1, description="probability that starts speech")
    neg_threshold: float = Field(
        default=0.35, gt=0, lt=1, description="probability below which speech may end"
    )
    min_speech_s: float = Field(default=0.25, ge=0, description="shorter segments are dropped")
    min_silence_s: float = Field(
        default=0.3, ge=0, description="a pause must last this long to end a segment"
    )
    speech_pad_s: float = Field(default=0.1, ge=0, le=2, description="added to both ends")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> VadConfig:
        if self.neg_threshold > self.threshold:
            raise ValueError("neg_threshold must not exceed threshold")
        return self


class Vad(Analyzer):
    name = "vad"
    Result: ClassVar[type[AnalyzerResult]] = VadResult
    version = "1.0.0"
    modality = Modality.AUDIO
    kinds = AUDIO_KINDS
    Config: ClassVar[type[AnalyzerConfig]] = VadConfig
    description = "speech segments (Silero VAD, ONNX Runtime)"
    model_specs = (SILERO_ONNX,)

    _session: InferenceSession | None = None

    @property
    def cfg(self) -> VadConfig:
        assert isinstance(self.config, VadConfig)
        return self.config

    @property
    def model_id(self) -> str:
        return f"silero-vad-{package_version('silero-vad')}/silero_vad.onnx"

    def applies_to(self, info: MediaInfo) -> bool:
        return has_audio(info)

    def skip_reason(self, info: MediaInfo) -> str | None:
        return skip_reason(info)

    def load(self) -> None:
        # one 32 ms window per call: a single intra-op thread is fastest
        self._session = onnx_session(self.models.path(SILERO_ONNX), threads=1)

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        assert self._session is not None
        cfg = self.cfg
        span = data.audio
        audio = to_model_rate(span.samples, span.rate)
        skip = grid_offset(span.start_s)
        audio = audio[skip:]
        probs = silero_probs(self._session, audio)
        found = hysteresis(
            probs,
            total_s=audio.size / MODEL_RATE,
            threshold=cfg.threshold,
            neg_threshold=cfg.neg_threshold,
            min_speech_s=cfg.min_speech_s,
            min_silence_s=cfg.min_silence_s,
            speech_pad_s=cfg.speech_pad_s,
        )
        owned, carried_in = chunk_segments(
            found,
            offset_s=span.start_s + skip / MODEL_RATE,
            core_start=span.core_start_s,
            core_end=span.core_end_s,
        )
        return {"segments": owned, "carried_in": carried_in}

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        cfg = self.cfg
        pieces = [s for c in chunks for s in (*c["segments"], *c.get("carried_in", ()))]
        # two padded segments one chunk kept apart are >= min_silence - 2 * pad apart
        # (less 10 ms for rounding); closer pieces are two chunks' views of one segment
        join_gap_s = max(0.0, cfg.min_silence_s - 2 * cfg.speech_pad_s - 0.01)
        segments = merge_segments(pieces, join_gap_s=join_gap_s)
        speech_s = float(sum(s["end"] - s["start"] for s in segments))
        return {"segments": segments, "speech_s": round(speech_s, 3)}
