"""Google Compute Engine spot VMs (REST ``compute/v1``), priced from the Cloud Billing Catalog.

Which GPUs a zone has comes from ``acceleratorTypes``; what a spot GPU costs from
the Billing Catalog SKUs of the Compute Engine service (category ``GPU``, usage
``Preemptible``, per region). The offer price is the GPUs' spot price; the host
VM's cores and memory are billed separately by Google and are added from the
``host_price_per_gpu_hour`` option (0 unless set), because the catalog prices
them per core and per GB, not per machine.

Launch inserts a VM with ``scheduling.provisioningModel=SPOT`` and
``instanceTerminationAction=DELETE`` and waits on the zone operation (the API's
own long-poll), so a stock-out (``ZONE_RESOURCE_POOL_EXHAUSTED``) surfaces as
:class:`NoCapacity` at launch. A spot VM is deleted on preemption; ``status``
tells that apart from our own delete by the zone's
``compute.instances.preempted`` operation for the VM.

Auth is an OAuth access token (``Authorization: Bearer``) from settings; getting
and refreshing it (service account, workload identity) is left to the deployment.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
)
from aima.compute.providers.http import JsonHttp, ProviderRequestError, RetryPolicy
from aima.compute.providers.startup import startup_script
from aima.core.errors import ConfigError
from aima.core.settings import ProviderSettings

DEFAULT_COMPUTE_URL = "https://compute.googleapis.com"
DEFAULT_BILLING_URL = "https://cloudbilling.googleapis.com"
COMPUTE_ENGINE_SERVICE = "6F81-5844-456A"
DEFAULT_IMAGE = "projects/deeplearning-platform-release/global/images/family/common-cu124"
CAPACITY_ERRORS = frozenset(
    {
        "ZONE_RESOURCE_POOL_EXHAUSTED",
        "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
        "QUOTA_EXCEEDED",
        "quotaExceeded",
        "resourcePoolExhausted",
        "UNSUPPORTED_OPERATION",
    }
)


@dataclass(frozen=True)
class Accelerator:
    gpu_type: str
    memory_gb: float
    sku_model: str  # the model as Billing SKU descriptions spell it ("Nvidia <model> GPU")
    machine: str  # "n1-standard-8" (GPU attached) or "a2-highgpu-{n}g" (GPU bundled)
    bundled: bool = False


ACCELERATORS: dict[str, Accelerator] = {
    "nvidia-tesla-t4": Accelerator("T4", 16, "Tesla T4", "n1-standard-8"),
    "nvidia-tesla-v100": Accelerator("V100", 16, "Tesla V100", "n1-standard-8"),
    "nvidia-tesla-p100": Accelerator("P100", 16, "Tesla P100", "n1-standard-8"),
    "nvidia-l4": Accelerator("L4", 24, "L4", "g2-standard-{x8}", bundled=True),
    "nvidia-tesla-a100": Accelerator("A100-40GB", 40, "Tesla A100", "a2-highgpu-{n}g", True),
    "nvidia-a100-80gb": Accelerator("A100-80GB", 80, "A100 80GB", "a2-ultragpu-{n}g", True),
    "nvidia-h100-80gb": Accelerator("H100-80GB", 80, "H100 80GB", "a3-highgpu-{n}g", True),
}
_G2_SIZES = {1: 8, 2: 24, 4: 48, 8: 96}
_STATES = {
    "PROVISIONING": "booting",
    "STAGING": "booting",
    "RUNNING": "running",
    "REPAIRING": "booting",
}
_SKU_MODEL = re.compile(r"Nvidia (?P<model>.+?) GPU", re.IGNORECASE)


class GcpSpotProvider:
    """Compute Engine spot VMs with NVIDIA GPUs in the configured zones."""

    name = "gcp"

    def __init__(
        self,
        *,
        access_token: SecretStr,
        project: str,
        zones: Sequence[str],
        base_url: str = DEFAULT_COMPUTE_URL,
        billing_url: str = DEFAULT_BILLING_URL,
        image: str = DEFAULT_IMAGE,
        host_price_per_gpu_hour: float = 0.0,
        machine_types: Mapping[str, str] | None = None,
        max_price_per_hour: float | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {"Authorization": f"Bearer {access_token.get_secret_value()}"}
        self.project = project
        self.zones = tuple(zones)
        self.image = image
        self.host_price = host_price_per_gpu_hour
        self.machine_types = dict(machine_types or {})
        self.max_price_per_hour = max_price_per_hour
        common: dict[str, Any] = {
            "headers": headers,
            "client": client,
            "timeout_s": timeout_s,
            "retry": retry,
            "sleep": sleep,
        }
        self.compute = JsonHttp(self.name, f"{base_url.rstrip('/')}/compute/v1", **common)
        self.billing = JsonHttp(self.name, f"{billing_url.rstrip('/')}/v1", **common)

    @classmethod
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> GcpSpotProvider:
        zones = tuple(z.strip() for z in s.options.get("zones", "").split(",") if z.strip())
        if s.api_key is None or not s.project or not zones:
            raise ConfigError(
                "gcp: set compute.providers.gcp.api_key (an OAuth access token), project and "
                "options.zones (comma-separated, e.g. us-central1-a,europe-west4-a)"
            )
        opts = s.options
        return cls(
            access_token=s.api_key,
            project=s.project,
            zones=zones,
            base_url=s.base_url or DEFAULT_COMPUTE_URL,
            billing_url=opts.get("billing_url") or s.base_url or DEFAULT_BILLING_URL,
            image=opts.get("image", DEFAULT_IMAGE),
            host_price_per_gpu_hour=float(opts.get("host_price_per_gpu_hour", "0")),
            machine_types={
                k.removeprefix("machine_type."): v
                for k, v in opts.items()
                if k.startswith("machine_type.")
            },
            max_price_per_hour=s.max_price_per_hour,
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            **kw,
        )

    # -- the four verbs ----------------------------------------------------------------

    def offers(self, req: GpuRequirement) -> list[Offer]:
        zones = [z for z in self.zones if not req.regions or _wanted(z, req.regions)]
        if not zones:
            return []
        prices = self._spot_gpu_prices()
        found: list[Offer] = []
        for zone in zones:
            region = zone.rsplit("-", 1)[0]
            for item in self._list(f"/projects/{self.project}/zones/{zone}/acceleratorTypes"):
                acc = ACCELERATORS.get(str(item.get("name")))
                price = prices.get((acc.sku_model.lower(), region)) if acc else None
                if acc is None or price is None:
                    continue
                most = int(item.get("maximumCardsPerInstance", 1))
                for count in (1, 2, 4, 8):
                    total = round((price + self.host_price) * count, 4)
                    if count > most or (
                        self.max_price_per_hour is not None and total > self.max_price_per_hour
                    ):
                        continue
                    offer = Offer(
                        provider=self.name,
                        offer_id=f"{zone}/{item['name']}/{count}",
                        gpu_type=acc.gpu_type,
                        gpu_count=count,
                        gpu_memory_gb=acc.memory_gb,
                        price_per_hour=total,
                        region=zone,
                        spot=True,
                        available=True,
                    )
                    if matches(offer, req):
                        found.append(offer)
        return sorted(found, key=lambda o: (o.price_per_hour, o.offer_id))

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        zone, accelerator, count = self._parse_offer(offer.offer_id)
        vm = _vm_name(name)
        body = self._insert_body(zone, accelerator, count, vm, boot)
        try:
            op = self.compute.post(f"/projects/{self.project}/zones/{zone}/instances", json=body)
            if op.get("status") != "DONE":
                op = self.compute.post(
                    f"/projects/{self.project}/zones/{zone}/operations/{op['name']}/wait"
                )
        except ProviderRequestError as exc:
            reasons = _request_reasons(exc.body)
            if reasons & CAPACITY_ERRORS:
                raise NoCapacity(
                    self.name,
                    f"{accelerator} x{count} in {zone}: {exc.message}; try the next offer",
                ) from exc
            raise
        errors = (op.get("error") or {}).get("errors", [])
        if errors:
            codes = {str(e.get("code")) for e in errors}
            text = "; ".join(f"{e.get('code')}: {e.get('message', '')}" for e in errors)
            if codes & CAPACITY_ERRORS:
                raise NoCapacity(
                    self.name, f"{accelerator} x{count} in {zone}: {text}; try the next offer"
                )
            raise ProviderError(self.name, f"creating {vm} in {zone} failed: {text}")
        state = "booting" if op.get("status") == "DONE" else "pending"
        return Instance(
            self.name, f"{zone}/{vm}", offer.offer_id, state, offer.price_per_hour, "inserted"
        )

    def status(self, instance_id: str) -> Instance:
        zone, vm = self._parse_instance(instance_id)
        try:
            inst = self.compute.get(f"/projects/{self.project}/zones/{zone}/instances/{vm}")
        except ProviderRequestError as exc:
            if exc.status_code != 404:
                raise
            gone = "preempted" if self._was_preempted(zone, vm) else "terminated"
            return Instance(self.name, instance_id, "", gone, 0.0, "VM is gone")
        raw = str(inst.get("status", ""))
        offer_id = _offer_of(zone, inst)
        if raw in _STATES:
            state = _STATES[raw]
        elif self._was_preempted(zone, vm):
            state = "preempting" if raw in ("STOPPING", "SUSPENDING") else "preempted"
        else:
            state = "terminated"
        return Instance(self.name, instance_id, offer_id, state, 0.0, f"gce status {raw}")

    def terminate(self, instance_id: str) -> None:
        zone, vm = self._parse_instance(instance_id)
        try:
            self.compute.delete(f"/projects/{self.project}/zones/{zone}/instances/{vm}")
        except ProviderRequestError as exc:
            if exc.status_code != 404:
                raise

    # -- helpers -----------------------------------------------------------------------

    def _spot_gpu_prices(self) -> dict[tuple[str, str], float]:
        """(SKU model lower-cased, region) -> spot USD per GPU hour, from the Billing Catalog."""
        prices: dict[tuple[str, str], float] = {}
        path = f"/services/{COMPUTE_ENGINE_SERVICE}/skus"
        token = ""
        while True:
            params = {"currencyCode": "USD", **({"pageToken": token} if token else {})}
            page = self.billing.get(path, params=params) or {}
            for sku in page.get("skus", []):
                cat = sku.get("category", {})
                if cat.get("resourceGroup") != "GPU" or cat.get("usageType") != "Preemptible":
                    continue
                m = _SKU_MODEL.search(str(sku.get("description", "")))
                price = _unit_price(sku)
                if m is None or price is None:
                    continue
                for region in sku.get("serviceRegions", []):
                    prices[(m.group("model").lower(), str(region))] = price
            token = str(page.get("nextPageToken") or "")
            if not token:
                return prices

    def _list(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            page = self.compute.get(path, params={"pageToken": token} if token else None) or {}
            items.extend(page.get("items", []))
            token = str(page.get("nextPageToken") or "")
            if not token:
                return items

    def _was_preempted(self, zone: str, vm: str) -> bool:
        ops = self._list_ops(zone)
        return any(str(op.get("targetLink", "")).endswith(f"/instances/{vm}") for op in ops)

    def _list_ops(self, zone: str) -> list[dict[str, Any]]:
        path = f"/projects/{self.project}/zones/{zone}/operations"
        page = self.compute.get(
            path, params={"filter": 'operationType="compute.instances.preempted"'}
        )
        return list((page or {}).get("items", []))

    def _insert_body(
        self, zone: str, accelerator: str, count: int, vm: str, boot: Bootstrap
    ) -> dict[str, Any]:
        acc = ACCELERATORS[accelerator]
        machine = self.machine_types.get(accelerator) or acc.machine.format(
            n=count, x8=_G2_SIZES.get(count, 8)
        )
        body: dict[str, Any] = {
            "name": vm,
            "machineType": f"zones/{zone}/machineTypes/{machine}",
            "scheduling": {
                "provisioningModel": "SPOT",
                "instanceTerminationAction": "DELETE",
                "onHostMaintenance": "TERMINATE",
                "automaticRestart": False,
            },
            "disks": [
                {
                    "boot": True,
                    "autoDelete": True,
                    "initializeParams": {"sourceImage": self.image, "diskSizeGb": "100"},
                }
            ],
            "networkInterfaces": [
                {
                    "network": "global/networks/default",
                    "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "name": "External NAT"}],
                }
            ],
            "metadata": {
                "items": [{"key": "startup-script", "value": startup_script(boot, name=vm)}]
            },
            "labels": {"aima-worker": vm},
        }
        if not acc.bundled:
            body["guestAccelerators"] = [
                {
                    "acceleratorType": f"zones/{zone}/acceleratorTypes/{accelerator}",
                    "acceleratorCount": count,
                }
            ]
        return body

    def _parse_offer(self, offer_id: str) -> tuple[str, str, int]:
        parts = offer_id.split("/")
        if len(parts) != 3 or parts[1] not in ACCELERATORS or not parts[2].isdigit():
            raise ProviderError(self.name, f"offer id {offer_id!r} is not zone/accelerator/count")
        return parts[0], parts[1], int(parts[2])

    def _parse_instance(self, instance_id: str) -> tuple[str, str]:
        zone, sep, vm = instance_id.partition("/")
        if not sep or not vm:
            raise ProviderError(self.name, f"instance id {instance_id!r} is not zone/name")
        return zone, vm


def _wanted(zone: str, regions: tuple[str, ...]) -> bool:
    return any(zone.lower().startswith(w.lower()) for w in regions)


def _vm_name(name: str) -> str:
    """GCE names: lower-case letters, digits and dashes, a letter first, at most 63."""
    vm = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if not vm or not vm[0].isalpha():
        vm = f"aima-{vm}"
    return vm[:63].rstrip("-")


def _unit_price(sku: Mapping[str, Any]) -> float | None:
    for info in sku.get("pricingInfo", []):
        rates = info.get("pricingExpression", {}).get("tieredRates", [])
        if rates:
            unit = rates[-1].get("unitPrice", {})
            return int(unit.get("units", 0) or 0) + int(unit.get("nanos", 0) or 0) / 1e9
    return None


def _request_reasons(body: Any) -> set[str]:
    err = body.get("error", {}) if isinstance(body, dict) else {}
    reasons = {str(e.get("reason")) for e in err.get("errors", []) if isinstance(e, dict)}
    return reasons | {str(err.get("status", ""))}


def _offer_of(zone: str, inst: Mapping[str, Any]) -> str:
    accs = inst.get("guestAccelerators") or []
    if accs:
        acc_type = str(accs[0].get("acceleratorType", "")).rsplit("/", 1)[-1]
        return f"{zone}/{acc_type}/{accs[0].get('acceleratorCount', 1)}"
    return f"{zone}/{str(inst.get('machineType', '')).rsplit('/', 1)[-1]}"
