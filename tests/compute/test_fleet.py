"""Fleet selection, failover, preemption and idle termination against the provider fakes.

Real adapters talk HTTP to the fakes; the fleet writes ``compute_workers`` in a
real database and reads job leases from the real ledger. Time is a
:class:`FakeClock`: "sleeping" advances it, so boot timeouts, circuit pauses and
idle periods happen instantly and deterministically.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from aima.compute.fleet import Fleet
from aima.compute.providers import build_providers
from aima.compute.providers.base import GpuRequirement, NoCapacity, Offer
from aima.core.clock import utcnow
from aima.core.settings import ComputeSettings, FleetSettings
from aima.jobs.ledger import Ledger
from aima.runtime import Runtime
from aima.store.models import ComputeWorker, Media
from tests.compute.fakes._cloud import Response
from tests.compute.fakes.lambda_cloud import LambdaFake
from tests.compute.fakes.runpod import RunPodFake
from tests.compute.fakes.vastai import VastAiFake


class FakeClock:
    def __init__(self) -> None:
        self.t = utcnow()
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


@dataclass
class World:
    rt: Runtime
    fleet: Fleet
    clock: FakeClock
    runpod: RunPodFake
    vast: VastAiFake
    lam: LambdaFake

    def rows(self) -> list[ComputeWorker]:
        with self.rt.db.session() as s:
            return list(s.query(ComputeWorker).order_by(ComputeWorker.launched_at))


def _make_world(rt: Runtime, **fleet: Any) -> Iterator[World]:
    with RunPodFake() as runpod, VastAiFake() as vast, LambdaFake() as lam:
        compute = ComputeSettings(
            providers={
                "runpod": {"api_key": runpod.api_key, "base_url": runpod.graphql_url},
                "vastai": {"api_key": vast.api_key, "base_url": vast.api_url, "max_retries": 1},
                "lambda": {"api_key": lam.api_key, "base_url": lam.api_url},
            },
            fleet=FleetSettings(
                **{
                    "launch_timeout_s": 300,
                    "idle_terminate_s": 600,
                    "circuit_failures": 2,
                    "circuit_reset_s": 120,
                    "max_workers": 3,
                    **fleet,
                }
            ),
        )
        clock = FakeClock()
        providers = build_providers(compute, sleep=clock.sleep)
        f = Fleet(rt.db, providers, compute.fleet, clock=clock, poll_s=15)
        yield World(rt, f, clock, runpod, vast, lam)


@pytest.fixture
def world(sqlite_runtime: Runtime) -> Iterator[World]:
    yield from _make_world(sqlite_runtime)


ON_DEMAND_24 = GpuRequirement(min_gpu_memory_gb=24, spot_ok=False)


def test_offers_are_cheapest_first_across_providers(world: World) -> None:
    offers = world.fleet.offers(GpuRequirement(min_gpu_memory_gb=24))
    prices = [o.price_per_hour for o in offers]
    assert prices == sorted(prices)
    assert {o.provider for o in offers} == {"runpod", "vastai", "lambda"}
    assert (offers[0].provider, offers[0].offer_id) == ("vastai", "5502|spot")


def test_launch_takes_the_cheapest_and_records_it(world: World) -> None:
    view = world.fleet.launch(ON_DEMAND_24)
    assert (view.provider, view.offer_id, view.state) == ("vastai", "5502|ondemand", "running")
    [row] = world.rows()
    assert row.instance_id and row.price_per_hour == pytest.approx(0.22)
    machine = world.vast.market.machines[row.instance_id]
    assert machine.launch["args"][-2:] == ["--worker-id", view.id]
    assert machine.launch["env"]["AIMA_FLEET_WORKER_ID"] == view.id


def test_prices_are_read_again_right_before_launch(world: World) -> None:
    assert world.fleet.offers(ON_DEMAND_24)[0].offer_id == "5502|ondemand"
    world.vast.offers[1]["dph_total"] = 9.0  # the 3090 got dear since the listing
    view = world.fleet.launch(ON_DEMAND_24)
    assert (view.provider, view.offer_id) == ("vastai", "5501|ondemand")


def test_no_capacity_fails_over_to_the_next_cheapest(world: World) -> None:
    world.vast.market.no_capacity.add("5502|ondemand")
    view = world.fleet.launch(ON_DEMAND_24)
    assert (view.provider, view.offer_id) == ("vastai", "5501|ondemand")
    failed, ok = world.rows()
    assert failed.state == "failed" and "no capacity" in (failed.reason or "")
    assert ok.id == view.id and ok.state == "running"


def test_slow_boot_times_out_is_terminated_and_the_next_offer_is_used(world: World) -> None:
    world.vast.market.boot_polls = None  # Vast machines never come up
    view = world.fleet.launch(ON_DEMAND_24)
    assert view.provider == "runpod" and view.state == "running"
    vast_rows = [r for r in world.rows() if r.provider == "vastai"]
    assert len(vast_rows) == 2  # both ≥24 GB on-demand Vast offers were tried
    for r in vast_rows:
        assert r.state == "failed" and "not running after 300s" in (r.reason or "")
        assert world.vast.market.machines[r.instance_id or ""].state == "terminated"
        assert r.spend > 0  # the boot time was paid for
    assert sum(world.clock.slept) >= 600


def test_provider_outage_opens_its_circuit_and_fails_over(world: World) -> None:
    world.vast._rent = lambda *_a: Response.json(503, {"error": "maintenance"})  # type: ignore[method-assign]
    view = world.fleet.launch(ON_DEMAND_24)
    assert view.provider == "runpod"
    assert dict((n, s) for n, s, _ in world.fleet.circuits())["vastai"] == "open"
    # while open, Vast is not even asked for prices
    before = len(world.vast.requests)
    assert all(o.provider != "vastai" for o in world.fleet.offers())
    assert len(world.vast.requests) == before
    # after the pause it is asked again (half-open) and closes on success
    world.clock.advance(121)
    assert any(o.provider == "vastai" for o in world.fleet.offers())
    assert dict((n, s) for n, s, _ in world.fleet.circuits())["vastai"] == "closed"


def test_bad_credentials_trip_the_circuit_at_once(world: World) -> None:
    world.runpod.api_key = "rotated"
    offers = world.fleet.offers(GpuRequirement(min_gpu_memory_gb=24))
    assert offers and all(o.provider != "runpod" for o in offers)
    state = {n: (s, e) for n, s, e in world.fleet.circuits()}["runpod"]
    assert state[0] == "open" and "api_key" in state[1]


def test_preempted_spot_worker_is_marked_and_its_job_resumes_elsewhere(world: World) -> None:
    ledger = Ledger(world.rt.db, world.rt.settings.jobs, clock=world.clock.now)
    view = world.fleet.launch(GpuRequirement(min_gpu_memory_gb=24, gpu_types=("RTX 4090",)))
    assert view.offer_id == "5501|spot"
    job, _ = ledger.submit(_media(world.rt), ["thumbnails"])
    held = ledger.claim(view.id)
    assert held is not None and held.job_id == job.id
    world.vast.market.preempt(view.instance_id or "")
    world.clock.advance(1800)
    assert world.fleet.refresh() == []
    # no heartbeat from the dead machine: the lease has expired, another worker takes the job
    again = ledger.claim("local-worker")
    assert again is not None and again.job_id == job.id and again.token > held.token
    [row] = world.rows()
    assert row.state == "preempted" and "lease expires" in (row.reason or "")
    assert row.spend == pytest.approx(0.25 * (1800 + 15) / 3600, rel=0.05)
    assert world.vast.market.machines[row.instance_id or ""].state == "terminated"


def _media(rt: Runtime) -> str:
    with rt.db.session() as s:
        s.add(
            Media(
                id="m_fleet",
                sha256=hashlib.sha256(b"fleet").hexdigest(),
                size=1,
                kind="image",
                format="png",
                mime="image/png",
                original_name="x.png",
                info={},
            )
        )
    return "m_fleet"


def test_idle_workers_are_terminated_busy_ones_kept(world: World) -> None:
    ledger = Ledger(world.rt.db, world.rt.settings.jobs, clock=world.clock.now)
    a = world.fleet.launch(ON_DEMAND_24)
    b = world.fleet.launch(ON_DEMAND_24)
    ledger.submit(_media(world.rt), ["thumbnails"])
    claim = ledger.claim(f"{a.id}-0")  # worker a's first thread holds a job
    assert claim is not None
    world.clock.advance(599)
    ledger.heartbeat(claim)  # the worker's heartbeat keeps its lease alive
    assert world.fleet.reap_idle() == []
    world.clock.advance(2)
    ledger.heartbeat(claim)
    assert world.fleet.reap_idle() == [b.id]  # a holds a live lease
    states = {r.id: r.state for r in world.rows()}
    assert states == {a.id: "running", b.id: "terminated"}
    # a finishes; once it has been idle long enough it goes too
    ledger.complete(claim)
    world.clock.advance(601)
    assert world.fleet.reap_idle() == [a.id]
    for row in world.rows():
        assert row.state == "terminated" and row.reason and "idle" in row.reason
        assert world.vast.market.machines[row.instance_id or ""].state == "terminated"
        assert row.spend > 0


def test_scale_to_keeps_warm_workers_and_respects_the_cap(world: World) -> None:
    assert world.fleet.scale_to(5, ON_DEMAND_24) == (3, 0)  # capped at max_workers=3
    world.clock.advance(700)
    assert world.fleet.scale_to(1, ON_DEMAND_24) == (0, 2)
    assert len(world.fleet.workers(active=True)) == 1
    with pytest.raises(NoCapacity, match="no available offer"):
        world.fleet.launch(GpuRequirement(min_gpu_memory_gb=500))


def test_fleet_is_a_price_source_for_estimates(world: World) -> None:
    from aima.compute.estimate import PriceSource

    source: PriceSource = world.fleet
    offers = list(source.offers())
    assert offers and all(isinstance(o, Offer) for o in offers)


@pytest.mark.postgres
def test_launch_and_reap_on_postgres(runtime: Runtime) -> None:
    for w in _make_world(runtime, idle_terminate_s=60):
        view = w.fleet.launch(ON_DEMAND_24)
        w.clock.advance(61)
        assert w.fleet.reap_idle() == [view.id]
        assert [r.state for r in w.rows()] == ["terminated"]


def test_cli_gpus_offers_and_fleet_status(tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from aima.cli.main import app
    from aima.runtime import build_runtime
    from tests.conftest import make_settings

    db_url = f"sqlite:///{tmp_path / 'aima.db'}"
    rt = build_runtime(make_settings(tmp_path / "data", db_url))
    try:
        for w in _make_world(rt):
            w.fleet.launch(ON_DEMAND_24)
            env = {
                "AIMA_DATA_DIR": str(tmp_path / "data"),
                "AIMA_DATABASE_URL": db_url,
                "AIMA_COMPUTE__PROVIDERS__VASTAI__API_KEY": w.vast.api_key,
                "AIMA_COMPUTE__PROVIDERS__VASTAI__BASE_URL": w.vast.api_url,
                "AIMA_COMPUTE__PROVIDERS__LAMBDA__API_KEY": "revoked",
                "AIMA_COMPUTE__PROVIDERS__LAMBDA__BASE_URL": w.lam.api_url,
                "AIMA_COMPUTE__PROVIDERS__LAMBDA__MAX_RETRIES": "0",
                "COLUMNS": "200",
            }
            runner = CliRunner()
            # `aima gpus` alone is still this machine's inventory
            assert runner.invoke(app, ["gpus", "--json"], env=env).exit_code == 0
            res = runner.invoke(app, ["gpus", "offers", "--min-memory", "70", "--json"], env=env)
            assert res.exit_code == 0, res.output
            assert '"offer_id": "5503|spot"' in res.output  # the Vast A100, cheapest first
            assert "lambda: skipped" in res.output and "api_key" in res.output
            res = runner.invoke(app, ["fleet", "status"], env=env)
            assert res.exit_code == 0, res.output
            assert "vastai" in res.output and "running" in res.output
            [worker] = w.fleet.workers(active=True)
            res = runner.invoke(app, ["fleet", "stop", worker.id], env=env)
            assert res.exit_code == 0 and "terminated" in res.output, res.output
            res = runner.invoke(app, ["fleet", "stop", "cw_nope"], env=env)
            assert res.exit_code == 1 and "no rented worker" in res.output
    finally:
        rt.close()


def test_cached_prices_feed_the_estimator_without_asking_every_time(world: World) -> None:
    from aima.compute.fleet import CachedPrices

    prices = CachedPrices(world.fleet, max_age_s=60)
    first = prices.offers()
    asked = len(world.vast.calls("POST", "/bundles/"))
    world.clock.advance(30)
    assert prices.offers() == first and len(world.vast.calls("POST", "/bundles/")) == asked
    world.clock.advance(31)
    prices.offers()
    assert len(world.vast.calls("POST", "/bundles/")) == asked + 1
