"""Security headers on every answer; CORS off unless origins are configured; /metrics access."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from aima.api.app import create_app
from aima.runtime import Runtime
from tests.api.helpers import Api


def test_every_answer_carries_the_security_headers(api: Api) -> None:
    for path in ("/healthz", "/api/v1/media", "/openapi.json", "/"):
        h = api.client.get(path).headers
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["X-Frame-Options"] == "DENY"
        assert h["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in h  # plain HTTP: never pin it
    docs = api.client.get("/docs").headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in docs  # Swagger UI's inline start-up script


def test_cors_is_off_by_default(api: Api) -> None:
    r = api.client.options(
        "/api/v1/media",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = api.client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_configured_origins_and_hsts_behind_a_tls_proxy(
    make_runtime: Callable[..., Runtime],
) -> None:
    rt = make_runtime(api={"cors_origins": ["https://app.example"], "trust_forwarded_proto": True})
    with TestClient(create_app(rt, start_workers=False)) as client:
        ok = client.get("/healthz", headers={"Origin": "https://app.example"})
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        tls = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert tls.headers["Strict-Transport-Security"].startswith("max-age=")


def test_metrics_can_require_a_token(make_runtime: Callable[..., Runtime]) -> None:
    rt = make_runtime(api={"metrics_public": False})
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=api.user("viewer").headers).status_code == 403
        r = client.get("/metrics", headers=api.user("admin").headers)
        assert r.status_code == 200 and "aima_http_requests" in r.text


def test_metrics_are_public_by_default(api: Api) -> None:
    assert api.client.get("/metrics").status_code == 200
