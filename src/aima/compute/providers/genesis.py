"""Genesis Cloud (``api.genesiscloud.com/compute/v1``): on-demand GPU VMs.

Wire format: JSON over HTTPS, token in ``Authorization: Bearer`` (the older
``X-Auth-Token`` header is sent too, for accounts on the deprecated scheme),
errors as ``{"code": ..., "message": ...}``. Capacity is read per region from
``GET /availability/{region}/instances``; the API publishes no prices, so
prices per instance type come from settings (``options["price.<type>"]``) and a
type without a configured price is left out of the offers rather than guessed.

GPU model and count are read from the instance type identifier
(``vcpu-4_memory-24g_nvidia-rtx-3090-1``: one RTX 3090). Genesis has no spot
market, so offers are never ``spot`` and an instance is never preempted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from aima.compute.providers.base import (
    Bootstrap,
    GpuRequirement,
    Instance,
    NoCapacity,
    Offer,
    ProviderError,
    matches,
    normalize_gpu_name,
    wants_region,
)
from aima.compute.providers.http import JsonHttp, ProviderRequestError, RetryPolicy
from aima.compute.providers.startup import startup_script
from aima.core.errors import ConfigError
from aima.core.settings import ProviderSettings

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.genesiscloud.com/compute/v1"
DEFAULT_REGIONS = ("NORD-NO-KRS-1",)
DEFAULT_IMAGE = "ubuntu-ml-nvidia-pytorch"

# accelerator slug in the type identifier -> (normalised name, memory per GPU in GB)
GPU_MODELS: dict[str, tuple[str, float]] = {
    "rtx-3080": ("RTX 3080", 10),
    "rtx-3090": ("RTX 3090", 24),
    "rtx-4090": ("RTX 4090", 24),
    "1080ti": ("GTX 1080 Ti", 11),
    "h100-sxm5": ("H100-80GB", 80),
    "h200-sxm5": ("H200-141GB", 141),
    "b200-sxm6": ("B200-180GB", 180),
}
_TYPE_GPU = re.compile(r"_nvidia-?(?P<model>[a-z0-9-]+?)-(?P<count>\d+)$")

_STATES = {
    "enqueued": "pending",
    "pending_payment": "pending",
    "creating": "booting",
    "build": "booting",
    "copying": "booting",
    "starting": "booting",
    "restarting": "booting",
    "resetting": "booting",
    "updating": "running",
    "active": "running",
    "stopping": "terminated",
    "stopped": "terminated",
    "shutoff": "terminated",
    "deleting": "terminated",
    "error": "failed",
}
_CAPACITY_WORDS = ("capacity", "not available", "unavailable", "out of stock", "quota", "limit")


def parse_instance_type(type_id: str) -> tuple[str, int, float] | None:
    """(GPU name, GPU count, memory per GPU) from a Genesis type identifier; None for CPU types."""
    m = _TYPE_GPU.search(type_id)
    if m is None:
        return None
    slug = m.group("model")
    name, memory = GPU_MODELS.get(slug, (normalize_gpu_name(slug.replace("-", " ").upper()), 0.0))
    return name, int(m.group("count")), float(memory)


class GenesisProvider:
    """Genesis Cloud GPU instances through the Compute API v1."""

    name = "genesis"

    def __init__(
        self,
        *,
        api_key: SecretStr,
        prices: Mapping[str, float],
        base_url: str = DEFAULT_BASE_URL,
        regions: Sequence[str] = DEFAULT_REGIONS,
        image: str = DEFAULT_IMAGE,
        ssh_key_ids: Sequence[str] = (),
        max_price_per_hour: float | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        token = api_key.get_secret_value()
        self.prices = dict(prices)
        self.regions = tuple(regions)
        self.image = image
        self.ssh_key_ids = tuple(ssh_key_ids)
        self.max_price_per_hour = max_price_per_hour
        self.http = JsonHttp(
            self.name,
            base_url,
            headers={"Authorization": f"Bearer {token}", "X-Auth-Token": token},
            client=client,
            timeout_s=timeout_s,
            retry=retry,
            sleep=sleep,
        )

    @classmethod
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> GenesisProvider:
        if s.api_key is None:
            raise ConfigError(
                "genesis: no API token; set compute.providers.genesis.api_key "
                "(AIMA_COMPUTE__PROVIDERS__GENESIS__API_KEY) to a token from the dashboard"
            )
        prices: dict[str, float] = {}
        for key, value in s.options.items():
            if key.startswith("price."):
                try:
                    prices[key.removeprefix("price.")] = float(value)
                except ValueError as exc:
                    raise ConfigError(
                        f"genesis: options[{key!r}] = {value!r} is not a price in USD per hour"
                    ) from exc
        regions = tuple(r.strip() for r in s.options.get("regions", "").split(",") if r.strip())
        return cls(
            api_key=s.api_key,
            prices=prices,
            base_url=s.base_url or DEFAULT_BASE_URL,
            regions=regions or ((s.region,) if s.region else DEFAULT_REGIONS),
            image=s.options.get("image", DEFAULT_IMAGE),
            ssh_key_ids=tuple(k for k in s.options.get("ssh_key_ids", "").split(",") if k),
            max_price_per_hour=s.max_price_per_hour,
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            **kw,
        )

    def offers(self, req: GpuRequirement) -> list[Offer]:
        found: list[Offer] = []
        for region in self.regions:
            if not wants_region(req, region):
                continue
            body = self.http.get(f"/availability/{region}/instances")
            avail = (body or {}).get("availability", {})
            for item in avail.get("instance_types", []):
                offer = self._offer(region, item)
                if offer is not None and matches(offer, req):
                    found.append(offer)
        return sorted(found, key=lambda o: o.price_per_hour)

    def _offer(self, region: str, item: Mapping[str, Any]) -> Offer | None:
        type_id = str(item.get("type", ""))
        gpu = parse_instance_type(type_id)
        if gpu is None:
            return None
        price = self.prices.get(type_id)
        if price is None:
            log.debug("genesis type has no configured price", extra={"type": type_id})
            return None
        if self.max_price_per_hour is not None and price > self.max_price_per_hour:
            return None
        name, count, memory = gpu
        return Offer(
            provider=self.name,
            offer_id=f"{region}/{type_id}",
            gpu_type=name,
            gpu_count=count,
            gpu_memory_gb=memory,
            price_per_hour=price,
            region=region,
            spot=False,
            available=bool(item.get("available")) and int(item.get("count", 1) or 0) > 0,
        )

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        region, _, type_id = offer.offer_id.partition("/")
        if not type_id:
            raise ProviderError(self.name, f"offer id {offer.offer_id!r} is not region/type")
        payload: dict[str, Any] = {
            "name": name,
            "hostname": re.sub(r"[^a-z0-9-]", "-", name.lower())[:63],
            "type": type_id,
            "image": self.image,
            "region": region,
            "metadata": {"startup_script": startup_script(boot, name=name)},
        }
        if self.ssh_key_ids:
            payload["ssh_keys"] = list(self.ssh_key_ids)
        try:
            body = self.http.post("/instances", json=payload)
        except ProviderRequestError as exc:
            if _is_capacity(exc):
                raise NoCapacity(
                    self.name,
                    f"{type_id} in {region} is out of capacity ({_error_text(exc)}); "
                    "try the next offer",
                ) from exc
            raise
        return self._instance(body["instance"], offer.offer_id, offer.price_per_hour)

    def status(self, instance_id: str) -> Instance:
        try:
            body = self.http.get(f"/instances/{instance_id}")
        except ProviderRequestError as exc:
            if exc.status_code == 404:
                return Instance(self.name, instance_id, "", "terminated", 0.0, "instance is gone")
            raise
        inst = body["instance"]
        offer_id = f"{inst.get('region', '')}/{inst.get('type', '')}"
        return self._instance(inst, offer_id, self.prices.get(str(inst.get("type")), 0.0))

    def terminate(self, instance_id: str) -> None:
        try:
            self.http.delete(f"/instances/{instance_id}")
        except ProviderRequestError as exc:
            if exc.status_code != 404:
                raise

    def _instance(self, inst: Mapping[str, Any], offer_id: str, price: float) -> Instance:
        raw = str(inst.get("status", "unknown"))
        return Instance(
            provider=self.name,
            instance_id=str(inst["id"]),
            offer_id=offer_id,
            state=_STATES.get(raw, "pending"),
            price_per_hour=price,
            detail=f"genesis status {raw}",
        )


def _error_text(exc: ProviderRequestError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    return f"{body.get('code', exc.status_code)}: {body.get('message', '')}".strip()


def _is_capacity(exc: ProviderRequestError) -> bool:
    """Genesis does not publish its error codes; capacity refusals are recognised by wording."""
    if exc.status_code not in (400, 409, 422):
        return False
    text = _error_text(exc).lower()
    return any(word in text for word in _CAPACITY_WORDS)
