"""RunPod, Vast.ai, Lambda and Paperspace adapters against local fakes of their APIs.

Each fake is a real HTTP server on 127.0.0.1 speaking that provider's documented
wire format; the adapters are built from settings by ``build_providers`` exactly
as the product builds them, and only the sleep between retries is swapped out
(recorded instead of slept), so Retry-After is checked without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from aima.compute.providers import build_providers
from aima.compute.providers.base import (
    Bootstrap,
    GpuRequirement,
    NoCapacity,
    Offer,
    Provider,
    ProviderAuthError,
    ProviderUnavailable,
    normalize_gpu_name,
)
from aima.core.errors import ConfigError
from aima.core.settings import ComputeSettings
from tests.compute.fakes._cloud import CloudFake, Response
from tests.compute.fakes.lambda_cloud import LambdaFake
from tests.compute.fakes.paperspace import PaperspaceFake
from tests.compute.fakes.runpod import RunPodFake
from tests.compute.fakes.vastai import VastAiFake

BOOT = Bootstrap(
    image="ghcr.io/aima/worker:cuda",
    env={"AIMA_DATABASE_URL": "postgresql://aima:secret@db/aima"},
    command=("aima", "worker", "--worker-id", "cw_test"),
)


@dataclass
class Case:
    name: str
    make_fake: Callable[[], Any]
    base_url: Callable[[Any], str]
    options: dict[str, str]
    cheapest_24gb: tuple[str, float]  # (offer id, $/h) of the cheapest on-demand ≥24 GB offer


CASES = [
    Case(
        "runpod",
        RunPodFake,
        lambda f: f.graphql_url,
        {},
        ("NVIDIA GeForce RTX 4090|ondemand", 0.69),
    ),
    Case("vastai", VastAiFake, lambda f: f.api_url, {}, ("5502|ondemand", 0.22)),
    Case(
        "lambda",
        LambdaFake,
        lambda f: f.api_url,
        {"ssh_key_names": "ops"},
        ("gpu_1x_a10|us-east-1", 0.75),
    ),
    Case(
        "paperspace",
        PaperspaceFake,
        lambda f: f.api_url,
        {"template_id": "t0nspur5", "regions": "ny2,ams1"},
        ("A6000|ny2", 1.89),
    ),
]


@dataclass
class Rig:
    case: Case
    fake: Any
    provider: Provider
    sleeps: list[float]


def _build(
    case: Case, fake: Any, *, key: str | None = None, retries: int = 3
) -> tuple[Provider, list[float]]:
    sleeps: list[float] = []
    settings = ComputeSettings(
        providers={
            case.name: {
                "api_key": key or fake.api_key,
                "base_url": case.base_url(fake),
                "max_retries": retries,
                "options": case.options,
            }
        }
    )
    providers = build_providers(settings, sleep=sleeps.append)
    return providers[case.name], sleeps


@pytest.fixture(params=CASES, ids=lambda c: c.name)
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    case: Case = request.param
    with case.make_fake() as fake:
        provider, sleeps = _build(case, fake)
        yield Rig(case, fake, provider, sleeps)


def _on_demand(offers: list[Offer]) -> list[Offer]:
    return sorted((o for o in offers if not o.spot), key=lambda o: o.price_per_hour)


def test_price_list_is_parsed_and_filtered(rig: Rig) -> None:
    offers = rig.provider.offers(GpuRequirement(min_gpu_memory_gb=24))
    assert offers, "the fake lists offers"
    assert all(o.provider == rig.case.name for o in offers)
    assert all(o.gpu_memory_gb >= 24 and o.available for o in offers)
    cheapest = _on_demand(offers)[0]
    assert (cheapest.offer_id, cheapest.price_per_hour) == pytest.approx(rig.case.cheapest_24gb)
    big = rig.provider.offers(GpuRequirement(min_gpu_memory_gb=70))
    assert big and all(o.gpu_memory_gb >= 70 for o in big)
    assert {o.gpu_type for o in big} <= {"A100-80GB", "H100-80GB"}


def test_launch_boots_and_terminates(rig: Rig) -> None:
    rig.fake.market.boot_polls = 2
    offer = _on_demand(rig.provider.offers(GpuRequirement(min_gpu_memory_gb=24)))[0]
    inst = rig.provider.launch(offer, BOOT, name="aima-cw_test")
    assert inst.provider == rig.case.name and inst.state in ("pending", "booting")
    assert rig.provider.status(inst.instance_id).state in ("pending", "booting")
    assert rig.provider.status(inst.instance_id).state == "running"
    machine = rig.fake.market.machines[inst.instance_id]
    launched = repr(machine.launch) + repr(getattr(rig.fake, "scripts", {}))
    # the bootstrap reached the provider: image, worker id and the (secret) env
    assert "ghcr.io/aima/worker:cuda" in launched
    assert "cw_test" in launched and "AIMA_DATABASE_URL" in launched
    rig.provider.terminate(inst.instance_id)
    assert rig.provider.status(inst.instance_id).state == "terminated"
    rig.provider.terminate(inst.instance_id)  # idempotent


def test_no_capacity_at_launch(rig: Rig) -> None:
    offer = _on_demand(rig.provider.offers(GpuRequirement(min_gpu_memory_gb=24)))[0]
    rig.fake.market.no_capacity.add(offer.offer_id)
    with pytest.raises(NoCapacity) as err:
        rig.provider.launch(offer, BOOT, name="aima-x")
    assert rig.case.name in err.value.message
    assert not rig.fake.market.machines


def test_429_with_retry_after_then_success(rig: Rig) -> None:
    rig.fake.inject.append(Response.json(429, {"error": "slow down"}, **{"Retry-After": "7"}))
    offers = rig.provider.offers(GpuRequirement(min_gpu_memory_gb=24))
    assert offers
    assert rig.sleeps == [7.0]


def test_500_retries_with_backoff_then_unavailable(rig: Rig) -> None:
    for _ in range(4):
        rig.fake.inject.append(Response.json(500, {"error": "internal"}))
    with pytest.raises(ProviderUnavailable) as err:
        rig.provider.offers(GpuRequirement())
    assert "failed 4 times" in err.value.message and "HTTP 500" in err.value.message
    assert rig.sleeps == [0.5, 1.0, 2.0]
    # and it recovers once the provider does
    assert rig.provider.offers(GpuRequirement(min_gpu_memory_gb=24))


def test_bad_key_is_an_auth_error_and_not_retried(rig: Rig) -> None:
    provider, sleeps = _build(rig.case, rig.fake, key="wrong")
    with pytest.raises(ProviderAuthError) as err:
        provider.offers(GpuRequirement())
    assert f"compute.providers.{rig.case.name}.api_key" in err.value.message
    assert sleeps == [] and len(rig.fake.requests) == 1


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name in ("runpod", "vastai")], ids=lambda c: c.name
)
def test_spot_preemption_is_reported(case: Case) -> None:
    with case.make_fake() as fake:
        provider, _ = _build(case, fake)
        spot = sorted(
            (o for o in provider.offers(GpuRequirement(min_gpu_memory_gb=24)) if o.spot),
            key=lambda o: o.price_per_hour,
        )[0]
        inst = provider.launch(spot, BOOT, name="aima-spot")
        assert provider.status(inst.instance_id).state == "running"
        fake.market.preempt(inst.instance_id)
        assert provider.status(inst.instance_id).state == "preempted"


def test_runpod_graphql_documents_validate_against_the_schema() -> None:
    """The fake executes the adapter's GraphQL with graphql-core: no schema errors anywhere."""
    with RunPodFake() as fake:
        provider, _ = _build(CASES[0], fake)
        offers = provider.offers(GpuRequirement(min_gpu_memory_gb=24))
        for offer in (o for o in offers if o.gpu_type == "RTX 4090"):
            inst = provider.launch(offer, BOOT, name="aima-x")
            provider.status(inst.instance_id)
            provider.terminate(inst.instance_id)
        assert fake.last_errors == []
        body = fake.calls("POST", "/graphql")[-2].json()
        assert "podTerminate" in body["query"] or "pod(" in body["query"]
        # the sold-out H100 (stockStatus null) is listed as unavailable, so filtered out
        assert all(o.gpu_type != "H100-80GB" for o in offers)


