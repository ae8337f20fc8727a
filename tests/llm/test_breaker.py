"""The circuit breaker's states, driven by a hand-moved clock (no sleeping, no timing)."""

from __future__ import annotations

from aima.llm.breaker import CircuitBreaker
from tests.llm.conftest import FakeClock


def test_opens_after_consecutive_failures_only() -> None:
    clock = FakeClock()
    b = CircuitBreaker(3, 10.0, clock=clock)
    b.failure()
    b.failure()
    b.success()  # a success in between resets the count
    b.failure()
    b.failure()
    assert b.state == "closed" and b.allow()
    b.failure()
    assert b.state == "open" and not b.allow()
    assert b.retry_in() == 10.0


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = FakeClock()
    b = CircuitBreaker(1, 10.0, clock=clock)
    b.failure()
    clock.now += 10
    assert b.state == "half_open"
    assert b.allow() and not b.allow()  # the second caller waits for the probe's verdict
    b.failure()  # the probe failed: open for another period
    assert b.state == "open" and b.retry_in() == 10.0
    clock.now += 10
    assert b.allow()
    b.abandon()  # no verdict (a bug on the caller's side): the next caller may probe
    assert b.allow()
    b.success()
    assert b.state == "closed" and b.allow() and b.allow()
