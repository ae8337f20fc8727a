"""The OpenAPI document describes every error an operation can answer, with one error body.

Error statuses are declared centrally (``aima.api.docs.install_error_responses``) from each
route's access rule, parameters and body, so a new route is covered without declaring
anything. These checks keep that true: every non-public operation declares 401 and 403,
every operation with parameters or a body declares 422, every operation with a path
parameter declares 404, and every declared 4xx/5xx carries the shared ``ErrorOut`` body.
"""

from __future__ import annotations

from typing import Any

import pytest

from aima.api.app import create_app
from aima.runtime import Runtime
from tests.api.helpers import PUBLIC_ALLOW_LIST, TestClient

ERROR_REF = "#/components/schemas/ErrorOut"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# (method, path, status) → why its body is not (only) the error body
OWN_BODIES: dict[tuple[str, str, str], str] = {
    ("get", "/readyz", "503"): "the readiness report says which check failed",
}


@pytest.fixture
def spec(sqlite_runtime: Runtime) -> dict[str, Any]:
    document: dict[str, Any] = create_app(sqlite_runtime, start_workers=False).openapi()
    return document


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _uses_error_body(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    if schema.get("$ref") == ERROR_REF:
        return True
    return any(alt.get("$ref") == ERROR_REF for alt in schema.get("anyOf", []))


def test_every_operation_declares_its_error_statuses(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert len(operations) >= 50
    public = {(m.lower(), p) for m, p in PUBLIC_ALLOW_LIST}
    missing: list[str] = []
    for method, path, op in operations:
        declared = set(op["responses"])
        params = op.get("parameters", [])
        wanted: set[str] = set()
        if (method, path) not in public:
            wanted |= {"401", "403"}
        if params or op.get("requestBody"):
            wanted.add("422")
        if any(p["in"] == "path" for p in params):
            wanted.add("404")
        if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
            wanted.add("413")
        if wanted - declared:
            missing.append(f"{method.upper()} {path}: {sorted(wanted - declared)}")
    assert missing == []


def test_every_declared_error_uses_the_shared_error_body(spec: dict[str, Any]) -> None:
    wrong = [
        f"{method.upper()} {path} {status}"
        for method, path, op in _operations(spec)
        for status, response in op["responses"].items()
        if status[0] in "45"
        and (method, path, status) not in OWN_BODIES
        and not _uses_error_body(response)
    ]
    assert wrong == []
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's, never sent
    error = spec["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["error"]


def test_a_validation_error_has_the_declared_body(sqlite_runtime: Runtime) -> None:
    with TestClient(create_app(sqlite_runtime, start_workers=False)) as client:
        r = client.post("/api/v1/auth/login", json={"username": ""})
    assert r.status_code == 422
    body = r.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "invalid_request"
    assert {"code", "message"} <= set(body["error"])


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/api/v1/dashboard", "GET"),
        ("PUT", "/api/v1/media/m1", "DELETE, GET"),
        ("DELETE", "/healthz", "GET"),
        ("PATCH", "/api/v1/media", "GET, POST"),
    ],
)
def test_an_undeclared_method_is_405_with_allow_and_the_error_body(
    sqlite_runtime: Runtime, method: str, path: str, allow: str
) -> None:
    with TestClient(create_app(sqlite_runtime, start_workers=False)) as client:
        r = client.request(method, path)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_an_unknown_api_path_is_still_404(sqlite_runtime: Runtime) -> None:
    with TestClient(create_app(sqlite_runtime, start_workers=False)) as client:
        r = client.post("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert "allow" not in r.headers
    assert r.json()["error"]["code"] == "not_found"
