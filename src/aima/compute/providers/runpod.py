"""RunPod through its GraphQL API (``https://api.runpod.io/graphql``).

Why not the ``runpod`` SDK: it pulls a large dependency tree (serverless worker
runtime, aiohttp, boto3...) for what are five GraphQL documents here, and it
reads its endpoint from a module global rather than a per-client base URL, so a
test cannot point two instances at two fakes. The documents below follow
RunPod's published schema: ``gpuTypes { lowestPrice(input: {gpuCount}) }`` for
prices and stock, ``podFindAndDeployOnDemand`` / ``podRentInterruptable`` to
launch, ``pod(input: {podId})`` to poll and ``podTerminate`` to stop.

GraphQL answers HTTP 200 even for failures; errors arrive in ``errors[]``.
RunPod says "no longer any instances available" (or "does not have the
resources") when stock ran out between listing and launch: that is
:class:`NoCapacity`. An interruptible pod that RunPod takes back shows
``desiredStatus: EXITED`` (``podType: INTERRUPTABLE``): that is ``preempted``.
"""

from __future__ import annotations

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
    ProviderAuthError,
    ProviderError,
    matches,
    normalize_gpu_name,
    require_key,
)
from aima.compute.providers.http import JsonHttp, RetryPolicy
from aima.core.settings import ProviderSettings

DEFAULT_URL = "https://api.runpod.io/graphql"

_GPU_TYPES = """
query GpuTypes($gpuCount: Int!, $dataCenterId: String) {
  gpuTypes {
    id
    displayName
    memoryInGb
    secureCloud
    communityCloud
    lowestPrice(input: {gpuCount: $gpuCount, dataCenterId: $dataCenterId}) {
      minimumBidPrice
      uninterruptablePrice
      stockStatus
    }
  }
}
"""

_POD_FIELDS = "id podType desiredStatus costPerHr lastStatusChange runtime { uptimeInSeconds }"

_DEPLOY_ON_DEMAND = (
    "mutation Deploy($input: PodFindAndDeployOnDemandInput!) {"
    f" podFindAndDeployOnDemand(input: $input) {{ {_POD_FIELDS} }} }}"
)
_DEPLOY_SPOT = (
    "mutation DeploySpot($input: PodRentInterruptableInput!) {"
    f" podRentInterruptable(input: $input) {{ {_POD_FIELDS} }} }}"
)
_POD = f"query Pod($podId: String!) {{ pod(input: {{podId: $podId}}) {{ {_POD_FIELDS} }} }}"
_TERMINATE = "mutation Terminate($podId: String!) { podTerminate(input: {podId: $podId}) }"

_NO_CAPACITY_HINTS = (
    "no longer any instances available",
    "does not have the resources",
    "no instances available",
    "not enough",
)


