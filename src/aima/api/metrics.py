"""Prometheus metrics: HTTP requests, jobs by state, chunk durations (read from the ledger)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import timedelta

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aima.compute.gpus import GpuCollector
from aima.core.clock import utcnow
from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.store.models import Job, JobChunk, WorkerHeartbeat


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


class OperationsCollector:
    """Figures the alert rules in ``deploy/prometheus/alerts.yml`` watch: live workers, the
    oldest claimable queued job, free space in the data dir, spend and budgets."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        since = now - timedelta(seconds=self.runtime.system.worker_stale_s)
        with self.runtime.db.session() as s:
            live = s.execute(
                select(WorkerHeartbeat.state, func.count())
                .where(WorkerHeartbeat.heartbeat_at >= since)
                .group_by(WorkerHeartbeat.state)
            ).all()
            oldest = s.execute(
                select(func.min(Job.not_before)).where(
                    Job.state == JobState.QUEUED.value, Job.not_before <= now
                )
            ).scalar_one()
            spent = s.execute(select(func.coalesce(func.sum(Job.cost_actual), 0.0))).scalar_one()
        workers = GaugeMetricFamily(
            "aima_workers_live", "workers with a fresh heartbeat", labels=["state"]
        )
        for state, n in live:
            workers.add_metric([str(state)], int(n))
        yield workers
        age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        yield GaugeMetricFamily(
            "aima_queue_oldest_seconds", "age of the oldest claimable queued job", value=age
        )
        try:
            disk = shutil.disk_usage(self.runtime.settings.data_dir)
        except OSError:  # data dir gone: /readyz reports it; no gauge rather than a wrong one
            pass
        else:
            yield GaugeMetricFamily(
                "aima_data_dir_free_bytes", "free space under AIMA_DATA_DIR", value=disk.free
            )
            yield GaugeMetricFamily(
                "aima_data_dir_size_bytes", "file system size of AIMA_DATA_DIR", value=disk.total
            )
        currency = self.runtime.settings.compute.currency
        total = GaugeMetricFamily(
            "aima_spend", "actual compute spend of all jobs", labels=["currency"]
        )
        total.add_metric([currency], float(spent or 0.0))
        yield total
        labels = ["budget", "scope", "subject", "period", "currency"]
        spend = GaugeMetricFamily(
            "aima_budget_spend", "spend in the budget's period", labels=labels
        )
        soft = GaugeMetricFamily("aima_budget_soft_limit", "budget warning limit", labels=labels)
        hard = GaugeMetricFamily("aima_budget_hard_limit", "budget hard stop", labels=labels)
        book = self.runtime.budgets.book
        for b in book.list():
            key = [b.id, b.scope, b.subject, b.period, b.currency]
            spend.add_metric(key, book.spend(b.scope, b.subject, b.period, now=now))
            soft.add_metric(key, b.soft_limit)
            hard.add_metric(key, b.hard_limit)
        yield from (spend, soft, hard)


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
    registry.register(OperationsCollector(runtime))
    registry.register(GpuCollector())  # per-GPU gauges from NVML; only aima_gpus 0 without one

    app.add_middleware(RequestMetrics, requests=requests, latency=latency)
    return registry


class RequestMetrics:
    """Counts requests and observes their latency by method and route template (a plain ASGI
    middleware: it wraps ``send`` only)."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped the app

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.requests.labels(method, path, str(status)).inc()
            self.latency.labels(method, path).observe(time.perf_counter() - started)
