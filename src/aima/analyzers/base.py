"""The analyzer plug-in contract.

An analyzer is a small class with class-level metadata and a template method:
the pipeline calls ``plan()`` to split a media into checkpoint chunks, then
``run()`` per chunk (which loads the model once, then calls
``_analyze_chunk``), then ``finalize()`` over all chunk results.

Every analyzer of a job that has the same chunk plan reads the same
``ChunkData``: its keyframes and audio are decoded once, on first access, and
shared (decode once, feed every analyzer).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from aima.core.progress import ProgressHook, no_progress
from aima.inference.models import ModelSpec, ModelStore
from aima.media.decoder import ChunkDecoder
from aima.media.types import AudioSpan, Frame, MediaInfo, MediaKind
from aima.results import AnalyzerResult, GenericResult
from aima.store.blobs import BlobStore


class Modality(StrEnum):
    FRAMES = "frames"
    AUDIO = "audio"
    MEDIA = "media"
    TIMELINE = "timeline"


class AnalyzerConfig(BaseModel):
    """Base of every analyzer's own config; a typo in a key fails at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(default=8, ge=1, le=1024)
    chunk_s: float | None = Field(
        default=None, gt=0, description="seconds per checkpoint chunk (default: jobs.chunk_s)"
    )


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    start_s: float | None
    end_s: float | None


class ChunkData:
    """What one chunk offers every analyzer: keyframes and audio, decoded lazily and once.

    A decoding failure is remembered and raised to each analyzer that asks for that
    modality, so it becomes that analyzer's failure (and only theirs).
    """

    def __init__(
        self,
        chunk: Chunk,
        decoder: ChunkDecoder | None,
        upstream: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.chunk = chunk
        self.upstream = upstream or {}
        self._decoder = decoder
        self._decoded: dict[str, Any] = {}  # "frames" / "audio" -> value or the error raised
        self.decode_s = 0.0  # time spent decoding, kept apart from the analyzers' own time

    @property
    def frames(self) -> list[Frame]:
        frames: list[Frame] = self._decode("frames")
        return frames

    @property
    def audio(self) -> AudioSpan:
        audio: AudioSpan = self._decode("audio")
        return audio

    def _decode(self, what: str) -> Any:
        if what not in self._decoded:
            if self._decoder is None:
                raise RuntimeError("this chunk has no decoder (analysis outside a job)")
            started = time.perf_counter()
            try:
                self._decoded[what] = getattr(self._decoder, what)(
                    self.chunk.start_s, self.chunk.end_s
                )
            except Exception as exc:  # noqa: BLE001 - kept, re-raised to each analyzer that asks
                self._decoded[what] = exc
            self.decode_s += time.perf_counter() - started
        value = self._decoded[what]
        if isinstance(value, BaseException):
            raise value
        return value


@dataclass(frozen=True, slots=True)
class AnalysisContext:
    """Everything an analyzer may touch while it works on one media."""

    media_id: str
    job_id: str
    path: Path
    info: MediaInfo
    blobs: BlobStore
    progress: ProgressHook = no_progress


@dataclass(frozen=True, slots=True)
class AnalyzerServices:
    """Handed to every analyzer by the registry (``Analyzer.attach``), built by the runtime.

    ``llm``: the client of the analyzer's ``llm_endpoint`` (None when it declares none).
    ``review_decisions(analyzer)``: (raw confidence, confirmed?) of that analyzer's
    reviewed flags, for calibration; empty when there is no review queue.
    """

    llm: Any = None
    review_decisions: Callable[[str], Sequence[tuple[float, bool]]] = lambda _name: ()


class Analyzer(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    modality: ClassVar[Modality]
    requires: ClassVar[tuple[str, ...]] = ()
    #: optional upstream: ordered after these and handed their chunk results when they
    #: run in the same job (``ChunkData.upstream``), never added to a job because of it
    uses: ClassVar[tuple[str, ...]] = ()
    #: which ``LlmClients`` endpoint ("vlm" / "text") the registry hands over in ``attach``
    llm_endpoint: ClassVar[str | None] = None
    kinds: ClassVar[frozenset[MediaKind]] = frozenset(MediaKind)
    sensitive: ClassVar[bool] = False
    Config: ClassVar[type[AnalyzerConfig]] = AnalyzerConfig
    description: ClassVar[str] = ""
    model_specs: ClassVar[tuple[ModelSpec, ...]] = ()
    #: the typed result model ``finalize()`` output is validated into before it is stored
    Result: ClassVar[type[AnalyzerResult]] = GenericResult

    def __init__(
        self,
        config: AnalyzerConfig,
        *,
        default_chunk_s: float,
        models: ModelStore | None = None,
    ) -> None:
        self.config = config
        self.models = models or ModelStore(Path("models"))
        self.chunk_s = config.chunk_s or default_chunk_s
        self._loaded = False
        self._load_lock = threading.Lock()

    @classmethod
    def unavailable_reason(cls, settings: Any) -> str | None:
        """Why this analyzer cannot run with these settings (recorded like "disabled"), or None."""
        return None

    def attach(self, services: AnalyzerServices) -> None:  # noqa: B027 - optional hook
        """Receive what the composition root hands analyzers (model clients, feedback)."""

    @property
    def model_id(self) -> str:
        """Which model (file, package and version) produced the results."""
        return "none"

    @property
    def config_hash(self) -> str:
        blob = json.dumps(self.config.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def load(self) -> None:  # noqa: B027 - optional hook
        """Load models. Called once per process before the first chunk."""

    def ensure_loaded(self) -> None:
        with self._load_lock:
            if not self._loaded:
                self.load()
                self._loaded = True

    def skip_reason(self, info: MediaInfo) -> str | None:
        """Why this analyzer does not run on a media (recorded as "skipped"), or None."""
        if info.kind not in self.kinds:
            return f"does not apply to {info.kind} media"
        if self.modality is Modality.AUDIO and info.audio_codec is None:
            return "no audio stream"
        return None

    def applies_to(self, info: MediaInfo) -> bool:
        return self.skip_reason(info) is None

    def plan(self, info: MediaInfo) -> list[Chunk]:
        """Checkpoint chunks: one for an image, fixed windows over time for audio/video."""
        if info.kind is MediaKind.IMAGE or not info.duration_s:
            return [Chunk(0, None, None)]
        n = max(1, math.ceil(info.duration_s / self.chunk_s - 1e-9))
        return [
            Chunk(i, i * self.chunk_s, min(info.duration_s, (i + 1) * self.chunk_s))
            for i in range(n)
        ]

    def run(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        self.ensure_loaded()
        return self._analyze_chunk(ctx, data)

    @abstractmethod
    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        """Analyse one chunk; the returned JSON-able dict is committed as its checkpoint."""

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        """Combine the chunk results (in chunk order) into the analyzer's result for the media."""
        return {"chunks": chunks}

    def typed(self, final: dict[str, Any] | AnalyzerResult) -> AnalyzerResult:
        """``finalize()`` output validated into this analyzer's result model.

        Raises :class:`~aima.results.InvalidResult` (naming the offending fields) when
        the analyzer produced something its own model rejects: nothing unvalidated is
        ever stored.
        """
        if self.Result is GenericResult:
            data = final.model_dump() if isinstance(final, AnalyzerResult) else dict(final)
            return GenericResult.model_validate({**data, "analyzer": self.name})
        return self.Result.build(final)
