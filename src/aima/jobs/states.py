"""Job and chunk states."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # estimated to cost money: never claimed
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobState.SUCCEEDED, JobState.PARTIAL, JobState.FAILED, JobState.CANCELLED})


class ChunkStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class AnalyzerStatus(StrEnum):
    """Per-analyzer outcome inside one job (``jobs.outcome``)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DISABLED = "disabled"  # switched off by policy: recorded, never silently skipped
    SKIPPED = "skipped"  # not applicable to this media kind


@dataclass(frozen=True, slots=True)
class Claim:
    """What a worker holds while it runs a job. ``token`` fences every commit."""

    job_id: str
    media_id: str
    owner: str
    token: int
    attempt: int
    analyzers: tuple[str, ...]
    options: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Control:
    """Answer to a heartbeat or a commit: should the worker stop at this chunk boundary?"""

    cancel_requested: bool
    cost_actual: float = 0.0  # the job's spend so far, this chunk's charge included
