"""Every numeric query parameter is bounded, so no number can reach the database as an overflow.

``offset=9223372036854775808`` once produced a 500 (OverflowError in the driver). The
OpenAPI document is the contract: each integer/number query parameter must declare a maximum
(and a minimum), and the server must answer 422 for values past it on every such route.
"""

from __future__ import annotations

from typing import Any

from aima.api.app import create_app
from tests.api.helpers import Api

HUGE = "9223372036854775808"


def _numeric_query_params(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", []):
                if param.get("in") != "query":
                    continue
                schema = param.get("schema", {})
                types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
                if types & {"integer", "number"}:
                    out.append((method.upper(), path, param["name"]))
    return out


def _bounds(spec: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    for param in spec["paths"][path][method.lower()]["parameters"]:
        if param["name"] == name:
            schema: dict[str, Any] = param["schema"]
            for alt in schema.get("anyOf", []):
                if alt.get("type") in ("integer", "number"):
                    return alt
            return schema
    raise AssertionError(name)


def test_every_numeric_query_parameter_declares_bounds(api: Api) -> None:
    spec = create_app(api.runtime, start_workers=False).openapi()
    params = _numeric_query_params(spec)
    assert len(params) >= 5
    unbounded = [
        f"{m} {p} ?{n}"
        for m, p, n in params
        if "maximum" not in (b := _bounds(spec, p, m, n)) and "exclusiveMaximum" not in b
    ]
    assert unbounded == []


def test_huge_offsets_are_refused_with_422_not_500(api: Api) -> None:
    admin = api.user("admin")
    for path in (
        "/api/v1/media",
        "/api/v1/jobs",
        "/api/v1/audit",
        "/api/v1/persons",
        "/api/v1/review",
    ):
        r = api.client.get(path, params={"offset": HUGE}, headers=admin.headers)
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
