"""State shared by the GPU-marketplace fakes (RunPod, Vast.ai, Lambda, Paperspace).

A fake machine boots after ``boot_polls`` status reads (``None``: never, to test
the launch timeout), can be preempted by the test, and remembers what it was
launched with, so tests can check the bootstrap that reached the provider.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeMachine:
    id: str
    offer: str
    price: float
    spot: bool
    launch: dict[str, Any]
    boot_polls: int | None
    polls: int = 0
    state: str = "pending"  # pending | booting | running | preempted | terminated

    def poll(self) -> str:
        """One status read: pending → booting → running after ``boot_polls`` reads."""
        if self.state in ("pending", "booting"):
            self.polls += 1
            if self.boot_polls is not None and self.polls >= self.boot_polls:
                self.state = "running"
            else:
                self.state = "booting"
        return self.state


@dataclass
class Marketplace:
    """Machines and switches common to every fake."""

    boot_polls: int | None = 1
    no_capacity: set[str] = field(default_factory=set)  # offer keys that are sold out at launch
    machines: dict[str, FakeMachine] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def start(self, offer: str, price: float, spot: bool, launch: dict[str, Any]) -> FakeMachine:
        mid = str(next(self._ids))
        m = FakeMachine(mid, offer, price, spot, launch, self.boot_polls)
        self.machines[mid] = m
        return m

    def preempt(self, machine_id: str) -> None:
        self.machines[machine_id].state = "preempted"

    def running(self) -> list[FakeMachine]:
        return [m for m in self.machines.values() if m.state not in ("terminated",)]
