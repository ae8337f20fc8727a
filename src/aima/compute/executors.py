"""The executor protocol: run one analyzer on one chunk somewhere, return its JSON result.

Executors **only compute**. The worker that claimed the job (and holds its lease and
fencing token) calls ``run_chunk`` and commits what comes back through the ledger;
an executor never writes to the database. So a lost actor, a lost node or a dead
Ray cluster costs at most the chunk that was in flight: it is computed again, nothing
committed is redone.

Two implementations, chosen by ``compute.executor``:

* ``inprocess`` (:mod:`aima.compute.inprocess`): the analyzer runs in the worker's
  own process, as it always has (the embedded default);
* ``ray`` (:mod:`aima.compute.ray_executor`): the chunk's decoded inputs are shipped
  to a Ray actor that keeps the analyzer's model loaded (``num_gpus`` per analyzer).

Search by example (:mod:`aima.pipeline.oneshot`) goes through the same executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aima.analyzers.base import AnalysisContext, Analyzer, ChunkData
from aima.core.errors import AnalyzerError
from aima.core.settings import Settings

#: How often the runner tries one chunk on a fresh actor after an ExecutorLost.
EXECUTOR_ATTEMPTS = 3


class ExecutorLost(AnalyzerError):
    """The actor or node computing a chunk went away (or the cluster is unreachable).

    Always retryable: the runner tries the chunk again on a new actor (a bounded number of
    times); after that the job is handed back to the queue with its committed chunks kept.
    """

    code = "executor_lost"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, retryable=True, details=details)


@dataclass(frozen=True, slots=True)
class ChunkRun:
    """One chunk's result and where/how long it was computed (for cost accounting).

    ``compute_s`` is the analyzer's own time where it ran (model load excluded, decoding
    and shipping excluded); ``device`` is ``"cpu"`` or ``"cuda:<GPU name>"``; ``where``
    says which executor/actor/node ran it (logs, benchmarks).
    """

    result: dict[str, Any]
    compute_s: float
    device: str = "cpu"
    where: str = "inprocess"


class Executor(Protocol):
    """Runs an analyzer's chunk; never commits anything."""

    name: str

    def run_chunk(self, analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData) -> ChunkRun:
        """The analyzer's result for one chunk.

        Raises what the analyzer raises (its errors are the chunk's failure, as in-process)
        and :class:`ExecutorLost` when the place it ran on was lost (retry elsewhere).
        """
        ...

    def close(self) -> None:
        """Release actors/connections (safe to call twice)."""
        ...


def build_executor(settings: Settings) -> Executor:
    """The executor ``compute.executor`` names (Ray is imported only when chosen)."""
    if settings.compute.executor == "ray":
        from aima.compute.ray_executor import RayExecutor

        return RayExecutor(settings.compute)
    from aima.compute.inprocess import InProcessExecutor

    return InProcessExecutor()
