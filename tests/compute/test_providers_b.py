"""Genesis Cloud, EC2 spot, GCE spot and Azure spot adapters against local wire-format fakes.

Every adapter is built the way the product builds it (``build_providers`` from
settings) and talks real HTTP to a fake on 127.0.0.1: JSON for Genesis, GCE and
Azure, boto3's SigV4-signed Query API with XML answers for EC2. Retries never
wait: the adapters get a recording ``sleep``, and tests assert what it was asked
to wait (Retry-After), never how long anything took.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aima.compute.providers import build_providers
from aima.compute.providers.base import (
    Bootstrap,
    GpuRequirement,
    Instance,
    NoCapacity,
    Offer,
    Provider,
    ProviderAuthError,
    ProviderUnavailable,
)
from aima.compute.providers.genesis import parse_instance_type
from aima.compute.providers.startup import startup_script
from aima.core.errors import ConfigError, InvalidInput
from aima.core.settings import ComputeSettings, ProviderSettings
from tests.compute.fakes import aws as aws_fake
from tests.compute.fakes import azure as azure_fake
from tests.compute.fakes import gcp as gcp_fake
from tests.compute.fakes import genesis as genesis_fake
from tests.compute.fakes._cloud import CloudFake, Response

PROVIDERS = ("genesis", "aws", "gcp", "azure")
BOOT = Bootstrap(
    image="ghcr.io/aima/worker:cuda",
    env={"AIMA_DATABASE_URL": "postgresql+psycopg://w:s3cret@db/aima", "AIMA_WORKER__ID": "w-1"},
)
ATTEMPTS = 4  # ProviderSettings.max_retries (3) + 1


@dataclass
class Harness:
    """One provider wired to its fake, plus the switches the shared tests need."""

    name: str
    fake: CloudFake
    settings: ProviderSettings
    sleeps: list[float] = field(default_factory=list)
    bad_credentials: dict[str, Any] = field(default_factory=dict)

    def provider(self, **overrides: Any) -> Provider:
        cfg = ProviderSettings.model_validate({**self.settings.model_dump(), **overrides})
        built = build_providers(
            ComputeSettings(providers={self.name: cfg}), sleep=self.sleeps.append
        )
        return built[self.name]

    def sold_out(self, offer: Offer) -> None:
        if isinstance(self.fake, genesis_fake.GenesisFake):
            self.fake.stock[offer.offer_id.split("/", 1)[1]] = 0
        elif isinstance(self.fake, aws_fake.Ec2Fake):
            self.fake.capacity[offer.offer_id.rsplit("/", 1)[1]] = False
        elif isinstance(self.fake, gcp_fake.GceFake):
            self.fake.exhausted.add(offer.offer_id.split("/", 1)[0])
        elif isinstance(self.fake, azure_fake.AzureFake):
            self.fake.sold_out.add(offer.offer_id.split("/", 1)[1])

    def throttle(self) -> Response:
        if isinstance(self.fake, aws_fake.Ec2Fake):  # EC2 throttles with a 503 error document
            return aws_fake.error(503, "RequestLimitExceeded", "Request limit exceeded.")
        return Response.json(429, {"error": {"code": "TooManyRequests"}}, **{"Retry-After": "7"})

    def server_error(self) -> Response:
        if isinstance(self.fake, aws_fake.Ec2Fake):
            return aws_fake.error(500, "InternalError", "An internal error has occurred.")
        return Response.json(500, {"error": {"code": "InternalServerError"}})

    def slow_boot(self) -> None:
        self.fake.boot_polls = 10_000  # type: ignore[attr-defined]


def _genesis(fake: CloudFake) -> Harness:
    prices = {
        "price.vcpu-4_memory-24g_nvidia-rtx-3090-1": "1.10",
        "price.vcpu-8_memory-48g_nvidia-rtx-3090-2": "2.20",
        "price.vcpu-192_memory-1920g_nvidia-h100-sxm5-8": "23.92",
    }
    cfg = ProviderSettings(base_url=f"{fake.url}/compute/v1", api_key="gc-token", options=prices)
    return Harness("genesis", fake, cfg, bad_credentials={"api_key": "revoked"})


def _aws(fake: CloudFake) -> Harness:
    cfg = ProviderSettings(
        base_url=fake.url,
        api_key="AKIAFAKE",
        api_secret="fake-secret",
        region="us-east-1",
        options={
            "image_id": "ami-0abcdef1234567890",
            "instance_types": ",".join(aws_fake.GPU_TYPES),
            "subnet_id": "subnet-0123",
        },
    )
    return Harness("aws", fake, cfg, bad_credentials={"api_secret": "wrong-secret"})


def _gcp(fake: CloudFake) -> Harness:
    cfg = ProviderSettings(
        base_url=fake.url,
        api_key="ya29.fake-token",
        project=gcp_fake.PROJECT,
        options={"zones": "us-central1-a,europe-west4-a"},
    )
    return Harness("gcp", fake, cfg, bad_credentials={"api_key": "ya29.expired"})


def _azure(fake: CloudFake) -> Harness:
    cfg = ProviderSettings(
        base_url=fake.url,
        api_key="eyJ0eXAiOiJKV1QifQ.fake",
        project=azure_fake.SUBSCRIPTION,
        region="eastus",
        options={
            "resource_group": azure_fake.GROUP,
            "subnet_id": "/subscriptions/x/resourceGroups/net/providers/Microsoft.Network/"
            "virtualNetworks/v/subnets/workers",
            "ssh_public_key": "ssh-ed25519 AAAAC3Nza test",
        },
    )
    return Harness("azure", fake, cfg, bad_credentials={"api_key": "expired"})


FACTORIES: dict[str, tuple[Callable[[], CloudFake], Callable[[CloudFake], Harness]]] = {
    "genesis": (genesis_fake.GenesisFake, _genesis),
    "aws": (aws_fake.Ec2Fake, _aws),
    "gcp": (gcp_fake.GceFake, _gcp),
    "azure": (azure_fake.AzureFake, _azure),
}


@pytest.fixture(params=PROVIDERS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    make_fake, make_harness = FACTORIES[request.param]
    with make_fake() as fake:
        yield make_harness(fake)


def _open(name: str) -> Iterator[Harness]:
    make_fake, make_harness = FACTORIES[name]
    with make_fake() as fake:
        yield make_harness(fake)


@pytest.fixture
def genesis() -> Iterator[Harness]:
    yield from _open("genesis")


@pytest.fixture
def aws() -> Iterator[Harness]:
    yield from _open("aws")


@pytest.fixture
def gcp() -> Iterator[Harness]:
    yield from _open("gcp")


@pytest.fixture
def azure() -> Iterator[Harness]:
    yield from _open("azure")


def _poll_until_final_or(p: Provider, instance_id: str, want: str, reads: int = 20) -> Instance:
    """Status reads (no waiting: the fakes advance one step per read) until ``want`` or the end."""
    inst = p.status(instance_id)
    for _ in range(reads):
        if inst.state == want or inst.final:
            break
        inst = p.status(instance_id)
    return inst


# -- price lists ---------------------------------------------------------------------------


def test_genesis_price_list_uses_availability_and_configured_prices(genesis: Harness) -> None:
    offers = genesis.provider().offers(GpuRequirement())
    assert [(o.gpu_type, o.gpu_count, o.gpu_memory_gb, o.price_per_hour) for o in offers] == [
        ("RTX 3090", 1, 24.0, 1.10),
        ("RTX 3090", 2, 24.0, 2.20),
        ("H100-80GB", 8, 80.0, 23.92),
    ]
    assert {(o.region, o.spot, o.available) for o in offers} == {("NORD-NO-KRS-1", False, True)}
    # the CPU-only type is no GPU offer; a sold-out type drops out of the list
    genesis.fake.stock["vcpu-4_memory-24g_nvidia-rtx-3090-1"] = 0  # type: ignore[attr-defined]
    left = genesis.provider().offers(GpuRequirement(spot_ok=False))
    assert [o.gpu_count for o in left] == [2, 8]
    big = genesis.provider().offers(GpuRequirement(min_gpu_memory_gb=48))
    assert [o.offer_id for o in big] == ["NORD-NO-KRS-1/vcpu-192_memory-1920g_nvidia-h100-sxm5-8"]
    assert genesis.provider(max_price_per_hour=2.0).offers(GpuRequirement()) == []


def test_aws_price_list_newest_spot_price_per_zone_and_gpu_info(aws: Harness) -> None:
    offers = aws.provider().offers(GpuRequirement())
    got = [(o.offer_id, o.gpu_type, o.gpu_count, o.gpu_memory_gb, o.price_per_hour) for o in offers]
    assert got == [
        ("us-east-1/us-east-1a/g4dn.xlarge", "T4", 1, 16.0, 0.1893),  # newest of two records
        ("us-east-1/us-east-1b/g4dn.xlarge", "T4", 1, 16.0, 0.2002),
        ("us-east-1/us-east-1a/g5.xlarge", "A10G", 1, 24.0, 0.4512),
        ("us-east-1/us-east-1b/g5.12xlarge", "A10G", 4, 24.0, 2.1034),
        ("us-east-1/us-east-1a/p4d.24xlarge", "A100-40GB", 8, 40.0, 9.8312),
    ]
    assert all(o.spot and o.available for o in offers)
    actions = [p["Action"] for p in aws.fake.params_log]  # type: ignore[attr-defined]
    assert actions.count("DescribeSpotPriceHistory") == 2  # followed NextToken
    first = aws.fake.params_log[0]  # type: ignore[attr-defined]
    assert (
        first["ProductDescription.1"] == "Linux/UNIX" and first["InstanceType.1"] == "g4dn.xlarge"
    )
    a100 = aws.provider().offers(GpuRequirement(gpu_types=("A100 40GB",), gpu_count=8))
    assert [o.offer_id for o in a100] == ["us-east-1/us-east-1a/p4d.24xlarge"]
    assert aws.provider().offers(GpuRequirement(spot_ok=False)) == []


def test_gcp_price_list_joins_accelerators_with_billing_spot_skus(gcp: Harness) -> None:
    offers = gcp.provider().offers(GpuRequirement())
    got = [(o.offer_id, o.gpu_type, o.gpu_count, o.price_per_hour) for o in offers]
    assert got[:4] == [
        ("us-central1-a/nvidia-tesla-t4/1", "T4", 1, 0.14),
        ("europe-west4-a/nvidia-tesla-t4/1", "T4", 1, 0.15),
        ("us-central1-a/nvidia-l4/1", "L4", 1, 0.224),
        ("us-central1-a/nvidia-tesla-t4/2", "T4", 2, 0.28),
    ]
    assert ("europe-west4-a/nvidia-tesla-a100/8", "A100-40GB", 8, 9.36) in got
    # T4 tops out at 4 per VM, so no 8x T4 offer; every offer is spot
    assert not any(o.offer_id.endswith("nvidia-tesla-t4/8") for o in offers)
    assert all(o.spot for o in offers)
    eu = gcp.provider().offers(GpuRequirement(regions=("europe-west4",), min_gpu_memory_gb=40))
    assert {o.gpu_type for o in eu} == {"A100-40GB"}
    billing = gcp.fake.calls("GET", "/skus")
    assert len(billing) == 4  # two offers() calls, two pages each
    assert billing[0].headers["authorization"] == "Bearer ya29.fake-token"


def test_azure_price_list_linux_spot_meters_and_subscription_restrictions(azure: Harness) -> None:
    offers = azure.provider().offers(GpuRequirement())
    got = [(o.offer_id, o.gpu_type, o.gpu_memory_gb, o.price_per_hour) for o in offers]
    # the Windows and Low Priority meters are skipped, the non-GPU size ignored, and
    # Standard_NC6s_v3 (restricted for this subscription) is not offered
    assert got == [
        ("eastus/Standard_NC4as_T4_v3", "T4", 16.0, 0.0526),
        ("eastus/Standard_NC24ads_A100_v4", "A100-80GB", 80.0, 0.7346),
    ]
    assert all(o.spot and o.region == "eastus" for o in offers)
    azure.fake.restricted.clear()  # type: ignore[attr-defined]
    v100 = azure.provider().offers(GpuRequirement(gpu_types=("Tesla V100",)))
    assert [(o.offer_id, o.price_per_hour) for o in v100] == [("eastus/Standard_NC6s_v3", 0.3672)]
    prices = azure.fake.calls("GET", "/api/retail/prices")
    assert "authorization" not in prices[0].headers  # the ARM token stays with ARM
    assert len(prices) >= 2  # followed NextPageLink


# -- launch, boot, terminate ----------------------------------------------------------------


def test_launch_boots_to_running_and_terminate_is_idempotent(harness: Harness) -> None:
    p = harness.provider()
    offer = p.offers(GpuRequirement())[0]
    inst = p.launch(offer, BOOT, name="aima-worker-1")
    assert inst.provider == harness.name and inst.offer_id == offer.offer_id
    assert inst.state in ("pending", "booting")
    assert inst.price_per_hour == offer.price_per_hour
    running = _poll_until_final_or(p, inst.instance_id, "running")
    assert running.state == "running", running
    _assert_bootstrap_reached(harness)
    p.terminate(inst.instance_id)
    after = p.status(inst.instance_id)
    assert after.state == "terminated", after
    p.terminate(inst.instance_id)  # second terminate: no error
    assert harness.sleeps == []


def _assert_bootstrap_reached(h: Harness) -> None:
    fake = h.fake
    if isinstance(fake, genesis_fake.GenesisFake):
        script = next(iter(fake.instances.values()))["metadata"]["startup_script"]
    elif isinstance(fake, aws_fake.Ec2Fake):
        inst = next(iter(fake.instances.values()))
        script = inst["user_data"]
        assert inst["tags"]["aima:worker"] == "aima-worker-1"
        run = next(p for p in fake.params_log if p["Action"] == "RunInstances")
        assert run["InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"] == "terminate"
        assert run["SubnetId"] == "subnet-0123"
    elif isinstance(fake, gcp_fake.GceFake):
        body = fake.bodies[0]
        assert body["scheduling"]["provisioningModel"] == "SPOT"
        assert body["guestAccelerators"][0]["acceleratorCount"] == 1
        script = body["metadata"]["items"][0]["value"]
    else:
        assert isinstance(fake, azure_fake.AzureFake)
        import base64

        props = fake.bodies[0]["properties"]
        assert (props["priority"], props["evictionPolicy"]) == ("Spot", "Delete")
        assert props["billingProfile"]["maxPrice"] == -1
        script = base64.b64decode(props["osProfile"]["customData"]).decode()
    assert "docker run" in script and "ghcr.io/aima/worker:cuda" in script
    assert "AIMA_DATABASE_URL=postgresql+psycopg://w:s3cret@db/aima\n" in script


def test_sold_out_offer_raises_no_capacity(harness: Harness) -> None:
    p = harness.provider()
    offer = p.offers(GpuRequirement())[0]
    harness.sold_out(offer)
    with pytest.raises(NoCapacity) as err:
        p.launch(offer, BOOT, name="aima-worker-2")
    assert err.value.provider == harness.name
    assert "try the next offer" in err.value.message


def test_throttled_then_success_backs_off_as_told(harness: Harness) -> None:
    p = harness.provider()
    harness.fake.inject.append(harness.throttle())
    offers = p.offers(GpuRequirement())
    assert offers
    # HTTP providers wait what Retry-After says; EC2 sends none, so the policy's first backoff
    assert harness.sleeps == ([0.5] if harness.name == "aws" else [7.0])


def test_server_errors_exhaust_retries_into_unavailable(harness: Harness) -> None:
    p = harness.provider()
    for _ in range(ATTEMPTS):
        harness.fake.inject.append(harness.server_error())
    with pytest.raises(ProviderUnavailable) as err:
        p.offers(GpuRequirement())
    assert len(harness.fake.requests) == ATTEMPTS
    assert len(harness.sleeps) == ATTEMPTS - 1
    assert harness.name in str(err.value)


def test_a_garbled_error_page_is_retried(harness: Harness) -> None:
    harness.fake.inject.append(
        Response(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})
    )
    assert harness.provider().offers(GpuRequirement())
    assert len(harness.sleeps) == 1


def test_bad_credentials_fail_fast_without_retry(harness: Harness) -> None:
    offer = harness.provider().offers(GpuRequirement())[0]
    before = len(harness.fake.requests)
    p = harness.provider(**harness.bad_credentials)
    with pytest.raises(ProviderAuthError) as err:
        p.launch(offer, BOOT, name="aima-worker-3")
    assert len(harness.fake.requests) == before + 1
    assert harness.sleeps == []
    assert "compute.providers" in err.value.message
    with pytest.raises(ProviderAuthError):
        p.offers(GpuRequirement())


def test_slow_boot_stays_booting(harness: Harness) -> None:
    harness.slow_boot()
    p = harness.provider()
    inst = p.launch(p.offers(GpuRequirement())[0], BOOT, name="aima-worker-4")
    states = {p.status(inst.instance_id).state for _ in range(5)}
    assert states <= {"pending", "booting"} and states


# -- preemption ---------------------------------------------------------------------------


def _running(h: Harness) -> tuple[Provider, Instance]:
    p = h.provider()
    inst = p.launch(p.offers(GpuRequirement())[0], BOOT, name="aima-worker-5")
    assert _poll_until_final_or(p, inst.instance_id, "running").state == "running"
    return p, inst


def test_aws_spot_interruption_notice_then_preempted(aws: Harness) -> None:
    p, inst = _running(aws)
    iid = inst.instance_id.split("/", 1)[1]
    aws.fake.interrupt(iid, notice_only=True)  # type: ignore[attr-defined]
    notice = p.status(inst.instance_id)
    assert notice.state == "preempting" and "marked-for-termination" in notice.detail
    aws.fake.interrupt(iid)  # type: ignore[attr-defined]
    gone = p.status(inst.instance_id)
    assert gone.state == "preempted" and "Server.SpotInstanceTermination" in gone.detail
    assert gone.final


def test_aws_own_terminate_is_not_a_preemption(aws: Harness) -> None:
    p, inst = _running(aws)
    p.terminate(inst.instance_id)
    assert p.status(inst.instance_id).state == "terminated"
    p.terminate("us-east-1/i-0nonexistent")  # unknown id: nothing to do


def test_gcp_preempted_vm_is_told_apart_from_deleted(gcp: Harness) -> None:
    p, inst = _running(gcp)
    zone, vm = inst.instance_id.split("/")
    gcp.fake.preempt(zone, vm, finished=False)  # type: ignore[attr-defined]
    assert p.status(inst.instance_id).state == "preempting"
    gcp.fake.preempt(zone, vm)  # type: ignore[attr-defined]
    assert p.status(inst.instance_id).state == "preempted"
    other = p.launch(p.offers(GpuRequirement())[0], BOOT, name="aima-worker-6")
    p.terminate(other.instance_id)
    assert p.status(other.instance_id).state == "terminated"


def test_azure_eviction_reads_as_preempted(azure: Harness) -> None:
    p, inst = _running(azure)
    azure.fake.evict(inst.instance_id, finished=False)  # type: ignore[attr-defined]
    assert p.status(inst.instance_id).state == "preempting"
    azure.fake.evict(inst.instance_id)  # type: ignore[attr-defined]
    evicted = p.status(inst.instance_id)
    assert evicted.state == "preempted" and "evicted" in evicted.detail


def test_genesis_instance_shut_off_outside_aima_is_terminated(genesis: Harness) -> None:
    p, inst = _running(genesis)
    genesis.fake.instances[inst.instance_id]["status"] = "shutoff"  # type: ignore[attr-defined]
    assert p.status(inst.instance_id).state == "terminated"
    genesis.fake.instances[inst.instance_id]["status"] = "error"  # type: ignore[attr-defined]
    assert p.status(inst.instance_id).state == "failed"


# -- configuration and bootstrap ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cfg", "words"),
    [
        ("genesis", {}, "api_key"),
        ("genesis", {"api_key": "t", "options": {"price.x": "cheap"}}, "price"),
        ("aws", {"api_key": "AKIA"}, "api_secret"),
        ("gcp", {"api_key": "t", "project": "p"}, "zones"),
        ("azure", {"api_key": "t", "project": "s", "region": "eastus"}, "resource_group"),
    ],
)
def test_missing_settings_say_which_to_set(name: str, cfg: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_providers(ComputeSettings(providers={name: ProviderSettings(**cfg)}))
    assert words in err.value.message


def test_aws_launch_without_image_says_what_to_set(aws: Harness) -> None:
    opts = {k: v for k, v in aws.settings.options.items() if k != "image_id"}
    p = aws.provider(options=opts)
    with pytest.raises(ConfigError, match="image_id"):
        p.launch(p.offers(GpuRequirement())[0], BOOT, name="w")


def test_startup_script_keeps_env_verbatim_and_refuses_line_breaks() -> None:
    script = startup_script(
        Bootstrap(image="img:1", env={"A": "it's $HOME `x`"}, command=("aima", "worker")),
        name="w 1",
    )
    assert "A=it's $HOME `x`\n" in script  # inside a quoted here-document: not expanded
    assert "docker run -d --name 'w 1'" in script and script.rstrip().endswith("aima worker")
    with pytest.raises(InvalidInput, match="line break"):
        startup_script(Bootstrap(image="i", env={"K": "a\nb"}), name="w")
    with pytest.raises(InvalidInput, match="not a valid name"):
        startup_script(Bootstrap(image="i", env={"K-1": "a"}), name="w")


@pytest.mark.parametrize(
    ("type_id", "expected"),
    [
        ("vcpu-4_memory-24g_nvidia-rtx-3090-1", ("RTX 3090", 1, 24.0)),
        ("vcpu-192_memory-1920g_nvidia-h100-sxm5-8", ("H100-80GB", 8, 80.0)),
        ("vcpu-4_memory-12g_disk-80g_nvidia1080ti-1", ("GTX 1080 Ti", 1, 11.0)),
        ("vcpu-2_memory-4g", None),
    ],
)
def test_genesis_type_names_give_gpu_model_and_count(
    type_id: str, expected: tuple[str, int, float] | None
) -> None:
    assert parse_instance_type(type_id) == expected


def test_aws_unknown_access_key_is_an_auth_failure(aws: Harness) -> None:
    with pytest.raises(ProviderAuthError, match="AuthFailure"):
        aws.provider(api_key="AKIAUNKNOWN").offers(GpuRequirement())
    assert aws.sleeps == []
