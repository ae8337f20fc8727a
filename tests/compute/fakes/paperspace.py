"""Paperspace's v1 REST API (``/v1``) on 127.0.0.1.

Bearer auth; ``GET /machine-availability?machineType=&region=`` →
``{"available": bool}``; ``POST /startup-scripts``; ``POST /machines`` →
``{"data": machine}``; ``GET /machines/{id}`` → machine with ``state``;
``DELETE /machines/{id}``. Errors are ``{"code", "message"}``.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.compute.fakes._cloud import CloudFake, Request, Response
from tests.compute.fakes._gpu import Marketplace


class PaperspaceFake(CloudFake):
    def __init__(self, api_key: str = "ps-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        # (machineType, region) with capacity now
        self.available: set[tuple[str, str]] = {
            ("A4000", "ny2"),
            ("A6000", "ny2"),
            ("A100-80G", "ams1"),
        }
        self.scripts: dict[str, dict[str, Any]] = {}
        self.market = Marketplace()
        self._script_ids = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    def route(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response.json(401, {"code": "UNAUTHORIZED", "message": "Invalid API key"})
        path = req.path.removeprefix("/v1")
        if req.method == "GET" and path == "/machine-availability":
            ok = (req.q("machineType"), req.q("region")) in self.available
            return Response.json(200, {"available": ok})
        if req.method == "POST" and path == "/startup-scripts":
            sid = f"sc{next(self._script_ids)}"
            self.scripts[sid] = req.json()
            return Response.json(200, {"id": sid, **req.json()})
        if req.method == "POST" and path == "/machines":
            return self._create(req.json())
        if path.startswith("/machines/"):
            mid = path.removeprefix("/machines/")
            m = self.market.machines.get(mid)
            if m is None or m.state == "terminated":
                return Response.json(
                    404, {"code": "NOT_FOUND", "message": f"machine {mid} not found"}
                )
            if req.method == "DELETE":
                m.state = "terminated"
                return Response.json(200, {"data": self._machine(m, poll=False)})
            return Response.json(200, self._machine(m, poll=True))
        return Response.json(404, {"code": "NOT_FOUND", "message": "not found"})

    def _create(self, body: dict[str, Any]) -> Response:
        for field in ("name", "machineType", "templateId", "region", "diskSize"):
            if field not in body:
                return Response.json(
                    400, {"code": "BAD_REQUEST", "message": f"{field} is required"}
                )
        key = (body["machineType"], body["region"])
        if key not in self.available or f"{key[0]}|{key[1]}" in self.market.no_capacity:
            return Response.json(
                400,
                {"code": "BAD_REQUEST", "message": "Out of capacity for the selected machine type"},
            )
        m = self.market.start(f"{key[0]}|{key[1]}", 0.0, False, body)
        return Response.json(200, {"data": self._machine(m, poll=False)})

    def _machine(self, m: Any, *, poll: bool) -> dict[str, Any]:
        state = m.poll() if poll else m.state
        ps = {"pending": "provisioning", "booting": "starting", "running": "ready"}.get(
            state, "off"
        )
        return {
            "id": f"{m.id}",
            "name": m.launch.get("name"),
            "state": ps,
            "machineType": m.launch.get("machineType"),
            "region": m.launch.get("region"),
            "startupScriptId": m.launch.get("startupScriptId"),
        }
