"""Genesis Cloud Compute API v1 on 127.0.0.1 (paths, auth header, JSON and error shapes).

Speaks ``GET /availability/{region}/instances``, ``POST /instances``,
``GET /instances/{id}`` and ``DELETE /instances/{id}`` with the documented
bodies (``{"instance": {...}}``, ``{"code", "message"}`` errors). Auth is
``Authorization: Bearer <token>`` or the deprecated ``X-Auth-Token``.

Switches: ``stock[type] = 0`` (no capacity), ``boot_polls`` (how many status
reads an instance stays ``creating``; large = slow boot), ``inject`` (429/500).
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.compute.fakes._cloud import CloudFake, Request, Response

REGION = "NORD-NO-KRS-1"
TYPES = {
    "vcpu-4_memory-24g_nvidia-rtx-3090-1": 3,
    "vcpu-8_memory-48g_nvidia-rtx-3090-2": 1,
    "vcpu-192_memory-1920g_nvidia-h100-sxm5-8": 1,
    "vcpu-2_memory-4g": 10,
}


class GenesisFake(CloudFake):
    def __init__(self, token: str = "gc-token") -> None:
        super().__init__()
        self.token = token
        self.stock: dict[str, int] = dict(TYPES)
        self.instances: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.boot_polls = 1
        self._ids = itertools.count(1)

    def _authorized(self, req: Request) -> bool:
        bearer = req.headers.get("authorization", "")
        return bearer == f"Bearer {self.token}" or req.headers.get("x-auth-token") == self.token

    def route(self, req: Request) -> Response:
        if not self._authorized(req):
            return _error(401, "unauthorized", "The provided token is invalid or expired.")
        parts = [p for p in req.path.split("/") if p]
        if parts[:2] != ["compute", "v1"]:
            return _error(404, "not_found", "unknown path")
        parts = parts[2:]
        if req.method == "GET" and len(parts) == 3 and parts[0] == "availability":
            return self._availability(parts[1])
        if req.method == "POST" and parts == ["instances"]:
            return self._create(req.json())
        if len(parts) == 2 and parts[0] == "instances":
            inst = self.instances.get(parts[1])
            if inst is None or inst["status"] == "deleted":
                return _error(404, "not_found", f"instance {parts[1]} not found")
            if req.method == "GET":
                return Response.json(200, {"instance": self._advance(inst)})
            if req.method == "DELETE":
                inst["status"] = "deleted"
                return Response(204)
        return _error(404, "not_found", f"no route {req.method} {req.path}")

    def _availability(self, region: str) -> Response:
        if region != REGION:
            return _error(400, "invalid_region", f"region {region} does not exist")
        types = [{"type": t, "available": n > 0, "count": n} for t, n in sorted(self.stock.items())]
        body = {"availability": {"type": "instances", "region": region, "instance_types": types}}
        return Response.json(200, body)

    def _create(self, body: dict[str, Any]) -> Response:
        missing = [k for k in ("name", "hostname", "type", "image", "region") if k not in body]
        if missing:
            return _error(400, "invalid_parameters", f"missing fields: {', '.join(missing)}")
        type_id = body["type"]
        if type_id not in self.stock:
            return _error(400, "invalid_parameters", f"unknown instance type {type_id}")
        if self.stock[type_id] <= 0:
            return _error(
                409, "capacity_error", f"Instance type {type_id} is not available in this region."
            )
        self.stock[type_id] -= 1
        iid = f"6ad7f3e4-0000-4000-8000-{next(self._ids):012d}"
        inst = {
            "id": iid,
            "name": body["name"],
            "hostname": body["hostname"],
            "type": type_id,
            "region": body["region"],
            "status": "enqueued",
            "image": {"id": body["image"], "name": body["image"]},
            "metadata": body.get("metadata", {}),
            "ssh_keys": [{"id": k, "name": k} for k in body.get("ssh_keys", [])],
            "public_ip": None,
            "private_ip": None,
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z",
        }
        self.instances[iid] = inst
        self.polls[iid] = 0
        return Response.json(201, {"instance": inst})

    def _advance(self, inst: dict[str, Any]) -> dict[str, Any]:
        """Each status read moves a booting instance one step toward ``active``."""
        if inst["status"] in ("enqueued", "creating"):
            self.polls[inst["id"]] += 1
            inst["status"] = "active" if self.polls[inst["id"]] > self.boot_polls else "creating"
        return inst


def _error(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"code": code, "message": message})
