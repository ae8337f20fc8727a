"""Lambda Cloud's REST API (``/api/v1``) on 127.0.0.1.

Shapes follow Lambda's API reference: success is ``{"data": ...}``, failure is
``{"error": {"code", "message", "suggestion"}}`` with the documented codes
(``global/invalid-api-key`` 401, ``instance-operations/launch/insufficient-capacity``
400, ``global/object-does-not-exist`` 404). Auth: ``Authorization: Bearer``.
"""

from __future__ import annotations

from typing import Any

from tests.compute.fakes._cloud import CloudFake, Request, Response
from tests.compute.fakes._gpu import Marketplace

DEFAULT_TYPES: dict[str, dict[str, Any]] = {
    "gpu_1x_a10": {
        "description": "1x A10 (24 GB PCIe)",
        "gpu_description": "A10 (24 GB PCIe)",
        "price_cents_per_hour": 75,
        "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1},
        "regions": ["us-east-1"],
    },
    "gpu_1x_a100_sxm4": {
        "description": "1x A100 (40 GB SXM4)",
        "gpu_description": "A100 (40 GB SXM4)",
        "price_cents_per_hour": 129,
        "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 512, "gpus": 1},
        "regions": ["us-west-2", "us-east-1"],
    },
    "gpu_1x_a100_80gb_sxm4": {
        "description": "1x A100 (80 GB SXM4)",
        "gpu_description": "A100 (80 GB SXM4)",
        "price_cents_per_hour": 179,
        "specs": {"vcpus": 30, "memory_gib": 225, "storage_gib": 512, "gpus": 1},
        "regions": ["us-west-2"],
    },
    "gpu_1x_h100_pcie": {
        "description": "1x H100 (80 GB PCIe)",
        "gpu_description": "H100 (80 GB PCIe)",
        "price_cents_per_hour": 249,
        "specs": {"vcpus": 26, "memory_gib": 200, "storage_gib": 1000, "gpus": 1},
        "regions": [],
    },
}
_REGION_NAMES = {"us-east-1": "Virginia, USA", "us-west-2": "Arizona, USA"}


def _error(status: int, code: str, message: str, suggestion: str | None = None) -> Response:
    err: dict[str, Any] = {"code": code, "message": message}
    if suggestion:
        err["suggestion"] = suggestion
    return Response.json(status, {"error": err})


class LambdaFake(CloudFake):
    def __init__(self, api_key: str = "lambda-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.types = {k: {**v, "regions": list(v["regions"])} for k, v in DEFAULT_TYPES.items()}
        self.market = Marketplace()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def route(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(
                401, "global/invalid-api-key", "API key was invalid, expired, or deleted."
            )
        path = req.path.removeprefix("/api/v1")
        if req.method == "GET" and path == "/instance-types":
            return Response.json(200, {"data": self._types()})
        if req.method == "POST" and path == "/instance-operations/launch":
            return self._launch(req.json())
        if req.method == "POST" and path == "/instance-operations/terminate":
            ids = req.json().get("instance_ids") or []
            gone = [i for i in ids if i not in self.market.machines]
            if gone:
                return _error(404, "global/object-does-not-exist", f"Instance {gone[0]} not found")
            for i in ids:
                self.market.machines[i].state = "terminated"
            return Response.json(200, {"data": {"terminated_instances": [{"id": i} for i in ids]}})
        if req.method == "GET" and path.startswith("/instances/"):
            m = self.market.machines.get(path.removeprefix("/instances/"))
            if m is None:
                return _error(404, "global/object-does-not-exist", "Instance not found")
            return Response.json(200, {"data": self._instance(m)})
        return _error(404, "global/object-does-not-exist", "Not found")

    def _types(self) -> dict[str, Any]:
        return {
            name: {
                "instance_type": {
                    "name": name,
                    "description": t["description"],
                    "gpu_description": t["gpu_description"],
                    "price_cents_per_hour": t["price_cents_per_hour"],
                    "specs": t["specs"],
                },
                "regions_with_capacity_available": [
                    {"name": r, "description": _REGION_NAMES.get(r, r)} for r in t["regions"]
                ],
            }
            for name, t in self.types.items()
        }

    def _launch(self, body: dict[str, Any]) -> Response:
        name, region = body.get("instance_type_name"), body.get("region_name")
        t = self.types.get(str(name))
        if t is None:
            return _error(400, "global/invalid-parameters", f"Unknown instance type {name}")
        key = f"{name}|{region}"
        if region not in t["regions"] or key in self.market.no_capacity:
            return _error(
                400,
                "instance-operations/launch/insufficient-capacity",
                "Not enough capacity to fulfill launch request.",
                "Choose an instance type with more availability, or try again later.",
            )
        m = self.market.start(key, t["price_cents_per_hour"] / 100, False, body)
        return Response.json(200, {"data": {"instance_ids": [m.id]}})

    def _instance(self, m: Any) -> dict[str, Any]:
        state = m.poll()
        status = {"pending": "booting", "booting": "booting", "running": "active"}.get(
            state, "terminated"
        )
        type_name, _, region = m.offer.partition("|")
        t = self.types[type_name]
        return {
            "id": m.id,
            "name": m.launch.get("name"),
            "status": status,
            "region": {"name": region, "description": _REGION_NAMES.get(region, region)},
            "instance_type": {
                "name": type_name,
                "description": t["description"],
                "price_cents_per_hour": t["price_cents_per_hour"],
            },
        }
