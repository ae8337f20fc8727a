"""Analyzer chunks on a Ray cluster: one actor per analyzer keeps its model loaded.

Where the inputs come from (the choice, and why). The worker that claimed the job
decodes the chunk where the media is, once for all analyzers of the chunk (exactly as
in-process), and ships a typed, serialisable :class:`ChunkBatch`: keyframes as numpy
RGB arrays with their timestamps, audio as float32 PCM with its span. The actor does
not read the blob store, so the cluster needs neither the store's credentials nor the
keys that decrypt blobs at rest, and a local-directory store works as well as S3. The
price is bandwidth: a chunk ships its keyframes (already scaled to ``decode.max_side``)
and 64 kB per second of audio, small beside the models' work.

Images an analyzer writes while it works (face crops, thumbnails) go into a
:class:`CollectingBlobStore` on the actor and come back with the result; the worker
puts them into the real store before it commits the chunk. Blobs are content-addressed,
so the keys the result names are the keys they are stored under.

Failure: an actor, node or cluster that is lost raises
:class:`~aima.compute.executors.ExecutorLost`; the executor forgets that actor, and the
runner tries the chunk again on a new one (bounded). Nothing is committed by actors,
so nothing committed is redone. An error the analyzer itself raised comes back as that
error (the chunk's failure, as in-process).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aima.analyzers.base import (
    AnalysisContext,
    Analyzer,
    AnalyzerConfig,
    Chunk,
    ChunkData,
    Modality,
)
from aima.compute.executors import ChunkRun, ExecutorLost
from aima.compute.inprocess import InProcessExecutor
from aima.core.errors import StorageError
from aima.core.settings import ComputeSettings
from aima.inference.models import ModelStore
from aima.media.types import AudioSpan, Frame, MediaInfo, MediaKind
from aima.store.blobs import BlobRef

log = logging.getLogger(__name__)

NAMESPACE = "aima"


# --------------------------------------------------------------------- what travels


@dataclass(frozen=True, slots=True)
class ChunkBatch:
    """One chunk's decoded inputs for one analyzer: what crosses the network.

    ``frames`` (keyframes: ``Frame.t`` seconds, ``Frame.image`` an H x W x 3 uint8
    array) and ``audio`` (``AudioSpan.samples`` float32 mono) are present when the
    analyzer's modality reads them, else ``None``.
    """

    media_id: str
    job_id: str
    info: MediaInfo
    chunk: Chunk
    frames: list[Frame] | None
    audio: AudioSpan | None
    upstream: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChunkReply:
    result: dict[str, Any]
    compute_s: float
    device: str
    where: str
    blobs: list[bytes]


def _rekey(value: Any, plain: str, keyed: str) -> Any:
    """``value`` with every string equal to ``plain`` (a blob's sha256) replaced by ``keyed``."""
    if isinstance(value, str):
        return keyed if value == plain else value
    if isinstance(value, dict):
        return {k: _rekey(v, plain, keyed) for k, v in value.items()}
    if isinstance(value, list):
        return [_rekey(v, plain, keyed) for v in value]
    return value


def shipped_inputs(analyzer: Analyzer, info: MediaInfo) -> tuple[bool, bool]:
    """(frames, audio): what an analyzer's chunk reads, by its modality and the media kind.

    ``media`` analyzers (thumbnails) read keyframes of images and videos and the audio
    of audio files; ``timeline`` analyzers read only their requirements' results.
    """
    has_audio = info.kind is not MediaKind.IMAGE and info.audio_codec is not None
    if analyzer.modality is Modality.FRAMES:
        return info.kind is not MediaKind.AUDIO, False
    if analyzer.modality is Modality.AUDIO:
        return False, has_audio
    if analyzer.modality is Modality.MEDIA:
        return info.kind is not MediaKind.AUDIO, info.kind is MediaKind.AUDIO and has_audio
    return False, False


def make_batch(analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData) -> ChunkBatch:
    """Decode what the analyzer reads (shared with the chunk's other analyzers) and pack it.

    A decoding error is raised here, exactly where the analyzer would have met it
    in-process, so it becomes this analyzer's chunk failure.
    """
    frames, audio = shipped_inputs(analyzer, ctx.info)
    return ChunkBatch(
        media_id=ctx.media_id,
        job_id=ctx.job_id,
        info=ctx.info,
        chunk=data.chunk,
        frames=data.frames if frames else None,
        audio=data.audio if audio else None,
        upstream=dict(data.upstream),
    )


class ShippedChunkData(ChunkData):
    """``ChunkData`` on the actor: the inputs that were shipped, nothing decoded here."""

    def __init__(self, batch: ChunkBatch) -> None:
        super().__init__(batch.chunk, None, batch.upstream)
        self._batch = batch

    @property
    def frames(self) -> list[Frame]:
        if self._batch.frames is None:
            raise StorageError(
                f"chunk {self.chunk.index}: keyframes were not shipped to the Ray actor "
                "(the analyzer's modality does not read them); run it with the inprocess "
                "executor or declare its modality as frames"
            )
        return self._batch.frames

    @property
    def audio(self) -> AudioSpan:
        if self._batch.audio is None:
            raise StorageError(
                f"chunk {self.chunk.index}: audio was not shipped to the Ray actor "
                "(the analyzer's modality does not read it, or the media has no audio)"
            )
        return self._batch.audio


class CollectingBlobStore:
    """The actor's blob store: keeps what the analyzer writes, to be stored by the worker.

    Reading blobs the worker's store holds is not possible from an actor (by design: the
    cluster never sees the store); only blobs written during this chunk can be read back.
    """

    def __init__(self) -> None:
        self.written: dict[str, bytes] = {}

    def content_key(self, sha256: str) -> str:
        return sha256

    def put_bytes(self, data: bytes) -> BlobRef:
        sha = hashlib.sha256(data).hexdigest()
        created = sha not in self.written
        self.written[sha] = bytes(data)
        return BlobRef(sha, len(data), created)

    def put_file(self, path: Path) -> BlobRef:
        return self.put_bytes(path.read_bytes())

    def get_bytes(self, sha256: str) -> bytes:
        if sha256 not in self.written:
            raise StorageError(self._remote(f"blob {sha256[:12]}"))
        return self.written[sha256]

    def exists(self, sha256: str) -> bool:
        return sha256 in self.written

    def verify(self, sha256: str) -> bool:
        return sha256 in self.written

    def delete(self, sha256: str) -> None:
        self.written.pop(sha256, None)

    def keys(self) -> Iterator[str]:
        return iter(list(self.written))

    def local_path(self, sha256: str) -> AbstractContextManager[Path]:
        raise StorageError(self._remote(f"a file path for blob {sha256[:12]}"))

    def stream(self, sha256: str) -> Iterator[bytes]:
        yield self.get_bytes(sha256)

    def stream_range(self, sha256: str, start: int, length: int) -> Iterator[bytes]:
        yield self.get_bytes(sha256)[start : start + length]

    def ping(self) -> None:
        return None

    @staticmethod
    def _remote(what: str) -> str:
        return (
            f"{what} is not available on a Ray actor: actors get a chunk's decoded inputs, "
            "not the blob store; run this analyzer with compute.executor=inprocess"
        )


# ------------------------------------------------------------------------- the actor


class AnalyzerActor:
    """Lives on a Ray node; holds one analyzer instance (and its loaded model) for its life."""

    def __init__(
        self, cls: type[Analyzer], config: AnalyzerConfig, chunk_s: float, models_dir: Path
    ) -> None:
        self.analyzer = cls(config, default_chunk_s=chunk_s, models=ModelStore(models_dir))
        self.device: str | None = None
        self._where: str | None = None

    def where(self) -> str:
        """``ray:<host>:<pid>:node=<Ray node id>`` (``local`` outside a Ray worker)."""
        if self._where is None:
            import ray

            node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"
            self._where = f"ray:{socket.gethostname()}:{os.getpid()}:node={node}"
        return self._where

    def _device(self) -> str:
        if self.device is None:
            import ray

            from aima.compute.gpus import device_class

            ids = [int(i) for i in ray.get_gpu_ids()] if ray.is_initialized() else None
            self.device = device_class(ids)
        return self.device

    def run(self, batch: ChunkBatch) -> ChunkReply:
        self.analyzer.ensure_loaded()  # once per actor: the model stays loaded
        blobs = CollectingBlobStore()
        ctx = AnalysisContext(
            batch.media_id, batch.job_id, Path(f"/ray/{batch.media_id}"), batch.info, blobs
        )
        started = time.perf_counter()
        result = self.analyzer.run(ctx, ShippedChunkData(batch))
        spent = time.perf_counter() - started
        return ChunkReply(result, spent, self._device(), self.where(), list(blobs.written.values()))


# ---------------------------------------------------------------------- the executor


class RayExecutor:
    """Ships chunks to per-analyzer actors on the Ray cluster ``compute.ray_address``.

    Actors belong to this executor (one per analyzer version and config, per worker
    process) and end with it; ``num_gpus`` comes from ``compute.ray_gpus`` (fractions
    allowed; 0 or absent: a CPU actor). ``actor_options`` are extra Ray options for
    every actor (scheduling strategy, custom resources).
    """

    name = "ray"

    def __init__(
        self,
        settings: ComputeSettings,
        *,
        start_timeout_s: float = 300.0,
        actor_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.start_timeout_s = start_timeout_s
        self.actor_options = dict(actor_options or {})
        self._actors: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()
        self._owns_connection = False
        self._remote_cls: Any = None
        self._local = InProcessExecutor()

    # -- connection and actors
    def _connect(self) -> None:
        import ray

        if ray.is_initialized():
            return
        address = self.settings.ray_address
        options: dict[str, Any] = {"include_dashboard": False} if address is None else {}
        try:
            ray.init(
                address=address,
                namespace=NAMESPACE,
                log_to_driver=False,
                configure_logging=False,
                **options,
            )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorLost(
                f"cannot reach the Ray cluster at {address or 'a new local Ray'}: {exc}; "
                "start it with `ray start --head` or fix AIMA_COMPUTE__RAY_ADDRESS",
                details={"ray_address": address},
            ) from exc
        self._owns_connection = True

    def _actor(self, analyzer: Analyzer) -> tuple[Any, tuple[str, str, str]]:
        key = (analyzer.name, analyzer.version, analyzer.config_hash)
        with self._lock:
            actor = self._actors.get(key)
            if actor is not None:
                return actor, key
            self._connect()
            import ray

            if self._remote_cls is None:
                self._remote_cls = ray.remote(AnalyzerActor)
            gpus = float(self.settings.ray_gpus.get(analyzer.name, 0.0))
            options: dict[str, Any] = {"max_restarts": 0, "max_task_retries": 0}
            if gpus > 0:
                options["num_gpus"] = gpus
            options.update(self.actor_options)
            actor = self._remote_cls.options(**options).remote(
                type(analyzer),
                analyzer.config,
                analyzer.chunk_s,
                analyzer.models.models_dir.resolve(),  # the same path on every node
            )
            try:  # placed and started (a GPU actor may wait for a node that has one)
                where = ray.get(actor.where.remote(), timeout=self.start_timeout_s)
            except ray.exceptions.GetTimeoutError as exc:
                ray.kill(actor, no_restart=True)
                have = ray.cluster_resources().get("GPU", 0.0)  # type: ignore[no-untyped-call]
                raise ExecutorLost(
                    f"no Ray node could start the {analyzer.name} actor within "
                    f"{self.start_timeout_s:.0f}s (num_gpus={gpus}; the cluster has {have} GPUs)",
                    details={"analyzer": analyzer.name, "num_gpus": gpus},
                ) from exc
            except ray.exceptions.RayError as exc:
                raise ExecutorLost(
                    f"the {analyzer.name} actor could not start: {exc}",
                    details={"analyzer": analyzer.name},
                ) from exc
            log.info("ray actor started", extra={"analyzer": analyzer.name, "where": where})
            self._actors[key] = actor
            return actor, key

    def _forget(self, key: tuple[str, str, str], actor: Any) -> None:
        import ray

        with self._lock:
            if self._actors.get(key) is actor:
                del self._actors[key]
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # it is gone already; nothing to release
            log.debug("could not kill a lost actor", exc_info=True)

    def run_chunk(self, analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData) -> ChunkRun:
        if getattr(analyzer, "llm_endpoint", None) is not None:
            # its work happens at the model endpoint, with clients the runtime attached here:
            # an actor would only add a hop
            return self._local.run_chunk(analyzer, ctx, data)
        batch = make_batch(analyzer, ctx, data)  # decoded here, where the media is
        actor, key = self._actor(analyzer)
        import ray

        try:
            reply: ChunkReply = ray.get(actor.run.remote(batch))
        except ray.exceptions.RayTaskError as exc:
            # the analyzer raised: its own error is the chunk's failure, as in-process
            cause = exc.cause
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except ray.exceptions.RayError as exc:
            self._forget(key, actor)
            raise ExecutorLost(
                f"the Ray actor running {analyzer.name} on chunk {data.chunk.index} was lost "
                f"({type(exc).__name__}: {str(exc)[:300]}); the chunk is retried on a new actor",
                details={"analyzer": analyzer.name, "chunk": data.chunk.index},
            ) from exc
        result = reply.result
        for blob in reply.blobs:  # stored by the worker, which commits the chunk next
            ref = ctx.blobs.put_bytes(blob)
            plain = hashlib.sha256(blob).hexdigest()
            if ref.sha256 != plain:  # an encrypted store keys blobs by a keyed hash
                result = _rekey(result, plain, ref.sha256)
        return ChunkRun(result, reply.compute_s, reply.device, reply.where)

    def actors(self) -> dict[str, str]:
        """Analyzer name -> where its actor runs now (for diagnostics and tests)."""
        import ray

        with self._lock:
            items = list(self._actors.items())
        return {key[0]: ray.get(actor.where.remote()) for key, actor in items}

    def close(self) -> None:
        with self._lock:
            actors, self._actors = list(self._actors.values()), {}
        if not actors and not self._owns_connection:
            return
        import ray

        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # best effort at shutdown
                log.debug("could not kill an actor at close", exc_info=True)
        if self._owns_connection:
            ray.shutdown()
            self._owns_connection = False
