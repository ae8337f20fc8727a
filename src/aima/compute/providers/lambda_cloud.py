"""Lambda Cloud through its REST API (``https://cloud.lambdalabs.com/api/v1``).

Lambda has no Python SDK worth the dependency; its API is small and documented:
``GET /instance-types`` (``{"data": {name: {"instance_type": {...,
"price_cents_per_hour"}, "regions_with_capacity_available": [...]}}}``),
``POST /instance-operations/launch`` (``{"data": {"instance_ids": [...]}}``),
``GET /instances/{id}`` and ``POST /instance-operations/terminate``. Failures
carry ``{"error": {"code", "message", "suggestion"}}``; the code, not the
message, is what we branch on (Lambda says so): ``.../insufficient-capacity``
is :class:`NoCapacity`, ``global/object-does-not-exist`` on terminate is
"already gone".

Lambda machines are plain VMs, so the worker container is started by the
first-boot script (``user_data``, see :mod:`.startup`).
Lambda sells no spot capacity; every offer is on-demand.
"""

from __future__ import annotations

import re
from dataclasses import replace
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
from aima.core.settings import ProviderSettings

DEFAULT_URL = "https://cloud.lambdalabs.com/api/v1"

_NO_CAPACITY_CODES = (
    "instance-operations/launch/insufficient-capacity",
    "global/quota-exceeded",
)
_STATES = {
    "booting": "booting",
    "active": "running",
    "unhealthy": "failed",
    "terminating": "terminated",
    "terminated": "terminated",
    "preempted": "preempted",
}


class LambdaProvider:
    """Lambda Cloud on-demand instances: one offer per instance type and region with capacity."""

    name = "lambda"

    def __init__(
        self,
        api_key: SecretStr,
        *,
        base_url: str = DEFAULT_URL,
        ssh_key_names: tuple[str, ...] = (),
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        **http_kwargs: Any,
    ) -> None:
        self.ssh_key_names = ssh_key_names
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
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> LambdaProvider:
        keys = tuple(k.strip() for k in s.options.get("ssh_key_names", "").split(",") if k.strip())
        return cls(
            require_key(s, "lambda", "API keys in the Lambda Cloud dashboard"),
            base_url=s.base_url or DEFAULT_URL,
            ssh_key_names=keys,
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            **kw,
        )

    def offers(self, req: GpuRequirement) -> list[Offer]:
        data = _data(self._http.get("instance-types"), self.name)
        out: list[Offer] = []
        for type_name, entry in dict(data).items():
            it = entry.get("instance_type") or {}
            specs = it.get("specs") or {}
            gpu_type, memory = _parse_gpu(str(it.get("gpu_description") or it.get("description")))
            base = Offer(
                provider=self.name,
                offer_id=f"{type_name}|",
                gpu_type=gpu_type,
                gpu_count=int(specs.get("gpus") or 1),
                gpu_memory_gb=memory,
                price_per_hour=float(it.get("price_cents_per_hour") or 0) / 100.0,
                region=None,
                spot=False,
                available=False,
            )
            regions = [
                str(r.get("name")) for r in entry.get("regions_with_capacity_available") or []
            ]
            out.extend(
                replace(base, offer_id=f"{type_name}|{r}", region=r, available=True)
                for r in regions
            )
            if not regions:
                out.append(base)
        return [o for o in out if matches(o, req)]

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        type_name, _, region = offer.offer_id.partition("|")
        if not type_name or not region:
            raise NoCapacity(
                self.name, f"{type_name or offer.offer_id} has no region with capacity"
            )
        payload: dict[str, Any] = {
            "region_name": region,
            "instance_type_name": type_name,
            "ssh_key_names": list(self.ssh_key_names),
            "quantity": 1,
            "name": name,
            "user_data": startup_script(boot, name=name),
        }
        try:
            data = _data(self._http.post("instance-operations/launch", json=payload), self.name)
        except ProviderRequestError as exc:
            if _code(exc.body) in _NO_CAPACITY_CODES:
                raise NoCapacity(
                    self.name, f"{type_name} in {region} has no capacity now ({_message(exc.body)})"
                ) from exc
            raise
        ids = data.get("instance_ids") or []
        if not ids:
            raise ProviderError(self.name, f"launch of {type_name} returned no instance id")
        return Instance(self.name, str(ids[0]), offer.offer_id, "pending", offer.price_per_hour)

    def status(self, instance_id: str) -> Instance:
        try:
            data = _data(self._http.get(f"instances/{instance_id}"), self.name)
        except ProviderRequestError as exc:
            if exc.status_code == 404:
                return Instance(self.name, instance_id, "", "terminated", 0.0, "instance is gone")
            raise
        raw = str(data.get("status") or "")
        it = data.get("instance_type") or {}
        region = (data.get("region") or {}).get("name", "")
        return Instance(
            self.name,
            instance_id,
            f"{it.get('name', '')}|{region}",
            _STATES.get(raw, "failed"),
            float(it.get("price_cents_per_hour") or 0) / 100.0,
            raw,
        )

    def terminate(self, instance_id: str) -> None:
        try:
            self._http.post("instance-operations/terminate", json={"instance_ids": [instance_id]})
        except ProviderRequestError as exc:
            if exc.status_code == 404 or _code(exc.body) == "global/object-does-not-exist":
                return
            raise


def _parse_gpu(description: str) -> tuple[str, float]:
    """``"A100 (40 GB SXM4)"`` → (``"A100-40GB"``, 40.0); ``"1x H100 (80 GB PCIe)"`` likewise."""
    text = re.sub(r"^\d+x\s*", "", description.strip())
    mem_match = re.search(r"(\d+(?:\.\d+)?)\s*GB", text)
    memory = float(mem_match.group(1)) if mem_match else 0.0
    model = re.sub(r"\(.*?\)", "", text).strip()
    if mem_match and model.upper() in {"A100", "H100", "H200", "B200", "A10", "GH200"}:
        return normalize_gpu_name(f"{model} {int(memory)}GB"), memory
    return normalize_gpu_name(model), memory


def _data(body: Any, provider: str) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ProviderError(provider, f"answer without a 'data' object: {str(body)[:200]}")
    data: dict[str, Any] = body["data"]
    return data


def _code(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code") or "")
    return ""


def _message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return " ".join(str(err.get(k)) for k in ("message", "suggestion") if err.get(k))
    return str(body)[:200]
