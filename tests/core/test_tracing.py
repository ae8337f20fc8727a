"""Traces reach a real OTLP/HTTP receiver: API request spans and job/chunk spans, linked.

The receiver is a plain HTTP server on 127.0.0.1 that decodes what the exporter POSTs with
the OTLP protobuf messages (``opentelemetry-proto``), as a collector would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from aima.api.app import create_app
from aima.core.tracing import flush_tracing, shutdown_tracing, span, tracing_enabled
from aima.runtime import build_runtime
from tests.api.helpers import Api, TestClient
from tests.conftest import make_settings
from tests.mediagen import synth


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            self.server.paths.append(self.path)
            for resource_spans in request.resource_spans:
                service = {
                    a.key: a.value.string_value for a in resource_spans.resource.attributes
                }.get("service.name")
                for scope in resource_spans.scope_spans:
                    for s in scope.spans:
                        self.server.spans.append(
                            {
                                "name": s.name,
                                "trace": s.trace_id.hex(),
                                "id": s.span_id.hex(),
                                "parent": s.parent_span_id.hex(),
                                "service": service,
                                "attrs": {a.key: _value(a.value) for a in s.attributes},
                            }
                        )
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *_args: Any) -> None:
        pass


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        shutdown_tracing()


def test_requests_and_job_chunks_are_traced(receiver: _Receiver, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        tracing={"otlp_endpoint": receiver.url, "service_name": "aima-test"},
    )
    rt = build_runtime(settings)
    try:
        assert tracing_enabled()
        with TestClient(create_app(rt, start_workers=False)) as client:
            api = Api(rt, client)
            admin = api.user("admin")
            video = synth.make_video(tmp_path / "clip.mp4", seconds=5)
            r = api.upload(admin, [("clip.mp4", video.read_bytes())])
            assert r.status_code in (200, 201), r.text
            parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
            listing = client.get("/api/v1/media", headers={**admin.headers, "traceparent": parent})
            assert listing.status_code == 200
            assert api.run_jobs() >= 1
        assert flush_tracing()
    finally:
        rt.close()

    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    spans = receiver.spans
    assert {s["service"] for s in spans} == {"aima-test"}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_name.setdefault(s["name"], []).append(s)

    # the listing joined the caller's trace, named by the route template
    (listed,) = by_name["GET /api/v1/media"]
    assert listed["trace"] == "ab" * 16 and listed["parent"] == "cd" * 8
    assert listed["attrs"]["http.response.status_code"] == 200
    assert "POST /api/v1/media" in by_name

    # one job span; every chunk span is its child, with ids but no file names
    (job,) = by_name["job.run"]
    chunks = by_name["job.chunk"]
    assert chunks and all(c["parent"] == job["id"] and c["trace"] == job["trace"] for c in chunks)
    assert {c["attrs"]["aima.analyzer"] for c in chunks} == {"thumbnails"}
    assert job["attrs"]["aima.job_state"] == "succeeded"
    assert not any("clip.mp4" in str(s["attrs"]) for s in spans)


def test_without_an_endpoint_nothing_is_traced(tmp_path: Path) -> None:
    rt = build_runtime(make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'aima.db'}"))
    try:
        assert not tracing_enabled()
        with span("anything", {"a": 1}) as s:
            assert not s.is_recording()
    finally:
        rt.close()
