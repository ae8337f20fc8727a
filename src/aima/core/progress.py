"""The one progress hook: CLI progress bars, the job's progress column and the live UI all take it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    step: str
    completed: float
    total: float | None = None
    message: str = ""
    job_id: str | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.completed / self.total))


ProgressHook = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The hook to pass when nobody is watching."""


def fan_out(*hooks: ProgressHook) -> ProgressHook:
    """Send one progress event to several hooks (e.g. the job row and a Rich bar)."""

    def hook(event: Progress) -> None:
        for h in hooks:
            h(event)

    return hook