class RunPodProvider:
    """RunPod pods: one offer per GPU type and billing kind (on-demand / interruptible)."""

    name = "runpod"

    def __init__(
        self,
        api_key: SecretStr,
        *,
        base_url: str = DEFAULT_URL,
        data_center: str | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        container_disk_gb: int = 40,
        **http_kwargs: Any,
    ) -> None:
        self.data_center = data_center
        self.container_disk_gb = container_disk_gb
        self._http = JsonHttp(
            self.name,
            base_url,
            bearer=api_key,
            client=client,
            timeout_s=timeout_s,
            retry=retry,
            **http_kwargs,
        )

    def _gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = self._http.post("", json={"query": query, "variables": variables})
        if not isinstance(body, dict):
            raise ProviderError(self.name, f"unexpected GraphQL answer {str(body)[:200]!r}")
        errors = body.get("errors") or []
        if errors:
            text = "; ".join(str(e.get("message", e)) for e in errors)
            low = text.lower()
            if any(h in low for h in _NO_CAPACITY_HINTS):
                raise NoCapacity(self.name, f"out of stock: {text}")
            if "unauthorized" in low or "api key" in low:
                raise ProviderAuthError(
                    self.name, f"{text}; check compute.providers.runpod.api_key"
                )
            raise ProviderError(self.name, f"GraphQL error: {text}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProviderError(self.name, "GraphQL answer without data")
        return data

    @classmethod
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> RunPodProvider:
        """``region`` is a RunPod data-center id (e.g. ``EU-RO-1``); unset: any."""
        return cls(
            require_key(s, "runpod", "Settings → API Keys in the RunPod console"),
            base_url=s.base_url or DEFAULT_URL,
            data_center=s.region,
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            container_disk_gb=int(s.options.get("container_disk_gb", "40")),
            **kw,
        )

    def offers(self, req: GpuRequirement) -> list[Offer]:
        data = self._gql(_GPU_TYPES, {"gpuCount": req.gpu_count, "dataCenterId": self.data_center})
        out: list[Offer] = []
        for gpu in data.get("gpuTypes") or []:
            price = gpu.get("lowestPrice") or {}
            stock = price.get("stockStatus")
            available = stock not in (None, "", "None")
            base = Offer(
                provider=self.name,
                offer_id="",
                gpu_type=normalize_gpu_name(
                    str(gpu.get("displayName") or gpu["id"]), gpu.get("memoryInGb")
                ),
                gpu_count=req.gpu_count,
                gpu_memory_gb=float(gpu.get("memoryInGb") or 0),
                price_per_hour=0.0,
                region=self.data_center,
                spot=False,
                available=available,
            )
            on_demand = price.get("uninterruptablePrice")
            if on_demand:
                out.append(
                    replace(
                        base,
                        offer_id=f"{gpu['id']}|ondemand",
                        price_per_hour=float(on_demand) * req.gpu_count,
                    )
                )
            bid = price.get("minimumBidPrice")
            if bid:
                out.append(
                    replace(
                        base,
                        offer_id=f"{gpu['id']}|spot",
                        price_per_hour=float(bid) * req.gpu_count,
                        spot=True,
                    )
                )
        return [o for o in out if matches(o, req)]

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        gpu_type_id, _, kind = offer.offer_id.rpartition("|")
        if not gpu_type_id or kind not in ("ondemand", "spot"):
            raise ProviderError(self.name, f"offer id {offer.offer_id!r} is not a RunPod offer")
        inp: dict[str, Any] = {
            "cloudType": "ALL",
            "gpuCount": offer.gpu_count,
            "gpuTypeId": gpu_type_id,
            "name": name,
            "imageName": boot.image,
            "containerDiskInGb": self.container_disk_gb,
            "volumeInGb": 0,
            "dockerArgs": " ".join(boot.command),
            "env": [{"key": k, "value": v} for k, v in boot.env.items()],
        }
        if self.data_center:
            inp["dataCenterId"] = self.data_center
        if kind == "spot":
            inp["bidPerGpu"] = offer.price_per_hour / max(offer.gpu_count, 1)
            pod = self._gql(_DEPLOY_SPOT, {"input": inp}).get("podRentInterruptable")
        else:
            pod = self._gql(_DEPLOY_ON_DEMAND, {"input": inp}).get("podFindAndDeployOnDemand")
        if not pod:
            raise NoCapacity(self.name, f"no pod was deployed for {offer.offer_id}")
        return self._instance(pod, offer_id=offer.offer_id)

    def status(self, instance_id: str) -> Instance:
        pod = self._gql(_POD, {"podId": instance_id}).get("pod")
        if not pod:
            return Instance(self.name, instance_id, "", "terminated", 0.0, "pod no longer exists")
        return self._instance(pod, offer_id="")

    def terminate(self, instance_id: str) -> None:
        try:
            self._gql(_TERMINATE, {"podId": instance_id})
        except ProviderError as exc:
            if "not found" in exc.message.lower() or "does not exist" in exc.message.lower():
                return
            raise

    def _instance(self, pod: dict[str, Any], *, offer_id: str) -> Instance:
        pid = str(pod["id"])
        desired = str(pod.get("desiredStatus") or "").upper()
        runtime = pod.get("runtime") or {}
        detail = str(pod.get("lastStatusChange") or "")
        if desired == "RUNNING":
            state = "running" if runtime.get("uptimeInSeconds") is not None else "booting"
        elif desired in ("CREATED", "RESTARTING"):
            state = "pending"
        elif desired == "EXITED":
            spot = str(pod.get("podType") or "").upper() == "INTERRUPTABLE"
            state = "preempted" if spot else "terminated"
        elif desired == "TERMINATED":
            state = "terminated"
        else:
            state = "failed"
        return Instance(self.name, pid, offer_id, state, float(pod.get("costPerHr") or 0.0), detail)
