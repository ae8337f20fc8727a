"""Paperspace (DigitalOcean) machines through the v1 REST API (``https://api.paperspace.com/v1``).

What the API gives: ``GET /machine-availability?machineType=&region=``
(``{"available": bool}``, live), ``POST /startup-scripts`` and ``POST /machines``
(``{"data": {...machine}}``), ``GET /machines/{id}`` (``state``: provisioning,
starting, ready, serviceready, stopping, off, ...) and ``DELETE /machines/{id}``,
all with a Bearer key. Errors are ``{"code", "message"}``.

What it does not give: prices. Paperspace publishes hourly list prices per
machine type on its pricing page only, so this adapter carries that list
(:data:`LIST_PRICES`) and lets settings override it
(``options.prices = "A100-80G=3.18,A6000=1.89"``); availability is always
asked live. Paperspace sells no spot capacity.
"""

from __future__ import annotations

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
    require_key,
)
from aima.compute.providers.http import JsonHttp, ProviderRequestError, RetryPolicy
from aima.compute.providers.startup import startup_script
from aima.core.errors import ConfigError
from aima.core.settings import ProviderSettings

DEFAULT_URL = "https://api.paperspace.com/v1"
DEFAULT_REGIONS = ("ny2", "ca1", "ams1")

# machine type → (GPU name, GPU memory in GB)
MACHINE_TYPES: dict[str, tuple[str, float]] = {
    "H100": ("H100-80GB", 80),
    "A100-80G": ("A100-80GB", 80),
    "A100": ("A100-40GB", 40),
    "A6000": ("RTX A6000", 48),
    "A5000": ("RTX A5000", 24),
    "A4000": ("RTX A4000", 16),
    "RTX4000": ("RTX 4000", 8),
    "V100-32G": ("V100-32GB", 32),
    "V100": ("V100", 16),
    "P6000": ("P6000", 24),
    "P5000": ("P5000", 16),
    "P4000": ("P4000", 8),
}
LIST_PRICES: dict[str, float] = {
    "H100": 5.95,
    "A100-80G": 3.18,
    "A100": 3.09,
    "A6000": 1.89,
    "A5000": 1.38,
    "A4000": 0.76,
    "RTX4000": 0.56,
    "V100-32G": 2.30,
    "V100": 2.30,
    "P6000": 1.10,
    "P5000": 0.78,
    "P4000": 0.51,
}
_STATES = {
    "provisioning": "pending",
    "starting": "booting",
    "restarting": "booting",
    "upgrading": "booting",
    "ready": "running",
    "serviceready": "running",
    "stopping": "terminated",
    "off": "terminated",
}
_NO_CAPACITY_HINTS = ("capacity", "not available", "unavailable", "out of stock")


