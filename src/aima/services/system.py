"""Health, readiness, storage verification and the audit trail."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from aima.analyzers.registry import AnalyzerRegistry
from aima.core.clock import utcnow
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.inference.text_embed import MINILM_SPEC
from aima.security import audit
from aima.security.audit_anchor import AuditTrail
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import AnalysisResult, AuditEvent, Job, Media, WorkerHeartbeat

RECENT_FAILURES = 10


@dataclass(frozen=True, slots=True)
class StorageProblem:
    sha256: str
    problem: str  # "missing" | "corrupt" | "orphan"
    media_ids: tuple[str, ...] = ()


class SystemService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        *,
        worker_stale_s: float,
        audit_trail: AuditTrail,
        data_dir: Path | None = None,
        min_free_bytes: int = 0,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.worker_stale_s = worker_stale_s
        self.audit_trail = audit_trail
        self.data_dir = data_dir
        self.min_free_bytes = min_free_bytes

    def readiness(self, *, expect_worker: bool) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            self.db.ping()
            checks["database"] = {"ok": True, "dialect": self.db.dialect}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; reported, not hidden
            checks["database"] = {"ok": False, "error": str(exc)[:300]}
        try:
            self.blobs.ping()
            checks["blob_store"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001
            checks["blob_store"] = {"ok": False, "error": str(exc)[:300]}
        if checks["database"]["ok"]:
            since = utcnow() - timedelta(seconds=self.worker_stale_s)
            with self.db.session() as s:
                live = s.execute(
                    select(func.count())
                    .select_from(WorkerHeartbeat)
                    .where(WorkerHeartbeat.heartbeat_at >= since)
                ).scalar_one()
            checks["workers"] = {"ok": bool(live) or not expect_worker, "live": int(live)}
        if self.data_dir is not None:
            free = shutil.disk_usage(self.data_dir).free
            checks["disk"] = {
                "ok": free >= self.min_free_bytes,
                "free_bytes": free,
                "min_free_bytes": self.min_free_bytes,
            }
        ready = all(c.get("ok") for c in checks.values()) and "workers" in checks
        return {"ready": ready, "checks": checks}

    def dashboard(self, principal: Principal, registry: AnalyzerRegistry) -> dict[str, Any]:
        """Everything an operator's overview shows, in one call (a fixed number of queries)."""
        principal.require(Permission.SYSTEM_READ)
        now = utcnow()
        stale_before = now - timedelta(seconds=self.worker_stale_s)
        with self.db.session() as s:
            by_state = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
            running = s.execute(
                select(Job, Media.original_name)
                .join(Media, Media.id == Job.media_id)
                .where(Job.state == "running")
                .order_by(Job.started_at)
            ).all()
            failures = s.execute(
                select(Job, Media.original_name)
                .join(Media, Media.id == Job.media_id)
                .where(Job.state.in_(("failed", "partial")))
                .order_by(Job.finished_at.desc().nulls_last(), Job.id.desc())
                .limit(RECENT_FAILURES)
            ).all()
            workers = list(
                s.execute(select(WorkerHeartbeat).order_by(WorkerHeartbeat.id)).scalars()
            )
            media_count, media_bytes = s.execute(
                select(func.count(), func.coalesce(func.sum(Media.size), 0))
            ).one()
        return {
            "jobs": {"by_state": {k: int(v) for k, v in by_state.items()}},
            "running": [
                {
                    "id": job.id,
                    "media_id": job.media_id,
                    "media_name": name,
                    "analyzers": list(job.analyzers),
                    "progress": job.progress,
                    "stage": job.progress_message,
                    "started_at": job.started_at,
                    "eta_s": _eta(job, now),
                    "worker": job.lease_owner,
                }
                for job, name in running
            ],
            "recent_failures": [
                {
                    "id": job.id,
                    "media_id": job.media_id,
                    "media_name": name,
                    "state": job.state,
                    "finished_at": job.finished_at,
                    "error": job.error,
                    "analyzers": {
                        a: o.get("reason", "")
                        for a, o in job.outcome.items()
                        if isinstance(o, dict) and o.get("status") == "failed"
                    },
                }
                for job, name in failures
            ],
            "workers": [
                {
                    "id": w.id,
                    "hostname": w.hostname,
                    "pid": w.pid,
                    "state": w.state,
                    "current_job": w.current_job,
                    "started_at": w.started_at,
                    "heartbeat_at": w.heartbeat_at,
                    "alive": w.heartbeat_at >= stale_before,
                }
                for w in workers
            ],
            "storage": {"media": int(media_count), "media_bytes": int(media_bytes)},
            "models": model_status(registry),
        }

    def verify_storage(self, hook: ProgressHook = no_progress) -> list[StorageProblem]:
        """Every blob referenced by media must exist and match its sha256."""
        with self.db.session() as s:
            # originals a retention rule deleted are gone on purpose, not missing
            rows = s.execute(
                select(Media.sha256, Media.id).where(Media.raw_deleted_at.is_(None))
            ).all()
        by_sha: dict[str, list[str]] = {}
        for sha, media_id in rows:
            by_sha.setdefault(sha, []).append(media_id)
        problems: list[StorageProblem] = []
        for i, (sha, ids) in enumerate(sorted(by_sha.items())):
            if not self.blobs.exists(sha):
                problems.append(StorageProblem(sha, "missing", tuple(ids)))
            elif not self.blobs.verify(sha):
                problems.append(StorageProblem(sha, "corrupt", tuple(ids)))
            hook(Progress("verify", i + 1, len(by_sha), sha[:12]))
        return problems

    def referenced_artifacts(self) -> Iterator[str]:
        with self.db.session() as s:
            for (data,) in s.execute(select(AnalysisResult.data)):
                yield from _shas(data)

    def audit_events(
        self, principal: Principal, *, limit: int = 100, offset: int = 0, action: str | None = None
    ) -> list[AuditEvent]:
        principal.require(Permission.AUDIT_READ)
        query = select(AuditEvent)
        if action:
            query = query.where(AuditEvent.action == action)
        with self.db.session() as s:
            return list(
                s.execute(
                    query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
                ).scalars()
            )

    def verify_audit(self, principal: Principal) -> audit.ChainReport:
        """The chain checked row by row with the key, and against every signed anchor."""
        principal.require(Permission.AUDIT_READ)
        return self.audit_trail.verify()

    def anchor_audit(self, principal: Principal) -> dict[str, Any] | None:
        """Export the signed chain head outside the database (``aima audit anchor``)."""
        principal.require(Permission.AUDIT_ANCHOR)
        return self.audit_trail.anchor()

    def anchor_audit_if_due(self, interval_s: float) -> dict[str, Any] | None:
        return self.audit_trail.anchor_if_due(interval_s)

    @property
    def anchor_location(self) -> str:
        return self.audit_trail.sink.location


