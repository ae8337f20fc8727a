"""The contract every GPU rental adapter implements.

A provider is reduced to four verbs (list offers, launch, poll, terminate) over
a handful of frozen value types, so the fleet can compare prices across
providers, fail over between them and test the whole path against fakes that
speak each provider's wire format. Adapters translate; they never decide which
offer to take (that is :mod:`aima.compute.fleet`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import SecretStr

from aima.core.errors import AimaError, ConfigError
from aima.core.settings import ProviderSettings

INSTANCE_STATES = (
    "pending",
    "booting",
    "running",
    "preempting",
    "preempted",
    "terminated",
    "failed",
)
"""Every state an :class:`Instance` may report; adapters map their provider's words onto these."""

FINAL_STATES = frozenset({"preempted", "terminated", "failed"})


@dataclass(frozen=True)
class GpuRequirement:
    """What a job needs from one machine; empty tuples mean "any"."""

    min_gpu_memory_gb: float = 0
    gpu_types: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    min_reliability: float = 0.0
    spot_ok: bool = True
    gpu_count: int = 1


@dataclass(frozen=True)
class Offer:
    """One rentable machine shape at one price, as a provider quotes it right now."""

    provider: str
    offer_id: str
    gpu_type: str
    gpu_count: int
    gpu_memory_gb: float
    price_per_hour: float
    region: str | None
    spot: bool
    available: bool
    reliability: float | None = None


@dataclass(frozen=True)
class Bootstrap:
    """How a launched machine becomes an AIMA worker (``env`` may hold secrets: never log it)."""

    image: str
    env: dict[str, str] = field(default_factory=dict, repr=False)
    command: tuple[str, ...] = ("aima", "worker")


