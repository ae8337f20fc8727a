"""OpenTelemetry traces: one span per API request, per job run and per analysed chunk.

Off unless ``AIMA_TRACING__OTLP_ENDPOINT`` is set: then spans are batched to that
collector over OTLP/HTTP (protobuf, ``<endpoint>/v1/traces``) — Jaeger, Tempo or an
OpenTelemetry Collector all accept it. When off, :func:`span` is a no-op context manager
and nothing from the SDK is imported.

The provider is owned here rather than installed as OpenTelemetry's global one, so a test
(or a second runtime in one process) can configure and shut it down again; the W3C
``traceparent`` header of an incoming request is honoured, so AIMA's spans join the caller's
trace. Span attributes carry ids only (job, media, analyzer, route template) — never query
strings, file names or anything a user typed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.propagate import extract

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from aima.core.settings import TracingSettings

log = logging.getLogger(__name__)

_lock = threading.Lock()
_provider: TracerProvider | None = None
_NOOP = trace.NoOpTracer()

AttrValue = str | int | float | bool


def configure_tracing(settings: TracingSettings) -> bool:
    """Start exporting spans when an endpoint is configured; returns whether tracing is on.

    Idempotent for the same process: a second call replaces the previous provider (after
    flushing it), so the runtime can be rebuilt with other settings.
    """
    global _provider
    shutdown_tracing()
    if not settings.otlp_endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    with _lock:
        _provider = provider
    log.info("tracing on", extra={"otlp_endpoint": endpoint})
    return True


def shutdown_tracing() -> None:
    """Flush and stop the exporter (at exit, or before configuring again)."""
    global _provider
    with _lock:
        provider, _provider = _provider, None
    if provider is not None:
        provider.shutdown()


def flush_tracing(timeout_s: float = 10.0) -> bool:
    """Send every finished span now (tests, and before a worker exits)."""
    provider = _provider
    return True if provider is None else provider.force_flush(int(timeout_s * 1000))


def tracing_enabled() -> bool:
    return _provider is not None


def _tracer() -> trace.Tracer:
    provider = _provider
    return _NOOP if provider is None else provider.get_tracer("aima")


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, AttrValue | None] | None = None,
    *,
    carrier: Mapping[str, str] | None = None,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
) -> Iterator[trace.Span]:
    """A span around the block; exceptions are recorded and the status set to error.

    ``carrier``: incoming headers whose ``traceparent`` makes this span a child of the
    caller's. ``None`` attribute values are left out.
    """
    tracer = _tracer()
    context = extract(dict(carrier)) if carrier is not None and tracer is not _NOOP else None
    attrs: dict[str, Any] = {k: v for k, v in (attributes or {}).items() if v is not None}
    with tracer.start_as_current_span(name, context=context, kind=kind, attributes=attrs) as s:
        yield s
