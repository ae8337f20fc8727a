"""Two test analyzers where one reads the other's same-chunk results (``requires``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality

RUNS: dict[str, int] = {"chain_base": 0, "chain_dep": 0}
FAIL_ONCE: set[int] = set()  # chain_dep chunk indices that fail (once each)


class BaseConfig(AnalyzerConfig):
    factor: int = Field(default=2, ge=1)


class ChainBase(Analyzer):
    name = "chain_base"
    version = "1.0.0"
    modality = Modality.MEDIA
    Config: ClassVar[type[AnalyzerConfig]] = BaseConfig

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        RUNS[self.name] += 1
        assert isinstance(self.config, BaseConfig)
        return {"value": data.chunk.index * self.config.factor}


class ChainDep(Analyzer):
    name = "chain_dep"
    version = "1.0.0"
    modality = Modality.MEDIA
    requires = ("chain_base",)

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        RUNS[self.name] += 1
        if data.chunk.index in FAIL_ONCE:
            FAIL_ONCE.discard(data.chunk.index)
            raise ValueError(f"chunk {data.chunk.index} breaks once")
        return {"plus_one": data.upstream["chain_base"]["value"] + 1}

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        return {"values": [c["plus_one"] for c in chunks]}
