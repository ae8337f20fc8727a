"""A test analyzer that counts its own executions, across processes.

Load it with ``plugins=["tests.plugins.counting"]`` (``AIMA_PLUGINS='["tests.plugins.counting"]'``,
with the repository root on ``PYTHONPATH``) and configure it with
``analyzers={"counting": {...}}`` (``AIMA_ANALYZERS='{"counting": {...}}'``).

``plan()`` returns exactly ``chunks`` chunks whatever the media. Each execution
appends ``"<job_id> <chunk_index> <pid>"`` to ``log_path`` (flushed and fsynced
before the chunk's result is returned), so a test can count how often every
chunk ran even when the worker was killed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from aima.analyzers.base import (
    AnalysisContext,
    Analyzer,
    AnalyzerConfig,
    Chunk,
    ChunkData,
    Modality,
)
from aima.core.errors import AnalyzerError
from aima.media.types import MediaInfo


class CountingConfig(AnalyzerConfig):
    chunks: int = Field(default=3, ge=1, le=100_000, description="chunks planned for any media")
    sleep_s: float = Field(default=0.0, ge=0, description="work time per chunk")
    log_path: str | None = Field(default=None, description="append one line per execution")
    fail_on_chunk: int | None = Field(
        default=None, description="raise a plain ValueError on this chunk (analyzer failure)"
    )
    retryable_fail_times: int = Field(
        default=0, ge=0, description="raise a retryable AnalyzerError the first N executions"
    )
    rendezvous: int = Field(
        default=0,
        ge=0,
        description="the first execution in each process waits until the log shows this many "
        "processes (a barrier: every worker gets work, however slowly the others start)",
    )
    rendezvous_timeout_s: float = Field(default=300, gt=0, description="then fail the chunk")
    terminate_db_on_chunk: int | None = Field(
        default=None,
        description="the first time this chunk runs, kill every other PostgreSQL connection to "
        "the job's database (pg_terminate_backend): a database blip mid-job",
    )
    db_url: str | None = Field(default=None, description="libpq URL for terminate_db_on_chunk")


def read_log(path: Path | str) -> list[tuple[str, int, int]]:
    """The execution log as (job_id, chunk_index, pid) tuples."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        if line.strip():
            job_id, index, pid = line.split()
            out.append((job_id, int(index), int(pid)))
    return out


class Counting(Analyzer):
    name = "counting"
    version = "1.0.0"
    modality = Modality.MEDIA
    Config: ClassVar[type[AnalyzerConfig]] = CountingConfig
    description = "test plug-in: N chunks, counts executions in a log file"

    @property
    def cfg(self) -> CountingConfig:
        assert isinstance(self.config, CountingConfig)
        return self.config

    def plan(self, info: MediaInfo) -> list[Chunk]:
        return [Chunk(i, float(i), float(i + 1)) for i in range(self.cfg.chunks)]

    def _executions_so_far(self) -> int:
        return len(read_log(self.cfg.log_path)) if self.cfg.log_path else 0

    def _log(self, ctx: AnalysisContext, chunk: Chunk) -> None:
        if not self.cfg.log_path:
            return
        fd = os.open(self.cfg.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{ctx.job_id} {chunk.index} {os.getpid()}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    _met = False

    def _wait_for_peers(self) -> None:
        deadline = time.monotonic() + self.cfg.rendezvous_timeout_s
        while len({pid for _, _, pid in read_log(self.cfg.log_path or "")}) < self.cfg.rendezvous:
            if time.monotonic() > deadline:
                raise AnalyzerError(f"counting: fewer than {self.cfg.rendezvous} processes came")
            time.sleep(0.05)
        self._met = True

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        chunk = data.chunk
        previous = self._executions_so_far()
        self._log(ctx, chunk)
        if self.cfg.rendezvous and not self._met:
            self._wait_for_peers()
        if self.cfg.sleep_s:
            time.sleep(self.cfg.sleep_s)
        if previous < self.cfg.retryable_fail_times:
            raise AnalyzerError(
                f"counting: transient failure {previous + 1}/{self.cfg.retryable_fail_times}",
                retryable=True,
            )
        if self.cfg.fail_on_chunk is not None and chunk.index == self.cfg.fail_on_chunk:
            raise ValueError(f"counting: chunk {chunk.index} is broken on purpose")
        if chunk.index == self.cfg.terminate_db_on_chunk and not self._terminated:
            self._terminated = True
            self.terminated = terminate_other_connections(self.cfg.db_url or "")
        return {"index": chunk.index}

    _terminated = False
    terminated = 0  # connections killed by terminate_db_on_chunk

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        return {"chunks": len(chunks), "sum": sum(c["index"] for c in chunks)}


def terminate_other_connections(libpq_url: str) -> int:
    """Kill every other connection to this database, as a DBA or a failover would."""
    import psycopg

    with psycopg.connect(libpq_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)
