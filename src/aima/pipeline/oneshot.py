"""Run analyzers on a file outside any job: nothing is stored, nothing is checkpointed.

Search by example uses it: the query photo or voice clip goes through exactly the
analyzers (and model versions) that produced the library's embeddings, so query and
library vectors are comparable. Chunks run on the runtime's executor (a Ray actor that
keeps the model loaded when ``compute.executor=ray``), not inside the API request. Images the analyzers produce (face crops) go to a
throw-away blob store: a query leaves no trace but its audit event.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from aima.analyzers.base import AnalysisContext, ChunkData
from aima.analyzers.registry import AnalyzerRegistry
from aima.compute.executors import Executor
from aima.compute.inprocess import InProcessExecutor
from aima.core.errors import InvalidInput
from aima.core.ids import new_id
from aima.core.settings import DecodeSettings
from aima.media.decoder import ChunkDecoder
from aima.media.types import MediaInfo
from aima.store.blobs import LocalBlobStore


def analyze_file(
    path: Path,
    info: MediaInfo,
    registry: AnalyzerRegistry,
    names: list[str],
    decode: DecodeSettings,
    executor: Executor | None = None,
) -> dict[str, dict[str, Any]]:
    """Final results of ``names`` (and what they require) for one validated file."""
    executor = executor or InProcessExecutor()
    order = registry.order(registry.resolve(names))
    results: dict[str, dict[str, Any]] = {}
    chunk_results: dict[str, dict[int, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="aima-query-") as tmp:
        blobs = LocalBlobStore(Path(tmp))
        ctx = AnalysisContext(new_id("qry"), "query", path, info, blobs)
        decoder = ChunkDecoder(path, info, decode)
        try:
            for name in order:
                analyzer = registry.get(name)
                reason = analyzer.skip_reason(info)
                if reason is not None:
                    raise InvalidInput(f"the query file has nothing for {name}: {reason}")
                outs: dict[int, dict[str, Any]] = {}
                for chunk in analyzer.plan(info):
                    data = ChunkData(chunk, decoder)
                    data.upstream = {
                        req: chunk_results[req][chunk.index]
                        for req in analyzer.requires
                        if chunk.index in chunk_results.get(req, {})
                    }
                    outs[chunk.index] = executor.run_chunk(analyzer, ctx, data).result
                chunk_results[name] = outs
                results[name] = analyzer.finalize(ctx, [outs[i] for i in sorted(outs)])
        finally:
            decoder.close()
    return results