class PaperspaceProvider:
    """Paperspace GPU machines: one offer per machine type and region, availability asked live."""

    name = "paperspace"

    def __init__(
        self,
        api_key: SecretStr,
        *,
        template_id: str,
        base_url: str = DEFAULT_URL,
        regions: tuple[str, ...] = DEFAULT_REGIONS,
        prices: dict[str, float] | None = None,
        disk_gb: int = 100,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        **http_kwargs: Any,
    ) -> None:
        self.template_id = template_id
        self.regions = regions
        self.prices = {**LIST_PRICES, **(prices or {})}
        self.disk_gb = disk_gb
        self._http = JsonHttp(
            self.name,
            base_url,
            bearer=api_key,
            client=client,
            timeout_s=timeout_s,
            retry=retry,
            **http_kwargs,
        )

    @classmethod
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> PaperspaceProvider:
        template = s.options.get("template_id")
        if not template:
            raise ConfigError(
                "paperspace: no OS template; set compute.providers.paperspace.options.template_id "
                "to an ML-in-a-Box / Docker-ready template id from the Paperspace console"
            )
        regions = tuple(r.strip() for r in s.options.get("regions", "").split(",") if r.strip())
        return cls(
            require_key(s, "paperspace", "Team settings → API keys in the Paperspace console"),
            template_id=template,
            base_url=s.base_url or DEFAULT_URL,
            regions=regions or ((s.region,) if s.region else DEFAULT_REGIONS),
            prices=parse_prices(s.options.get("prices", "")),
            disk_gb=int(s.options.get("disk_gb", "100")),
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            **kw,
        )

    def offers(self, req: GpuRequirement) -> list[Offer]:
        if req.gpu_count > 1:
            return []  # multi-GPU machine types are named differently and rarely sold
        out: list[Offer] = []
        wanted = {normalize_gpu_name(t) for t in req.gpu_types}
        for machine_type, (gpu, memory) in MACHINE_TYPES.items():
            if memory < req.min_gpu_memory_gb or (wanted and gpu not in wanted):
                continue  # don't spend an availability call on a type that can't match
            price = self.prices.get(machine_type)
            if price is None:
                continue
            for region in self.regions:
                body = self._http.get(
                    "machine-availability", params={"machineType": machine_type, "region": region}
                )
                available = bool(body.get("available")) if isinstance(body, dict) else False
                out.append(
                    Offer(
                        provider=self.name,
                        offer_id=f"{machine_type}|{region}",
                        gpu_type=gpu,
                        gpu_count=1,
                        gpu_memory_gb=memory,
                        price_per_hour=price,
                        region=region,
                        spot=False,
                        available=available,
                    )
                )
        return [o for o in out if matches(o, req)]

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        machine_type, _, region = offer.offer_id.partition("|")
        if machine_type not in MACHINE_TYPES or not region:
            raise ProviderError(self.name, f"offer id {offer.offer_id!r} is not a Paperspace offer")
        script = self._http.post(
            "startup-scripts",
            json={
                "name": f"{name}-boot",
                "script": startup_script(boot, name=name),
                "isRunOnce": True,
            },
        )
        script_id = _unwrap(script).get("id")
        payload: dict[str, Any] = {
            "name": name,
            "machineType": machine_type,
            "templateId": self.template_id,
            "region": region,
            "diskSize": self.disk_gb,
            "publicIpType": "dynamic",
            "startOnCreate": True,
        }
        if script_id:
            payload["startupScriptId"] = script_id
        try:
            body = self._http.post("machines", json=payload)
        except ProviderRequestError as exc:
            text = _message(exc.body).lower()
            if any(h in text for h in _NO_CAPACITY_HINTS):
                raise NoCapacity(
                    self.name, f"{machine_type} in {region}: {_message(exc.body)}"
                ) from exc
            raise
        machine = _unwrap(body)
        if "id" not in machine:
            raise ProviderError(self.name, f"machine create answered without an id: {body!r:.200}")
        return self._instance(machine, offer_id=offer.offer_id, price=offer.price_per_hour)

    def status(self, instance_id: str) -> Instance:
        try:
            machine = _unwrap(self._http.get(f"machines/{instance_id}"))
        except ProviderRequestError as exc:
            if exc.status_code == 404:
                return Instance(self.name, instance_id, "", "terminated", 0.0, "machine is gone")
            raise
        mtype = str(machine.get("machineType") or "")
        return self._instance(
            machine,
            offer_id=f"{mtype}|{machine.get('region', '')}",
            price=self.prices.get(mtype, 0.0),
        )

    def terminate(self, instance_id: str) -> None:
        try:
            self._http.delete(f"machines/{instance_id}")
        except ProviderRequestError as exc:
            if exc.status_code == 404:
                return
            raise

    def _instance(self, machine: dict[str, Any], *, offer_id: str, price: float) -> Instance:
        raw = str(machine.get("state") or "provisioning").lower()
        return Instance(
            self.name, str(machine["id"]), offer_id, _STATES.get(raw, "failed"), price, raw
        )


def _unwrap(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        inner = body.get("data")
        if isinstance(inner, dict):
            return inner
        return body
    return {}


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]


def parse_prices(raw: str) -> dict[str, float]:
    """``"A100-80G=3.18, A6000=1.89"`` → ``{"A100-80G": 3.18, "A6000": 1.89}``."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError(item)
            out[key.strip()] = float(value)
        except ValueError as exc:
            raise ProviderError(
                "paperspace",
                f"price entry {item!r} in compute.providers.paperspace.options.prices is not "
                "TYPE=USD_PER_HOUR; write e.g. A6000=1.89",
            ) from exc
    return out