def _eta(job: Job, now: datetime) -> float | None:
    """Seconds left, extrapolated from the progress so far; None until there is some."""
    if job.started_at is None or not 0.0 < job.progress < 1.0:
        return None
    elapsed = (now - job.started_at).total_seconds()
    return round(max(0.0, elapsed * (1.0 - job.progress) / job.progress), 1)


# Models used outside analyzers, listed under the feature that loads them.
PLATFORM_MODELS = (("search", MINILM_SPEC),)


def model_status(registry: AnalyzerRegistry) -> list[dict[str, Any]]:
    """Every model the installed analyzers declare and whether it is there (``aima models``)."""
    rows: list[dict[str, Any]] = []
    declared = [(n, spec) for n in registry.names() for spec in registry.classes[n].model_specs]
    for name, spec in [*declared, *PLATFORM_MODELS]:
        state = registry.models.state(spec)
        rows.append(
            {
                "analyzer": name,
                "model": spec.name,
                "required": not spec.optional,
                "status": state.status.value,
                "location": str(state.location) if state.location else f"package {spec.package}",
                "sha256": spec.sha256 or "",
                "version": spec.version,
                "licence": spec.licence,
                "how_to_get": spec.how_to_get,
                "detail": state.detail,
            }
        )
    return rows


def _shas(data: object) -> Iterator[str]:
    if isinstance(data, dict):
        for v in data.values():
            yield from _shas(v)
    elif isinstance(data, list):
        for v in data:
            yield from _shas(v)
    elif isinstance(data, str) and len(data) == 64 and all(c in "0123456789abcdef" for c in data):
        yield data
