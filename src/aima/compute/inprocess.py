"""The embedded default: the analyzer runs in the worker's own process and threads."""

from __future__ import annotations

import time

from aima.analyzers.base import AnalysisContext, Analyzer, ChunkData
from aima.compute.executors import ChunkRun
from aima.compute.gpus import device_class


class InProcessExecutor:
    """``analyzer.run`` right here; the model is loaded once per process by the analyzer.

    ``device`` (the cost model's device class) is ``cuda:<name>`` when this process may
    use an NVIDIA GPU (NVML, ``CUDA_VISIBLE_DEVICES``), else ``cpu``; read once.
    """

    name = "inprocess"

    def __init__(self, device: str | None = None) -> None:
        self._device = device

    @property
    def device(self) -> str:
        if self._device is None:
            self._device = device_class()
        return self._device

    def run_chunk(self, analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData) -> ChunkRun:
        analyzer.ensure_loaded()  # loading is not the chunk's cost
        started = time.perf_counter()
        decoded_before = data.decode_s
        result = analyzer.run(ctx, data)
        spent = time.perf_counter() - started - (data.decode_s - decoded_before)
        return ChunkRun(result, max(0.0, spent), self.device, self.name)

    def close(self) -> None:
        return None
