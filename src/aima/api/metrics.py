"""Prometheus metrics: HTTP requests, jobs by state, chunk durations (read from the ledger)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from sqlalchemy import func, select

from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.store.models import JobChunk


class LedgerCollector:
    """Reads job and chunk figures from the database at scrape time (covers remote workers too)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        counts = self.runtime.ledger.counts_by_state()
        jobs = GaugeMetricFamily("aima_jobs", "jobs by state", labels=["state"])
        for state in JobState:
            jobs.add_metric([state.value], counts.get(state.value, 0))
        yield jobs
        chunks = SummaryMetricFamily(
            "aima_chunk_duration_seconds", "committed chunk durations", labels=["analyzer"]
        )
        with self.runtime.db.session() as s:
            rows = s.execute(
                select(
                    JobChunk.analyzer,
                    func.count(),
                    func.coalesce(func.sum(JobChunk.duration_s), 0.0),
                )
                .where(JobChunk.status == "done")
                .group_by(JobChunk.analyzer)
            ).all()
        for analyzer, count, total in rows:
            chunks.add_metric([analyzer], count_value=int(count), sum_value=float(total or 0.0))
        yield chunks


def install_metrics(app: FastAPI, runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter(
        "aima_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "aima_http_request_duration_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=registry,
    )
    registry.register(LedgerCollector(runtime))

    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        requests.labels(request.method, path, str(response.status_code)).inc()
        latency.labels(request.method, path).observe(time.perf_counter() - started)
        return response

    return registry
