"""What the speech analyzers (vad, transcribe, speakers) share: applicability, 16 kHz audio,
the VAD segments a chunk owns, rounding."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from numpy.typing import NDArray

from aima.analyzers.base import ChunkData
from aima.core.errors import AnalyzerError
from aima.media.types import AudioSpan, MediaInfo, MediaKind

MODEL_RATE = 16000
AUDIO_KINDS = frozenset({MediaKind.AUDIO, MediaKind.VIDEO})


def r3(t: float) -> float:
    """Media time as stored in results: seconds, 3 decimals."""
    return round(float(t), 3)


def has_audio(info: MediaInfo) -> bool:
    return info.kind in AUDIO_KINDS and info.audio_codec is not None


def skip_reason(info: MediaInfo) -> str | None:
    """Why a speech analyzer does not run on ``info`` (``None``: it does)."""
    if info.kind not in AUDIO_KINDS:
        return f"does not apply to {info.kind} media"
    if info.audio_codec is None:
        return "no audio stream"
    return None


def package_version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def to_model_rate(samples: NDArray[np.float32], rate: int) -> NDArray[np.float32]:
    """Mono float32 at 16 kHz, the rate every speech model here was trained on."""
    audio = np.asarray(samples, dtype=np.float32)
    if rate == MODEL_RATE or audio.size == 0:
        return audio
    from scipy.signal import resample_poly

    ratio = Fraction(MODEL_RATE, rate)
    return np.asarray(resample_poly(audio, ratio.numerator, ratio.denominator), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Region:
    """A span of speech in media seconds."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def vad_regions(data: ChunkData, analyzer: str) -> list[Region]:
    """Every VAD segment touching this chunk: the ones it owns and the ones carried in from
    the previous chunk (see :mod:`aima.analyzers.vad`), in time order. Callers keep what
    *starts* inside the chunk (``span.owns``)."""
    upstream = data.upstream.get("vad")
    if upstream is None:
        raise AnalyzerError(
            f"{analyzer} needs the vad result of chunk {data.chunk.index}, which is missing; "
            "re-run the job with the vad analyzer"
        )
    found = [*upstream.get("carried_in", ()), *upstream.get("segments", ())]
    regions = {Region(float(s["start"]), float(s["end"])) for s in found}
    return sorted((r for r in regions if r.end > r.start), key=lambda r: (r.start, r.end))


def region_samples(span: AudioSpan, region: Region) -> NDArray[np.float32]:
    """The samples of ``region`` (clipped to the span) at 16 kHz."""
    return to_model_rate(span.slice(region.start, region.end), span.rate)