@dataclass(frozen=True)
class Instance:
    """A machine a provider runs for us, in AIMA's state vocabulary (:data:`INSTANCE_STATES`)."""

    provider: str
    instance_id: str
    offer_id: str
    state: str
    price_per_hour: float
    detail: str = ""

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class ProviderError(AimaError):
    """A GPU provider refused or failed a request; the message names the provider and the fix."""

    status = 502
    code = "provider_error"

    def __init__(
        self, provider: str, message: str, *, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(
            f"{provider}: {message}", details={"provider": provider, **(details or {})}
        )
        self.provider = provider


class NoCapacity(ProviderError):
    """The offer is gone or out of stock; the fleet tries the next offer."""

    status = 409
    code = "provider_no_capacity"


class ProviderUnavailable(ProviderError):
    """429 after retries, 5xx, timeouts or an open circuit; the fleet tries another provider."""

    status = 503
    code = "provider_unavailable"


class ProviderAuthError(ProviderError):
    """401/403: credentials are missing or wrong; never retried."""

    status = 502
    code = "provider_auth"


@runtime_checkable
class Provider(Protocol):
    """A GPU rental API reduced to the four verbs the fleet needs."""

    name: str

    def offers(self, req: GpuRequirement) -> list[Offer]: ...

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance: ...

    def status(self, instance_id: str) -> Instance: ...

    def terminate(self, instance_id: str) -> None: ...


_GPU_ALIASES: dict[str, str] = {
    "A100 80GB": "A100-80GB",
    "A100 SXM4 80GB": "A100-80GB",
    "A100 PCIE 80GB": "A100-80GB",
    "A100 SXM 80GB": "A100-80GB",
    "A100-SXM4-80GB": "A100-80GB",
    "A100 40GB": "A100-40GB",
    "A100 SXM4 40GB": "A100-40GB",
    "A100 PCIE 40GB": "A100-40GB",
    "A100-SXM4-40GB": "A100-40GB",
    "H100 80GB HBM3": "H100-80GB",
    "H100 SXM": "H100-80GB",
    "H100 SXM5": "H100-80GB",
    "H100 PCIE": "H100-80GB",
    "H100 NVL": "H100-94GB",
    "GEFORCE RTX 4090": "RTX 4090",
    "RTX4090": "RTX 4090",
    "GEFORCE RTX 3090": "RTX 3090",
    "RTX3090": "RTX 3090",
    "RTX A6000": "RTX A6000",
    "A6000": "RTX A6000",
    "RTX A5000": "RTX A5000",
    "A5000": "RTX A5000",
    "RTX A4000": "RTX A4000",
    "A4000": "RTX A4000",
    "TESLA V100": "V100",
    "TESLA T4": "T4",
    "NVIDIA L4": "L4",
    "NVIDIA L40S": "L40S",
}


_DATACENTER_MODELS = frozenset({"A100", "H100", "H200", "A800", "H800", "B200", "GH200", "V100"})


def normalize_gpu_name(raw: str, memory_gb: float | None = None) -> str:
    """One spelling per GPU model across providers ("NVIDIA A100 80GB PCIe" → "A100-80GB").

    Data-centre parts come in several memory sizes, so they carry it in the name;
    ``memory_gb`` supplies it when the provider's name leaves it out (Vast.ai's
    "A100 SXM4" with ``gpu_ram`` 80 GB). Unknown names come back tidied (vendor
    prefix and underscores dropped) rather than refused, so a new GPU still shows
    up in price lists.
    """
    name = re.sub(r"[_\s]+", " ", raw).strip()
    name = re.sub(r"^(NVIDIA|Nvidia|nvidia)\s+", "", name)
    key = name.upper()
    if key in _GPU_ALIASES:
        return _GPU_ALIASES[key]
    # Looser match: drop vendor words and form factors, keep model + memory.
    loose = re.sub(r"\b(GEFORCE|TESLA|SXM\d?|PCIE|NVL|HBM\d?E?)\b", "", key)
    loose = re.sub(r"\s+", " ", loose).strip()
    mem = re.search(r"(\d+)\s*GB", loose)
    model = re.sub(r"\s*\d+\s*GB", "", loose).strip()
    if model in _DATACENTER_MODELS:
        if mem:
            return f"{model}-{mem.group(1)}GB"
        if memory_gb:
            return f"{model}-{round(memory_gb)}GB"
        return model
    if re.fullmatch(r"RTX ?\d{4}( TI)?", model):
        return "RTX " + model.replace("RTX", "").strip().replace(" TI", " Ti")
    return name


def matches(offer: Offer, req: GpuRequirement) -> bool:
    """Whether ``offer`` satisfies ``req`` (memory per GPU, type, region, reliability, spot)."""
    if not offer.available:
        return False
    if offer.gpu_count < req.gpu_count:
        return False
    if offer.gpu_memory_gb < req.min_gpu_memory_gb:
        return False
    if req.gpu_types and offer.gpu_type not in {normalize_gpu_name(t) for t in req.gpu_types}:
        return False
    if req.regions and (offer.region is None or not _region_ok(offer.region, req.regions)):
        return False
    if req.min_reliability > 0 and (
        offer.reliability is None or offer.reliability < req.min_reliability
    ):
        return False
    return req.spot_ok or not offer.spot


def wants_region(req: GpuRequirement, region: str) -> bool:
    """Whether a provider region is worth asking about for ``req`` (no regions: all are)."""
    return not req.regions or _region_ok(region, req.regions)


def _region_ok(region: str, wanted: tuple[str, ...]) -> bool:
    """A wanted region matches exactly or as a prefix ("US" matches "US-TX-3")."""
    r = region.lower()
    return any(r == w.lower() or r.startswith(w.lower()) for w in wanted)


def require_key(settings: ProviderSettings, provider: str, where: str) -> SecretStr:
    """The provider's API key from settings, or a :class:`ConfigError` saying where to get one."""
    key = settings.api_key
    if key is None or not key.get_secret_value():
        raise ConfigError(
            f"{provider}: no API key; set compute.providers.{provider}.api_key "
            f"(AIMA_COMPUTE__PROVIDERS__{provider.upper()}__API_KEY), from {where}"
        )
    return key
