"""Azure spot VMs (ARM ``Microsoft.Compute/virtualMachines``), priced by the Retail Prices API.

Prices come from ``prices.azure.com/api/retail/prices`` (public, no auth): the
Linux ``... Spot`` meters of ``Virtual Machines`` per region, paged through
``NextPageLink``. Whether the subscription may run a size in a region comes
from ARM's resource SKUs list (``restrictions``). GPU model, count and memory
per size are not in either API, so the NC/ND/NV sizes AIMA knows are listed in
:data:`SIZES`; other sizes are ignored.

Launch PUTs a VM with ``priority=Spot``, ``evictionPolicy=Delete`` and
``billingProfile.maxPrice`` (``-1``: up to the on-demand price, unless
``max_price_per_hour`` is set), its NIC and disk created inline and deleted
with it. An evicted VM is deleted by Azure, so a VM that vanishes without AIMA
deleting it reads as ``preempted`` (this process remembers what it deleted);
``PowerState/deallocating`` reads as ``preempting``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Sequence
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
    wants_region,
)
from aima.compute.providers.http import JsonHttp, ProviderRequestError, RetryPolicy
from aima.compute.providers.startup import startup_script
from aima.core.errors import ConfigError
from aima.core.settings import ProviderSettings

DEFAULT_ARM_URL = "https://management.azure.com"
DEFAULT_PRICES_URL = "https://prices.azure.com"
API_VERSION = "2024-03-01"
SKUS_API_VERSION = "2021-07-01"
DEFAULT_IMAGE = "microsoft-dsvm:ubuntu-hpc:2204:latest"

# VM size -> (normalised GPU name, GPUs, GB per GPU)
SIZES: dict[str, tuple[str, int, float]] = {
    "Standard_NC4as_T4_v3": ("T4", 1, 16),
    "Standard_NC8as_T4_v3": ("T4", 1, 16),
    "Standard_NC16as_T4_v3": ("T4", 1, 16),
    "Standard_NC64as_T4_v3": ("T4", 4, 16),
    "Standard_NC6s_v3": ("V100", 1, 16),
    "Standard_NC12s_v3": ("V100", 2, 16),
    "Standard_NC24s_v3": ("V100", 4, 16),
    "Standard_NV36ads_A10_v5": ("A10", 1, 24),
    "Standard_NC24ads_A100_v4": ("A100-80GB", 1, 80),
    "Standard_NC48ads_A100_v4": ("A100-80GB", 2, 80),
    "Standard_NC96ads_A100_v4": ("A100-80GB", 4, 80),
    "Standard_ND96asr_v4": ("A100-40GB", 8, 40),
    "Standard_ND96amsr_A100_v4": ("A100-80GB", 8, 80),
    "Standard_NC40ads_H100_v5": ("H100-94GB", 1, 94),
    "Standard_NC80adis_H100_v5": ("H100-94GB", 2, 94),
    "Standard_ND96isr_H100_v5": ("H100-80GB", 8, 80),
}
CAPACITY_CODES = frozenset(
    {
        "SkuNotAvailable",
        "OverconstrainedAllocationRequest",
        "OverconstrainedZonalAllocationRequest",
        "AllocationFailed",
        "ZonalAllocationFailed",
        "OperationNotAllowed",
        "QuotaExceeded",
    }
)


class AzureSpotProvider:
    """Azure spot GPU VMs in one resource group."""

    name = "azure"

    def __init__(
        self,
        *,
        access_token: SecretStr,
        subscription: str,
        resource_group: str,
        regions: Sequence[str],
        subnet_id: str | None = None,
        ssh_public_key: str | None = None,
        admin_username: str = "aima",
        image: str = DEFAULT_IMAGE,
        base_url: str = DEFAULT_ARM_URL,
        prices_url: str = DEFAULT_PRICES_URL,
        max_price_per_hour: float | None = None,
        client: httpx.Client | None = None,
        timeout_s: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.subscription = subscription
        self.resource_group = resource_group
        self.regions = tuple(regions)
        self.subnet_id = subnet_id
        self.ssh_public_key = ssh_public_key
        self.admin_username = admin_username
        self.image = image
        self.max_price_per_hour = max_price_per_hour
        common: dict[str, Any] = {
            "client": client,
            "timeout_s": timeout_s,
            "retry": retry,
            "sleep": sleep,
        }
        self.arm = JsonHttp(
            self.name,
            base_url,
            bearer=access_token,
            params={"api-version": API_VERSION},
            **common,
        )
        # public and unauthenticated: the ARM token is never sent there
        self.prices = JsonHttp(self.name, prices_url, **common)
        self._deleted: set[str] = set()

    @classmethod
    def from_settings(cls, s: ProviderSettings, **kw: Any) -> AzureSpotProvider:
        opts = s.options
        regions = tuple(r.strip() for r in opts.get("regions", "").split(",") if r.strip())
        regions = regions or ((s.region,) if s.region else ())
        if s.api_key is None or not s.project or not opts.get("resource_group") or not regions:
            raise ConfigError(
                "azure: set compute.providers.azure.api_key (an ARM access token), project "
                "(subscription id), region (or options.regions) and options.resource_group"
            )
        return cls(
            access_token=s.api_key,
            subscription=s.project,
            resource_group=opts["resource_group"],
            regions=regions,
            subnet_id=opts.get("subnet_id"),
            ssh_public_key=opts.get("ssh_public_key"),
            admin_username=opts.get("admin_username", "aima"),
            image=opts.get("image", DEFAULT_IMAGE),
            base_url=s.base_url or DEFAULT_ARM_URL,
            prices_url=opts.get("prices_url") or s.base_url or DEFAULT_PRICES_URL,
            max_price_per_hour=s.max_price_per_hour,
            timeout_s=s.timeout_s,
            retry=RetryPolicy(attempts=s.max_retries + 1),
            **kw,
        )

    # -- the four verbs ----------------------------------------------------------------

    def offers(self, req: GpuRequirement) -> list[Offer]:
        found: list[Offer] = []
        for region in self.regions:
            if not wants_region(req, region):
                continue
            prices = self._spot_prices(region)
            if not prices:
                continue
            restricted = self._restricted_sizes(region)
            for size, price in sorted(prices.items()):
                gpu_type, count, memory = SIZES[size]
                if self.max_price_per_hour is not None and price > self.max_price_per_hour:
                    continue
                offer = Offer(
                    provider=self.name,
                    offer_id=f"{region}/{size}",
                    gpu_type=gpu_type,
                    gpu_count=count,
                    gpu_memory_gb=memory,
                    price_per_hour=price,
                    region=region,
                    spot=True,
                    available=size not in restricted,
                )
                if matches(offer, req):
                    found.append(offer)
        return sorted(found, key=lambda o: (o.price_per_hour, o.offer_id))

    def launch(self, offer: Offer, boot: Bootstrap, *, name: str) -> Instance:
        region, _, size = offer.offer_id.partition("/")
        if size not in SIZES:
            raise ProviderError(self.name, f"offer id {offer.offer_id!r} is not region/size")
        if not self.subnet_id or not self.ssh_public_key:
            raise ConfigError(
                "azure: set compute.providers.azure.options.subnet_id (the VNet subnet the "
                "workers join) and options.ssh_public_key before launching VMs"
            )
        vm = _vm_name(name)
        try:
            body = self.arm.put(self._vm_path(vm), json=self._vm_body(region, size, vm, boot))
        except ProviderRequestError as exc:
            code = _arm_code(exc.body)
            if code in CAPACITY_CODES:
                raise NoCapacity(
                    self.name,
                    f"{size} in {region}: {exc.message}; try the next offer",
                    details={"azure_code": code},
                ) from exc
            raise
        state = str((body or {}).get("properties", {}).get("provisioningState", "Creating"))
        return Instance(
            self.name,
            vm,
            offer.offer_id,
            "failed" if state == "Failed" else "booting",
            offer.price_per_hour,
            f"provisioningState {state}",
        )

    def status(self, instance_id: str) -> Instance:
        try:
            view = self.arm.get(f"{self._vm_path(instance_id)}/instanceView")
        except ProviderRequestError as exc:
            if exc.status_code != 404:
                raise
            if instance_id in self._deleted:
                return Instance(self.name, instance_id, "", "terminated", 0.0, "VM deleted")
            return Instance(
                self.name,
                instance_id,
                "",
                "preempted",
                0.0,
                "VM vanished without AIMA deleting it: evicted (spot) or deleted outside AIMA",
            )
        codes = [str(s.get("code", "")) for s in (view or {}).get("statuses", [])]
        state, detail = _state(codes)
        return Instance(self.name, instance_id, "", state, 0.0, detail)

    def terminate(self, instance_id: str) -> None:
        self._deleted.add(instance_id)
        try:
            self.arm.delete(self._vm_path(instance_id))
        except ProviderRequestError as exc:
            if exc.status_code != 404:
                raise

    # -- helpers -----------------------------------------------------------------------

    def _vm_path(self, vm: str) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{vm}"
        )

    def _spot_prices(self, region: str) -> dict[str, float]:
        """Linux spot USD/hour per known GPU size in ``region`` (cheapest meter wins)."""
        # only ``eq``/``and`` filters (the documented subset); spot meters are picked here
        flt = (
            "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
            f"and armRegionName eq '{region}'"
        )
        prices: dict[str, float] = {}
        page: Any = self.prices.get("/api/retail/prices", params={"$filter": flt})
        while page:
            for item in page.get("Items", []):
                size = str(item.get("armSkuName", ""))
                if (
                    size not in SIZES
                    or "windows" in str(item.get("productName", "")).lower()
                    or not str(item.get("skuName", "")).endswith(" Spot")
                    or item.get("unitOfMeasure") != "1 Hour"
                ):
                    continue
                price = float(item.get("retailPrice", item.get("unitPrice", 0)))
                prices[size] = min(price, prices.get(size, price))
            link = page.get("NextPageLink")
            page = self.prices.get(str(link)) if link else None
        return prices

    def _restricted_sizes(self, region: str) -> set[str]:
        body = self.arm.get(
            f"/subscriptions/{self.subscription}/providers/Microsoft.Compute/skus",
            params={"api-version": SKUS_API_VERSION, "$filter": f"location eq '{region}'"},
        )
        restricted: set[str] = set()
        for sku in (body or {}).get("value", []):
            if sku.get("resourceType") != "virtualMachines":
                continue
            for r in sku.get("restrictions", []):
                if r.get("type") == "Location" and region in r.get("values", [region]):
                    restricted.add(str(sku.get("name")))
        return restricted

    def _vm_body(self, region: str, size: str, vm: str, boot: Bootstrap) -> dict[str, Any]:
        custom = base64.b64encode(startup_script(boot, name=vm).encode()).decode()
        user = self.admin_username
        return {
            "location": region,
            "tags": {"aima-worker": vm},
            "properties": {
                "hardwareProfile": {"vmSize": size},
                "priority": "Spot",
                "evictionPolicy": "Delete",
                "billingProfile": {"maxPrice": self.max_price_per_hour or -1},
                "storageProfile": {
                    "imageReference": _image_reference(self.image),
                    "osDisk": {
                        "createOption": "FromImage",
                        "deleteOption": "Delete",
                        "managedDisk": {"storageAccountType": "StandardSSD_LRS"},
                    },
                },
                "osProfile": {
                    "computerName": vm[:64],
                    "adminUsername": user,
                    "customData": custom,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {
                            "publicKeys": [
                                {
                                    "path": f"/home/{user}/.ssh/authorized_keys",
                                    "keyData": self.ssh_public_key,
                                }
                            ]
                        },
                    },
                },
                "networkProfile": {
                    "networkApiVersion": "2020-11-01",
                    "networkInterfaceConfigurations": [
                        {
                            "name": f"{vm}-nic",
                            "properties": {
                                "primary": True,
                                "deleteOption": "Delete",
                                "ipConfigurations": [
                                    {
                                        "name": "ipconfig1",
                                        "properties": {"subnet": {"id": self.subnet_id}},
                                    }
                                ],
                            },
                        }
                    ],
                },
            },
        }


def _state(codes: list[str]) -> tuple[str, str]:
    """AIMA state from instanceView status codes (``ProvisioningState/...``, ``PowerState/...``)."""
    detail = ", ".join(codes)
    prov = next((c.split("/", 1)[1] for c in codes if c.startswith("ProvisioningState/")), "")
    power = next((c.split("/", 1)[1] for c in codes if c.startswith("PowerState/")), "")
    if prov.startswith("failed"):
        return "failed", detail
    if power in ("deallocating", "stopping"):
        return "preempting", detail
    if power in ("deallocated", "stopped"):
        return "preempted", detail
    if prov == "deleting":
        return "terminated", detail
    if power == "running" and prov == "succeeded":
        return "running", detail
    return "booting", detail


def _image_reference(image: str) -> dict[str, str]:
    """``publisher:offer:sku[:version]`` (a marketplace image) or an image resource id."""
    if image.startswith("/subscriptions/"):
        return {"id": image}
    parts = image.split(":")
    if len(parts) not in (3, 4) or not all(parts):
        raise ConfigError(
            f"azure: image {image!r} is neither publisher:offer:sku[:version] nor an image "
            "resource id; fix compute.providers.azure.options.image"
        )
    publisher, offer, sku = parts[:3]
    version = parts[3] if len(parts) == 4 else "latest"
    return {"publisher": publisher, "offer": offer, "sku": sku, "version": version}


def _arm_code(body: Any) -> str:
    err = body.get("error", {}) if isinstance(body, dict) else {}
    return str(err.get("code", "")) if isinstance(err, dict) else ""


def _vm_name(name: str) -> str:
    """Azure Linux VM names: letters, digits and dashes, at most 64, no leading dash."""
    vm = re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-")
    return (vm or "aima-worker")[:64]
