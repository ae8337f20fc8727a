"""Azure Retail Prices API and ARM ``Microsoft.Compute`` on 127.0.0.1 (one port).

Prices: ``GET /api/retail/prices?$filter=...`` answering ``Items`` /
``NextPageLink`` / ``Count`` (two pages; Windows and Low Priority meters mixed
in, as the real list has them). ARM: resource SKUs list with ``restrictions``,
``virtualMachines/{name}`` PUT (201, ``provisioningState: Creating``), GET
``instanceView``, DELETE (202, or 204 when already gone); every ARM call needs
``api-version`` and ``Authorization: Bearer``. Errors use ARM's
``{"error": {"code", "message"}}`` body.

Switches: ``sold_out`` (sizes whose PUT fails ``SkuNotAvailable`` 409),
``boot_polls`` (instanceView reads a VM stays creating/starting), ``evict(name)``
(spot eviction with policy Delete: deallocating, then the VM is gone), ``inject``.
"""

from __future__ import annotations

from typing import Any

from tests.compute.fakes._cloud import CloudFake, Request, Response

SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
GROUP = "aima-workers"


def _price(
    size: str, meter: str, product: str, sku: str, price: float, region: str = "eastus"
) -> dict[str, Any]:
    return {
        "currencyCode": "USD",
        "tierMinimumUnits": 0.0,
        "retailPrice": price,
        "unitPrice": price,
        "armRegionName": region,
        "location": "US East",
        "effectiveStartDate": "2026-11-01T00:00:00Z",
        "meterId": f"meter-{abs(hash((size, sku))) % 10**8:08d}",
        "meterName": meter,
        "productId": "DZH318Z0BQ4L",
        "skuId": "DZH318Z0BQ4L/00JX",
        "productName": product,
        "skuName": sku,
        "serviceName": "Virtual Machines",
        "serviceId": "DZH313Z7MMC8",
        "serviceFamily": "Compute",
        "unitOfMeasure": "1 Hour",
        "type": "Consumption",
        "isPrimaryMeterRegion": True,
        "armSkuName": size,
    }


PRICES = [
    _price(
        "Standard_NC4as_T4_v3",
        "NC4as T4 v3 Spot",
        "Virtual Machines NCasT4_v3 Series",
        "NC4as T4 v3 Spot",
        0.0526,
    ),
    _price(
        "Standard_NC4as_T4_v3",
        "NC4as T4 v3 Spot",
        "Virtual Machines NCasT4_v3 Series Windows",
        "NC4as T4 v3 Spot",
        0.0894,
    ),
    _price(
        "Standard_NC4as_T4_v3",
        "NC4as T4 v3 Low Priority",
        "Virtual Machines NCasT4_v3 Series",
        "NC4as T4 v3 Low Priority",
        0.1052,
    ),
    _price(
        "Standard_NC24ads_A100_v4",
        "NC24ads A100 v4 Spot",
        "Virtual Machines NCadsA100v4 Series",
        "NC24ads A100 v4 Spot",
        0.7346,
    ),
    _price(
        "Standard_NC6s_v3", "NC6s v3 Spot", "Virtual Machines NCSv3 Series", "NC6s v3 Spot", 0.3672
    ),
    _price("Standard_D4s_v5", "D4s v5 Spot", "Virtual Machines Dsv5 Series", "D4s v5 Spot", 0.0192),
]


def arm_error(status: int, code: str, message: str, **headers: str) -> Response:
    return Response.json(status, {"error": {"code": code, "message": message}}, **headers)


