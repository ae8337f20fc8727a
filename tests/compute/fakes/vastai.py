"""Vast.ai's REST API (``/api/v0``) on 127.0.0.1.

Paths, Bearer auth and shapes follow Vast's API reference: ``POST /bundles/``
takes the JSON filter (``{"gpu_ram": {"gte": MB}, "order": [...]}``) and answers
``{"offers": [...]}`` with ``gpu_ram`` in MB; ``PUT /asks/{id}/`` rents
(``{"success": true, "new_contract": id}``, or 400 ``{"success": false,
"error": "no_such_ask", "msg": ...}`` when the machine went); ``GET
/instances/{id}/`` answers ``{"instances": {...}}``; ``DELETE /instances/{id}/``.
"""

from __future__ import annotations

from typing import Any

from tests.compute.fakes._cloud import CloudFake, Request, Response
from tests.compute.fakes._gpu import Marketplace

DEFAULT_OFFERS: list[dict[str, Any]] = [
    {
        "id": 5501,
        "gpu_name": "RTX 4090",
        "num_gpus": 1,
        "gpu_ram": 24564,
        "dph_total": 0.42,
        "min_bid": 0.25,
        "reliability2": 0.991,
        "geolocation": "Texas, US",
        "rentable": True,
        "rented": False,
    },
    {
        "id": 5502,
        "gpu_name": "RTX 3090",
        "num_gpus": 1,
        "gpu_ram": 24576,
        "dph_total": 0.22,
        "min_bid": 0.12,
        "reliability2": 0.87,
        "geolocation": "Ontario, CA",
        "rentable": True,
        "rented": False,
    },
    {
        "id": 5503,
        "gpu_name": "A100 SXM4",
        "num_gpus": 1,
        "gpu_ram": 81920,
        "dph_total": 1.35,
        "min_bid": 0.80,
        "reliability2": 0.998,
        "geolocation": "Norway, NO",
        "rentable": True,
        "rented": False,
    },
]

_OPS = {"eq": lambda a, b: a == b, "gte": lambda a, b: a >= b, "lte": lambda a, b: a <= b}


class VastAiFake(CloudFake):
    def __init__(self, api_key: str = "vast-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.offers = [dict(o) for o in DEFAULT_OFFERS]
        self.market = Marketplace()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v0"

    def route(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response.json(401, {"success": False, "error": "auth_error", "msg": "bad key"})
        parts = [p for p in req.path.split("/") if p]
        if parts[:2] != ["api", "v0"] or not req.path.endswith("/"):
            return Response.json(404, {"detail": "Not Found"})
        parts = parts[2:]
        if req.method == "POST" and parts == ["bundles"]:
            return Response.json(200, {"offers": self._search(req.json())})
        if req.method == "PUT" and len(parts) == 2 and parts[0] == "asks":
            return self._rent(int(parts[1]), req.json())
        if len(parts) == 2 and parts[0] == "instances":
            m = self.market.machines.get(parts[1])
            if req.method == "DELETE":
                if m is None or m.state == "terminated":
                    return Response.json(404, {"success": False, "error": "no_such_instance"})
                m.state = "terminated"
                return Response.json(200, {"success": True})
            if req.method == "GET":
                if m is None or m.state == "terminated":
                    return Response.json(200, {"instances": None})
                return Response.json(200, {"instances": self._instance(m)})
        return Response.json(404, {"detail": "Not Found"})

    def _search(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for o in self.offers:
            ok = True
            for key, cond in query.items():
                if key in ("order", "type", "limit") or not isinstance(cond, dict):
                    continue
                for op, value in cond.items():
                    if key in o and not _OPS[op](o[key], value):
                        ok = False
            if ok:
                out.append(o)
        for field, direction in reversed(query.get("order") or []):
            out.sort(key=lambda o, f=field: o[f], reverse=direction == "desc")
        return out[: int(query.get("limit") or 64)]

    def _rent(self, ask_id: int, body: dict[str, Any]) -> Response:
        offer = next((o for o in self.offers if o["id"] == ask_id), None)
        spot = "price" in body
        key = f"{ask_id}|{'spot' if spot else 'ondemand'}"
        if offer is None or offer["rented"] or key in self.market.no_capacity:
            return Response.json(
                400,
                {
                    "success": False,
                    "error": "no_such_ask",
                    "msg": f"Instance {ask_id} not available",
                },
            )
        if not body.get("image"):
            return Response.json(400, {"success": False, "error": "invalid_args", "msg": "image"})
        price = float(body["price"]) if spot else float(offer["dph_total"])
        m = self.market.start(key, price, spot, body)
        return Response.json(200, {"success": True, "new_contract": int(m.id)})

    def _instance(self, m: Any) -> dict[str, Any]:
        state = m.poll()
        actual = {"pending": None, "booting": "loading", "running": "running"}.get(state, "exited")
        return {
            "id": int(m.id),
            "actual_status": actual,
            "intended_status": "running",
            "cur_state": "running" if actual != "exited" else "stopped",
            "is_bid": m.spot,
            "dph_total": m.price,
            "image_uuid": m.launch.get("image"),
            "label": m.launch.get("label"),
            "status_msg": "outbid by a higher bid" if state == "preempted" else "",
        }
