"""The measured cost model, pricing and the estimate, on the real database (SQLite and
PostgreSQL) and the real runner on generated media."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.compute.costs import PRIOR_SECONDS, PRIOR_WEIGHT, CostModel, Pricing, Sample
from aima.compute.estimate import Estimator, Work
from aima.core.settings import ComputeSettings
from aima.jobs.states import JobState
from aima.media.ffmpeg import ffmpeg_available
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import AnalyzerCost, JobChunk
from tests.conftest import make_settings
from tests.mediagen import synth

needs_ffmpeg = pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg/ffprobe not installed")

#: 60 money per device-hour billed in whole minutes: every chunk costs exactly 1.0 (chunks
#: of the thumbnails analyzer take far less than a minute), so spend never depends on timing.
PRICED = {"cpu_price_per_hour": 60.0, "billing_increment_s": 60.0}


@pytest.fixture
def make_rt(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        rt = build_runtime(make_settings(tmp_path / f"data{len(built)}", db_url, **overrides))
        built.append(rt)
        return rt

    yield make
    for rt in built:
        rt.close()


def ingest(rt: Runtime, path: Path) -> str:
    [outcome] = rt.ingest.ingest_paths([path], cli_principal(), analyze=False)
    assert outcome.media_id, outcome
    return outcome.media_id


def drain(rt: Runtime) -> int:
    worker = rt.make_worker("cost-test")
    ran = 0
    while worker.run_once():
        ran += 1
    return ran


def test_prior_until_measured_then_blended_per_version_and_device(
    make_rt: Callable[..., Runtime],
) -> None:
    rt = make_rt()
    model = CostModel(rt.db)
    prior_min, prior_img = PRIOR_SECONDS["faces"]
    rate = model.rate("faces", "1", "cpu", "media_minute")
    assert (rate.seconds_per_unit, rate.basis, rate.samples) == (prior_min, "prior", 0)

    # two chunks of 30 s of media, 12 s of compute each: 24 s per media minute measured
    model.record([Sample("faces", "1", "cpu", "media_minute", 0.5, 12.0)] * 2)
    model.record([Sample("faces", "1", "cpu", "image", 1.0, 0.9)])
    rate = model.rate("faces", "1", "cpu", "media_minute")
    prior_units = PRIOR_WEIGHT * 1.0 / 2  # the prior weighs as three chunks of 0.5 min
    expected = (prior_min * prior_units + 24.0) / (prior_units + 1.0)
    assert rate.basis == "measured" and rate.samples == 2
    assert rate.seconds_per_unit == pytest.approx(expected)
    image = model.rate("faces", "1", "cpu", "image")
    assert image.seconds_per_unit == pytest.approx((prior_img * 3 + 0.9) / 4)

    # another version, another device: their own history (none yet)
    assert model.rate("faces", "2", "cpu", "media_minute").basis == "prior"
    assert model.rate("faces", "1", "cuda:H200", "media_minute").basis == "prior"
    model.record([Sample("faces", "1", "cuda:H200", "media_minute", 1.0, 3.0)])
    rows = {(r.device_class, r.unit): r for r in model.rows()}
    gpu = rows[("cuda:H200", "media_minute")]
    assert (gpu.gpu_s, gpu.cpu_s, gpu.samples) == (3.0, 0.0, 1)
    assert rows[("cpu", "media_minute")].cpu_s == pytest.approx(24.0)


def test_billing_rounds_each_chunk_up_to_whole_increments() -> None:
    exact = Pricing("cpu", 36.0, 0.0, "USD")
    assert exact.money(100.0) == pytest.approx(1.0)
    per_minute = Pricing("cpu", 60.0, 60.0, "USD")
    assert per_minute.money(0.001) == pytest.approx(1.0)  # a started minute is billed
    assert per_minute.money(60.0) == pytest.approx(1.0)
    assert per_minute.money(61.0) == pytest.approx(2.0)
    assert Pricing("cpu", 0.0, 60.0, "USD").money(500.0) == 0.0  # local and free


@dataclass(frozen=True)
class _Offer:
    provider: str
    gpu_type: str
    gpu_memory_gb: float
    price_per_hour: float
    region: str | None
    available: bool


class _Offers:
    """A PriceSource (the provider adapters implement the same protocol)."""

    def __init__(self, offers: list[_Offer]) -> None:
        self._offers = offers

    def offers(self) -> list[_Offer]:
        return list(self._offers)


def test_estimate_prices_local_and_per_offer_cheapest_available_first(
    make_rt: Callable[..., Runtime],
) -> None:
    rt = make_rt()
    costs = CostModel(rt.db)
    work = [Work("transcribe", "1", "media_minute", 10.0, 5), Work("faces", "1", "image", 1.0, 1)]
    free = Estimator(costs, ComputeSettings()).estimate(work)
    assert free.device == "cpu" and free.amount == 0.0 and not free.confirmation_required
    expected_s = PRIOR_SECONDS["transcribe"][0] * 10 + PRIOR_SECONDS["faces"][1]
    assert free.duration_s == pytest.approx(expected_s)
    assert [a.basis for a in free.analyzers] == ["prior", "prior"]

    priced = Estimator(costs, ComputeSettings(cpu_price_per_hour=3.6)).estimate(work)
    assert priced.amount == pytest.approx(expected_s / 1000)  # 3.6/h = 0.001 per second
    assert priced.confirmation_required  # above confirm_above (0)
    lenient = ComputeSettings(cpu_price_per_hour=3.6, confirm_above=10.0)
    assert not Estimator(costs, lenient).estimate(work).confirmation_required

    # measured on an A100 at 4 s per media minute: that offer uses it, the others the prior
    costs.record([Sample("transcribe", "1", "cuda:A100", "media_minute", 1.0, 4.0)] * 50)
    offers = _Offers(
        [
            _Offer("lambda", "H100", 80, 2.49, "us-east", True),
            _Offer("runpod", "A100", 80, 1.19, "eu", True),
            _Offer("vast", "RTX4090", 24, 0.30, None, False),
        ]
    )
    e = Estimator(costs, ComputeSettings(), offers).estimate(work)
    assert [o.provider for o in e.offers] == ["runpod", "lambda", "vast"]  # unavailable last
    assert e.device == "runpod:A100"
    a100 = e.offers[0]
    assert a100.duration_s < e.offers[1].duration_s  # measured speed beats the prior
    assert a100.amount == pytest.approx(a100.duration_s / 3600 * 1.19, rel=1e-3)
    assert e.amount == a100.amount and e.confirmation_required


@needs_ffmpeg
def test_runner_charges_chunks_and_teaches_the_cost_model(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(compute=PRICED)
    video = synth.make_video(tmp_path / "v.mp4", seconds=5.0, width=160, height=120, fps=10)
    media_id = ingest(rt, video)
    plan = rt.jobs.plan(cli_principal(), media_id, ["thumbnails"])
    assert plan.estimate is not None
    assert plan.estimate.amount == pytest.approx(3.0)  # 3 chunks (2 s, 2 s, 1 s), 1.0 each

    job, _ = rt.jobs.submit(cli_principal(), media_id, ["thumbnails"])
    assert job.state == JobState.AWAITING_CONFIRMATION
    assert job.estimate["amount"] == pytest.approx(3.0)
    assert drain(rt) == 0  # never claimed before it is confirmed
    rt.jobs.confirm(cli_principal(), job.id)
    assert drain(rt) == 1

    done = rt.ledger.get(job.id)
    assert done.state == JobState.SUCCEEDED
    assert done.cost_actual == pytest.approx(3.0)
    assert done.confirmed_by == cli_principal().actor
    with rt.db.session() as s:
        row = s.execute(
            select(AnalyzerCost).where(AnalyzerCost.analyzer == "thumbnails")
        ).scalar_one()
        chunks = s.execute(select(JobChunk).where(JobChunk.job_id == job.id)).scalars().all()
    assert [c.status for c in chunks] == ["done"] * 3
    assert (row.unit, row.device_class, row.samples) == ("media_minute", "cpu", 3)
    assert row.units == pytest.approx(5.0 / 60)
    assert row.cpu_s > 0 and row.gpu_s == 0.0

    # the next plan for the same media learns from it
    again = rt.jobs.plan(cli_principal(), media_id, ["thumbnails"])
    [thumbs] = again.analyzers
    assert (thumbs.basis, thumbs.measured_chunks) == ("measured", 3)
