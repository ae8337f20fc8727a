"""Typed analyzer results (see :mod:`aima.results.base`); importing this registers them all."""

from aima.results.audio import SpeakersResult, TranscribeResult, VadResult
from aima.results.base import (
    AnalyzerResult,
    Contribution,
    GenericResult,
    InvalidResult,
    TimelineContext,
    load_result,
    registered,
    result_type,
)
from aima.results.scenes import ScenesResult
from aima.results.vision import (
    BodiesResult,
    EmotionResult,
    FacesResult,
    NsfwResult,
    OcrResult,
    ThumbnailsResult,
)

__all__ = [
    "AnalyzerResult",
    "BodiesResult",
    "Contribution",
    "EmotionResult",
    "FacesResult",
    "GenericResult",
    "InvalidResult",
    "NsfwResult",
    "OcrResult",
    "ScenesResult",
    "SpeakersResult",
    "ThumbnailsResult",
    "TimelineContext",
    "TranscribeResult",
    "VadResult",
    "load_result",
    "registered",
    "result_type",
]
