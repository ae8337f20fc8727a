"""Compute Engine v1 and the Cloud Billing Catalog on 127.0.0.1 (one port, both path trees).

Compute: ``acceleratorTypes`` list, ``instances`` insert/get/delete returning
zone operations, ``operations/{op}/wait``, and the zone operations list filtered
on ``compute.instances.preempted``. Billing: ``/v1/services/{id}/skus`` in two
pages. Errors use Google's ``{"error": {"code", "message", "errors": [{"reason"}],
"status"}}`` body; auth is ``Authorization: Bearer``.

Switches: ``exhausted`` (zones whose insert operation ends in
``ZONE_RESOURCE_POOL_EXHAUSTED``), ``boot_polls`` (reads a VM stays
``PROVISIONING``/``STAGING``), ``preempt(name)`` (spot preemption: the VM is
deleted and a ``compute.instances.preempted`` operation is recorded), ``inject``.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.compute.fakes._cloud import CloudFake, Request, Response

PROJECT = "aima-test"
ZONES = {
    "us-central1-a": [("nvidia-tesla-t4", "NVIDIA T4", 4), ("nvidia-l4", "NVIDIA L4", 8)],
    "europe-west4-a": [
        ("nvidia-tesla-a100", "NVIDIA A100 40GB", 16),
        ("nvidia-tesla-t4", "NVIDIA T4", 4),
    ],
}


def _sku(
    desc: str, group: str, usage: str, regions: list[str], units: int, nanos: int
) -> dict[str, Any]:
    return {
        "name": f"services/6F81-5844-456A/skus/{abs(hash(desc)) % 10**12:012d}",
        "skuId": f"{abs(hash(desc)) % 10**4:04d}-ABCD-EF01",
        "description": desc,
        "category": {
            "serviceDisplayName": "Compute Engine",
            "resourceFamily": "Compute",
            "resourceGroup": group,
            "usageType": usage,
        },
        "serviceRegions": regions,
        "pricingInfo": [
            {
                "effectiveTime": "2026-12-01T00:00:00Z",
                "pricingExpression": {
                    "usageUnit": "h",
                    "displayQuantity": 1,
                    "tieredRates": [
                        {
                            "startUsageAmount": 0,
                            "unitPrice": {
                                "currencyCode": "USD",
                                "units": str(units),
                                "nanos": nanos,
                            },
                        }
                    ],
                },
            }
        ],
        "serviceProviderName": "Google",
    }


SKUS = [
    _sku(
        "Spot Preemptible Nvidia Tesla T4 GPU running in Americas",
        "GPU",
        "Preemptible",
        ["us-central1"],
        0,
        140000000,
    ),
    _sku(
        "Nvidia Tesla T4 GPU running in Americas", "GPU", "OnDemand", ["us-central1"], 0, 350000000
    ),
    _sku(
        "Spot Preemptible Nvidia Tesla T4 GPU running in EMEA",
        "GPU",
        "Preemptible",
        ["europe-west4"],
        0,
        150000000,
    ),
    _sku(
        "Spot Preemptible Nvidia L4 GPU running in Americas",
        "GPU",
        "Preemptible",
        ["us-central1"],
        0,
        224000000,
    ),
    _sku(
        "Spot Preemptible Nvidia Tesla A100 GPU running in EMEA",
        "GPU",
        "Preemptible",
        ["europe-west4"],
        1,
        170000000,
    ),
    _sku(
        "Spot Preemptible N1 Predefined Instance Core running in Americas",
        "N1Standard",
        "Preemptible",
        ["us-central1"],
        0,
        6980000,
    ),
]


def gerror(status: int, reason: str, message: str, grpc: str) -> Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": grpc,
        }
    }
    return Response.json(status, body)


class GceFake(CloudFake):
    def __init__(self, token: str = "ya29.fake-token") -> None:
        super().__init__()
        self.token = token
        self.exhausted: set[str] = set()
        self.boot_polls = 1
        self.instances: dict[tuple[str, str], dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.preempted_ops: dict[str, list[dict[str, Any]]] = {}
        self.bodies: list[dict[str, Any]] = []
        self._ids = itertools.count(1000)

    def route(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return gerror(
                401,
                "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                "UNAUTHENTICATED",
            )
        parts = [p for p in req.path.split("/") if p]
        if parts[:2] == ["v1", "services"] and parts[3:] == ["skus"]:
            return self._skus(req)
        if parts[:2] != ["compute", "v1"] or parts[2:3] != ["projects"] or parts[3:4] != [PROJECT]:
            return gerror(404, "notFound", f"The resource '{req.path}' was not found", "NOT_FOUND")
        rest = parts[4:]
        if len(rest) < 3 or rest[0] != "zones" or rest[1] not in ZONES:
            return gerror(404, "notFound", f"The resource '{req.path}' was not found", "NOT_FOUND")
        zone, rest = rest[1], rest[2:]
        if req.method == "GET" and rest == ["acceleratorTypes"]:
            return Response.json(200, self._accelerators(zone))
        if req.method == "POST" and rest == ["instances"]:
            return self._insert(zone, req.json())
        if rest[0] == "instances" and len(rest) == 2:
            return self._instance(req.method, zone, rest[1])
        if req.method == "GET" and rest == ["operations"]:
            items = (
                self.preempted_ops.get(zone, [])
                if "compute.instances.preempted" in req.q("filter")
                else []
            )
            return Response.json(200, {"kind": "compute#operationList", "items": items})
        if (
            req.method == "POST"
            and len(rest) == 3
            and rest[0] == "operations"
            and rest[2] == "wait"
        ):
            op = self.operations.get(rest[1])
            if op is None:
                return gerror(404, "notFound", f"operation {rest[1]} not found", "NOT_FOUND")
            op["status"] = "DONE"
            return Response.json(200, op)
        return gerror(404, "notFound", f"The resource '{req.path}' was not found", "NOT_FOUND")

    def _skus(self, req: Request) -> Response:
        if req.q("pageToken") == "p2":
            return Response.json(200, {"skus": SKUS[3:], "nextPageToken": ""})
        return Response.json(200, {"skus": SKUS[:3], "nextPageToken": "p2"})

    def _accelerators(self, zone: str) -> dict[str, Any]:
        base = f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{zone}"
        items = [
            {
                "kind": "compute#acceleratorType",
                "id": str(10000 + n),
                "name": name,
                "description": desc,
                "zone": base,
                "maximumCardsPerInstance": most,
                "selfLink": f"{base}/acceleratorTypes/{name}",
            }
            for n, (name, desc, most) in enumerate(ZONES[zone])
        ]
        return {"kind": "compute#acceleratorTypeList", "items": items}

    def _op(
        self, zone: str, kind: str, target: str, *, error: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        name = f"operation-{next(self._ids)}-5f3c2a"
        op: dict[str, Any] = {
            "kind": "compute#operation",
            "name": name,
            "zone": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{zone}",
            "operationType": kind,
            "targetLink": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{zone}/instances/{target}",
            "status": "RUNNING",
            "progress": 0,
        }
        if error:
            op["error"] = error
        self.operations[name] = op
        return op

    def _insert(self, zone: str, body: dict[str, Any]) -> Response:
        self.bodies.append(body)
        name = body.get("name", "")
        if body.get("scheduling", {}).get("provisioningModel") != "SPOT":
            return gerror(400, "invalid", "this fake only runs SPOT VMs", "INVALID_ARGUMENT")
        if (zone, name) in self.instances:
            return gerror(
                409, "alreadyExists", f"The resource '{name}' already exists", "ALREADY_EXISTS"
            )
        if zone in self.exhausted:
            error = {
                "errors": [
                    {
                        "code": "ZONE_RESOURCE_POOL_EXHAUSTED",
                        "message": f"The zone 'projects/{PROJECT}/zones/{zone}' does not have enough resources "
                        "available to fulfill the request. Try a different zone, or try again later.",
                    }
                ]
            }
            return Response.json(200, self._op(zone, "insert", name, error=error))
        self.instances[(zone, name)] = {
            "kind": "compute#instance",
            "id": str(next(self._ids)),
            "name": name,
            "zone": zone,
            "status": "PROVISIONING",
            "machineType": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{zone}/{body['machineType']}",
            "guestAccelerators": [
                {
                    "acceleratorType": f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/{a['acceleratorType']}",
                    "acceleratorCount": a["acceleratorCount"],
                }
                for a in body.get("guestAccelerators", [])
            ],
            "scheduling": body["scheduling"],
            "polls": 0,
        }
        return Response.json(200, self._op(zone, "insert", name))

    def _instance(self, method: str, zone: str, name: str) -> Response:
        inst = self.instances.get((zone, name))
        if inst is None:
            return gerror(
                404,
                "notFound",
                f"The resource 'projects/{PROJECT}/zones/{zone}/instances/{name}' was not found",
                "NOT_FOUND",
            )
        if method == "DELETE":
            del self.instances[(zone, name)]
            return Response.json(200, self._op(zone, "delete", name))
        if inst["status"] in ("PROVISIONING", "STAGING"):
            inst["polls"] += 1
            if inst["polls"] > self.boot_polls:
                inst["status"] = "RUNNING"
            elif inst["polls"] > 1:
                inst["status"] = "STAGING"
        return Response.json(200, {k: v for k, v in inst.items() if k != "polls"})

    def preempt(self, zone: str, name: str, *, finished: bool = True) -> None:
        """Spot preemption; with instanceTerminationAction=DELETE the VM disappears afterwards."""
        op = self._op(zone, "compute.instances.preempted", name)
        op["status"] = "DONE"
        self.preempted_ops.setdefault(zone, []).append(op)
        if finished:
            self.instances.pop((zone, name), None)
        else:
            self.instances[(zone, name)]["status"] = "STOPPING"
