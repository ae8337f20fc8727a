"""Health, readiness, storage verification and the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from aima.core.clock import utcnow
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import AnalysisResult, AuditEvent, Media, WorkerHeartbeat


@dataclass(frozen=True, slots=True)
class StorageProblem:
    sha256: str
    problem: str  # "missing" | "corrupt" | "orphan"
    media_ids: tuple[str, ...] = ()


class SystemService:
    def __init__(self, db: Database, blobs: BlobStore, *, worker_stale_s: float) -> None:
        self.db = db
        self.blobs = blobs
        self.worker_stale_s = worker_stale_s

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
        ready = all(c.get("ok") for c in checks.values()) and "workers" in checks
        return {"ready": ready, "checks": checks}

    def verify_storage(self, hook: ProgressHook = no_progress) -> list[StorageProblem]:
        """Every blob referenced by media must exist and match its sha256."""
        with self.db.session() as s:
            rows = s.execute(select(Media.sha256, Media.id)).all()
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
        principal.require(Permission.AUDIT_READ)
        with self.db.session() as s:
            return audit.verify_chain(s)


def _shas(data: object) -> Iterator[str]:
    if isinstance(data, dict):
        for v in data.values():
            yield from _shas(v)
    elif isinstance(data, list):
        for v in data:
            yield from _shas(v)
    elif isinstance(data, str) and len(data) == 64 and all(c in "0123456789abcdef" for c in data):
        yield data