def test_vast_filters_by_reliability_and_region() -> None:
    with VastAiFake() as fake:
        provider, _ = _build(CASES[1], fake)
        reliable = provider.offers(GpuRequirement(min_reliability=0.95))
        assert {o.offer_id.split("|")[0] for o in reliable} == {"5501", "5503"}
        sent = fake.calls("POST", "/bundles/")[-1].json()
        assert sent["reliability2"] == {"gte": 0.95} and sent["order"] == [["dph_total", "asc"]]
        us = provider.offers(GpuRequirement(regions=("US",)))
        assert {o.region for o in us} == {"US-Texas"}


def test_lambda_sold_out_type_is_listed_unavailable_and_user_data_boots_docker() -> None:
    with LambdaFake() as fake:
        provider, _ = _build(CASES[2], fake)
        assert all(o.gpu_type != "H100-80GB" for o in provider.offers(GpuRequirement()))
        offer = next(o for o in provider.offers(GpuRequirement()) if o.gpu_type == "A100-40GB")
        inst = provider.launch(offer, BOOT, name="aima-l")
        launch = fake.market.machines[inst.instance_id].launch
        assert launch["ssh_key_names"] == ["ops"]
        assert "docker run" in launch["user_data"] and "--gpus all" in launch["user_data"]


def test_build_providers_refuses_missing_settings() -> None:
    with pytest.raises(ConfigError, match="AIMA_COMPUTE__PROVIDERS__RUNPOD__API_KEY"):
        build_providers(ComputeSettings(providers={"runpod": {}}))
    with pytest.raises(ConfigError, match="template_id"):
        build_providers(ComputeSettings(providers={"paperspace": {"api_key": "k"}}))
    assert build_providers(ComputeSettings(providers={"vastai": {"enabled": False}})) == {}


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("NVIDIA A100 80GB PCIe", "A100-80GB"),
        ("A100 SXM4", "A100"),
        ("H100 NVL", "H100-94GB"),
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
        ("RTX_3090", "RTX 3090"),
        ("H100 80GB HBM3", "H100-80GB"),
        ("RTX A6000", "RTX A6000"),
    ],
)
def test_gpu_names_are_normalised(raw: str, name: str) -> None:
    assert normalize_gpu_name(raw) == name


def test_fakes_share_the_cloud_base() -> None:
    assert all(issubclass(c.make_fake, CloudFake) for c in CASES)


def test_unreachable_provider_is_unavailable_after_retries() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    settings = ComputeSettings(
        providers={
            "vastai": {
                "api_key": "k",
                "base_url": f"http://127.0.0.1:{port}/api/v0",
                "max_retries": 2,
            }
        }
    )
    provider = build_providers(settings, sleep=sleeps.append)["vastai"]
    with pytest.raises(ProviderUnavailable, match="ConnectError"):
        provider.offers(GpuRequirement())
    assert sleeps == [0.5, 1.0]


def test_retry_after_as_http_date_is_honoured_and_capped() -> None:
    from email.utils import format_datetime

    from aima.core.clock import utcnow

    with LambdaFake() as fake:
        provider, sleeps = _build(CASES[2], fake)
        later = format_datetime(utcnow() + timedelta(hours=2), usegmt=True)
        fake.inject.append(
            Response.json(429, {"error": {"code": "global/rate-limited"}}, **{"Retry-After": later})
        )
        assert provider.offers(GpuRequirement())
        assert sleeps == [60.0]  # two hours asked, capped at max_retry_after_s
