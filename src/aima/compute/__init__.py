"""Compute: where analyzer chunks run (executors) and which GPUs this machine has.

The job ledger stays the system of record: an executor only computes a chunk's
result; the worker that holds the job's lease commits it with its fencing token.
"""

from aima.compute.executors import ChunkRun, Executor, ExecutorLost, build_executor
from aima.compute.inprocess import InProcessExecutor

__all__ = ["ChunkRun", "Executor", "ExecutorLost", "InProcessExecutor", "build_executor"]
