"""Arrival forecast, the two scaling policies, the simulator, and the autoscaler on a real fleet."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aima.compute.providers.base import GpuRequirement
from aima.compute.scaling import (
    Arrival,
    ArrivalForecaster,
    FleetAutoscaler,
    PredictivePolicy,
    ReactivePolicy,
    simulate,
    simulated_weeks,
)
from aima.jobs.ledger import Ledger
from aima.runtime import Runtime
from aima.store.models import Media
from tests.compute.test_fleet import World, _make_world

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00


def _two_mondays(per_hour_at_9: int) -> ArrivalForecaster:
    f = ArrivalForecaster()
    for week in range(2):
        base = MONDAY + timedelta(weeks=week, hours=9)
        for i in range(per_hour_at_9):
            f.observe(base + timedelta(seconds=i * 3600 / per_hour_at_9))
    return f


def test_forecast_learns_the_hour_of_week() -> None:
    f = _two_mondays(12)
    now = MONDAY + timedelta(weeks=2, hours=8, minutes=55)
    assert f.rate(now, now + timedelta(minutes=10)) == pytest.approx(12)  # Monday 9:05
    assert f.rate(now, now + timedelta(hours=5)) == 0  # Monday 14:00 was always empty
    assert f.profile[9] == pytest.approx(12) and f.profile[8] == 0


def test_recent_rate_corrects_the_profile_within_a_clamp() -> None:
    f = _two_mondays(10)
    now = MONDAY + timedelta(weeks=2, hours=9, minutes=30)
    for i in range(10):  # this Monday is twice as busy: 10 in the first half hour
        f.observe(MONDAY + timedelta(weeks=2, hours=9, minutes=i * 3))
    f.advance(now)
    # recent window (1 h) holds 10 arrivals; usual for 8–9 h is (0 + 10)/2 = 5 → ×2
    assert f.rate(now, now + timedelta(minutes=20)) == pytest.approx(20)
    for i in range(40):
        f.observe(now + timedelta(seconds=i))
    assert f.rate(now, now + timedelta(minutes=20)) == pytest.approx(20)  # clamped at ×2


def test_without_history_the_recent_rate_is_the_forecast() -> None:
    f = ArrivalForecaster()
    for i in range(6):
        f.observe(MONDAY + timedelta(minutes=10 * i))
    now = MONDAY + timedelta(minutes=55)
    assert f.rate(now, now + timedelta(minutes=5)) == pytest.approx(6)


def test_policies() -> None:
    assert ReactivePolicy(max_workers=5).target(MONDAY, queued=4, busy=3) == 5
    assert ReactivePolicy(max_workers=5).target(MONDAY, queued=0, busy=0) == 0
    p = PredictivePolicy(max_workers=20, work_per_job_h=0.5, boot_s=300, forecaster=_two_mondays(8))
    now = MONDAY + timedelta(weeks=2, hours=8, minutes=57)
    # load = 8/h × 0.5 h = 4 workers, + √4 spare = 6, already for 9:00 (boot lead)
    assert p.warm(now) == pytest.approx(6)
    assert p.target(now, queued=0, busy=0) == 6
    assert p.target(now, queued=9, busy=2) == 11  # never below what reactive would run
    assert p.target(now + timedelta(hours=3), queued=0, busy=0) == 0


def test_simulation_serves_every_job_and_counts_the_boot_wait() -> None:
    one = [Arrival(MONDAY + timedelta(minutes=1), 600.0)]
    r = simulate(
        one, ReactivePolicy(max_workers=2), boot_s=180, idle_terminate_s=600, price_per_hour=1.0
    )
    assert r.jobs == 1 and r.launches == 1
    assert r.wait_p95_s == pytest.approx(180, abs=60)  # boot, plus up to one tick
    # alive = boot + work + idle grace (0.383 h), give or take a tick and the 2-decimal rounding
    assert 0.37 <= r.gpu_hours <= 0.44


def test_predictive_cuts_p95_wait_on_a_seeded_week() -> None:
    arrivals = simulated_weeks(MONDAY, weeks=2, peak_per_hour=20, seed=7)
    measure = MONDAY + timedelta(weeks=1)
    common = {
        "boot_s": 240.0,
        "idle_terminate_s": 600.0,
        "price_per_hour": 0.5,
        "measure_from": measure,
    }
    reactive = simulate(arrivals, ReactivePolicy(max_workers=30), **common)
    predictive = simulate(
        arrivals, PredictivePolicy(max_workers=30, work_per_job_h=0.1, boot_s=240.0), **common
    )
    assert reactive.jobs == predictive.jobs == sum(a.at >= measure for a in arrivals)
    assert predictive.wait_p95_s < reactive.wait_p95_s
    assert predictive.launches < reactive.launches
    assert reactive.gpu_hours > 0 and predictive.cost == pytest.approx(
        predictive.gpu_hours * 0.5, abs=0.01
    )


def test_simulated_weeks_are_seeded_and_shaped() -> None:
    a = simulated_weeks(MONDAY, weeks=1, seed=3)
    assert a == simulated_weeks(MONDAY, weeks=1, seed=3)
    weekday_peak = sum(1 for x in a if x.at.weekday() < 5 and 12 <= x.at.hour < 16)
    weekend_peak = sum(1 for x in a if x.at.weekday() >= 5 and 12 <= x.at.hour < 16)
    nights = sum(1 for x in a if x.at.hour < 5)
    assert weekday_peak / 5 > 2 * weekend_peak / 2 and weekday_peak / 5 > 5 * nights / 7


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Iterator[World]:
    yield from _make_world(sqlite_runtime, max_workers=4)


def test_autoscaler_follows_the_ledger(world: World) -> None:
    ledger = Ledger(world.rt.db, world.rt.settings.jobs, clock=world.clock.now)
    with world.rt.db.session() as s:
        for i in range(3):
            s.add(
                Media(
                    id=f"m{i}",
                    sha256=hashlib.sha256(bytes([i])).hexdigest(),
                    size=1,
                    kind="image",
                    format="png",
                    mime="image/png",
                    original_name=f"{i}.png",
                    info={},
                )
            )
    for i in range(3):
        ledger.submit(f"m{i}", ["thumbnails"])
    scaler = FleetAutoscaler(
        world.fleet, ReactivePolicy(max_workers=4), requirement=GpuRequirement(min_gpu_memory_gb=24)
    )
    assert scaler.tick() == (3, 3, 0)
    for w in world.fleet.workers(active=True):
        claim = ledger.claim(f"{w.id}-0")
        assert claim is not None
        ledger.complete(claim)
    world.clock.advance(601)
    assert scaler.tick() == (0, 0, 3)
    assert world.fleet.workers(active=True) == []


def test_policy_from_settings() -> None:
    from aima.compute.scaling import policy_from_settings
    from aima.core.settings import FleetSettings

    p = policy_from_settings(FleetSettings(jobs_per_worker_hour=4, boot_s=240, max_workers=7))
    assert isinstance(p, PredictivePolicy)
    assert (p.work_per_job_h, p.boot_s, p.max_workers) == (0.25, 240, 7)
    assert isinstance(policy_from_settings(FleetSettings(scaling="reactive")), ReactivePolicy)