class AzureFake(CloudFake):
    def __init__(self, token: str = "eyJ0eXAiOiJKV1QifQ.fake") -> None:
        super().__init__()
        self.token = token
        self.sold_out: set[str] = set()
        self.restricted: set[str] = {"Standard_NC6s_v3"}
        self.boot_polls = 1
        self.vms: dict[str, dict[str, Any]] = {}
        self.bodies: list[dict[str, Any]] = []

    def route(self, req: Request) -> Response:
        if req.path == "/api/retail/prices":
            return self._prices(req)
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if not req.q("api-version"):
            return arm_error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        parts = [p for p in req.path.split("/") if p]
        if parts[:2] != ["subscriptions", SUBSCRIPTION]:
            return arm_error(
                404, "SubscriptionNotFound", f"The subscription '{parts[1:2]}' could not be found."
            )
        rest = parts[2:]
        if rest == ["providers", "Microsoft.Compute", "skus"] and req.method == "GET":
            return self._skus(req)
        prefix = ["resourceGroups", GROUP, "providers", "Microsoft.Compute", "virtualMachines"]
        if rest[:5] != prefix or len(rest) not in (6, 7):
            return arm_error(
                404, "ResourceGroupNotFound", f"Resource group '{rest[1:2]}' could not be found."
            )
        name = rest[5]
        if len(rest) == 7:
            if rest[6] != "instanceView" or req.method != "GET":
                return arm_error(404, "NotFound", "unknown path")
            return self._instance_view(name)
        if req.method == "PUT":
            return self._put(name, req.json())
        if req.method == "DELETE":
            if self.vms.pop(name, None) is None:
                return Response(204)
            return Response(
                202, headers={"Location": f"{req.path}/operationResults/1", "Retry-After": "10"}
            )
        return arm_error(405, "MethodNotAllowed", req.method)

    def _prices(self, req: Request) -> Response:
        flt = req.q("$filter")
        if "priceType eq 'Consumption'" not in flt or "armRegionName eq 'eastus'" not in flt:
            return Response.json(
                200,
                {
                    "BillingCurrency": "USD",
                    "CustomerEntityId": "Default",
                    "CustomerEntityType": "Retail",
                    "Items": [],
                    "NextPageLink": None,
                    "Count": 0,
                },
            )
        skip = int(req.q("$skip", "0") or 0)
        items = PRICES[skip : skip + 3]
        nxt = None
        if skip + 3 < len(PRICES):
            nxt = f"{self.url}/api/retail/prices?$filter={flt}&$skip={skip + 3}"
        body = {
            "BillingCurrency": "USD",
            "CustomerEntityId": "Default",
            "CustomerEntityType": "Retail",
            "Items": items,
            "NextPageLink": nxt,
            "Count": len(items),
        }
        return Response.json(200, body)

    def _skus(self, req: Request) -> Response:
        value = []
        for size in {p["armSkuName"] for p in PRICES}:
            restrictions = (
                [
                    {
                        "type": "Location",
                        "values": ["eastus"],
                        "reasonCode": "NotAvailableForSubscription",
                        "restrictionInfo": {"locations": ["eastus"]},
                    }
                ]
                if size in self.restricted
                else []
            )
            value.append(
                {
                    "resourceType": "virtualMachines",
                    "name": size,
                    "tier": "Standard",
                    "locations": ["eastus"],
                    "restrictions": restrictions,
                }
            )
        return Response.json(200, {"value": value})

    def _put(self, name: str, body: dict[str, Any]) -> Response:
        self.bodies.append(body)
        props = body.get("properties", {})
        size = props.get("hardwareProfile", {}).get("vmSize", "")
        if props.get("priority") != "Spot" or props.get("evictionPolicy") not in (
            "Delete",
            "Deallocate",
        ):
            return arm_error(400, "InvalidParameter", "this fake only runs Spot VMs")
        if size in self.sold_out:
            return arm_error(
                409,
                "SkuNotAvailable",
                f"The requested VM size '{size}' is currently not available in location "
                f"'{body.get('location')}'. Please try another size or deploy to a different location.",
            )
        vm = {
            "name": name,
            "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.Compute/virtualMachines/{name}",
            "type": "Microsoft.Compute/virtualMachines",
            "location": body.get("location"),
            "properties": {
                **props,
                "provisioningState": "Creating",
                "vmId": f"vm-{len(self.vms) + 1}",
            },
            "polls": 0,
            "power": "starting",
        }
        self.vms[name] = vm
        out = {k: v for k, v in vm.items() if k not in ("polls", "power")}
        return Response.json(201, out, **{"Azure-AsyncOperation": f"{self.url}/operations/{name}"})

    def _instance_view(self, name: str) -> Response:
        vm = self.vms.get(name)
        if vm is None:
            return arm_error(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Compute/virtualMachines/{name}' under resource group "
                f"'{GROUP}' was not found.",
            )
        if vm["power"] == "starting":
            vm["polls"] += 1
            if vm["polls"] > self.boot_polls:
                vm["power"] = "running"
                vm["properties"]["provisioningState"] = "Succeeded"
        prov = vm["properties"]["provisioningState"].lower()
        statuses = [{"code": f"ProvisioningState/{prov}", "level": "Info"}]
        statuses.append({"code": f"PowerState/{vm['power']}", "level": "Info"})
        return Response.json(200, {"computerName": name, "statuses": statuses})

    def evict(self, name: str, *, finished: bool = True) -> None:
        """Spot eviction with evictionPolicy Delete: deallocating, then deleted."""
        if finished:
            self.vms.pop(name, None)
        else:
            self.vms[name]["power"] = "deallocating"
