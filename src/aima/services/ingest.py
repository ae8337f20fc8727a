"""Ingest: validate untrusted files, store blobs by content, record media, queue analysis.

A file is inspected before anything is stored. The blob is written first
(atomic, content-addressed) and the media row, the uploader's grant, the audit
event and the analysis job commit together; if that transaction fails, a blob
nobody references is removed again, so a failed file leaves nothing behind.
"""

from __future__ import annotations

import logging
import stat
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aima.analyzers.registry import AnalyzerRegistry
from aima.compute.estimate import Estimate
from aima.core.clock import utcnow
from aima.core.errors import AimaError, MediaRejected, PayloadTooLarge
from aima.core.ids import new_id
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.core.settings import MediaLimits
from aima.jobs.ledger import Ledger
from aima.jobs.states import JobState
from aima.media.decode_budget import DecodeBudget
from aima.media.inspect import inspect_media
from aima.media.types import MediaInfo
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import VIA_DUPLICATE, VIA_UPLOAD, Principal
from aima.services.quotas import consume, consume_job
from aima.services.retention import DEFAULT_LIBRARY, check_library
from aima.store.blobs import BlobRef, BlobStore, sha256_file
from aima.store.db import Database
from aima.store.models import Job, Media, MediaGrant

log = logging.getLogger(__name__)

Status = Literal["created", "duplicate", "rejected"]


class CostGate(Protocol):
    """``JobService.estimate_new``: the estimate of a job for new media, and a refusal reason
    when a hard budget would be exceeded."""

    def __call__(
        self, principal: Principal, info: MediaInfo, analyzers: Sequence[str], *, job_id: str
    ) -> tuple[Estimate, str | None]: ...


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    name: str
    status: Status
    media_id: str | None = None
    job_id: str | None = None
    kind: str | None = None
    sha256: str | None = None
    size: int | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "media_id": self.media_id,
            "job_id": self.job_id,
            "kind": self.kind,
            "sha256": self.sha256,
            "size": self.size,
            "error": self.error,
        }


def display_name(raw: str) -> str:
    """The user's file name as data: last path component, no control characters, bounded."""
    name = PurePosixPath(raw.replace("\\", "/")).name or "unnamed"
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    return name[:255] or "unnamed"


class IngestService:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        limits: MediaLimits,
        ledger: Ledger,
        registry: AnalyzerRegistry,
        default_analyzers: Sequence[str],
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.limits = limits
        self.ledger = ledger
        self.registry = registry
        self.default_analyzers = list(default_analyzers)
        # one per process: every concurrent upload's image decode draws from it
        self.decode_budget = DecodeBudget(limits.decode_memory_bytes)
        # the cost gate (JobService.estimate_new, wired by the composition root): jobs queued
        # at upload wait for confirmation or are refused exactly like submitted ones
        self.gate: CostGate | None = None

    def ingest_file(
        self,
        path: Path,
        principal: Principal,
        *,
        original_name: str | None = None,
        analyze: bool = True,
        analyzers: Sequence[str] | None = None,
        priority: int = 0,
        library: str = DEFAULT_LIBRARY,
        reservation: str | None = None,
    ) -> IngestOutcome:
        """Validate and store one file. ``reservation``: the upload quota held for it
        (:meth:`QuotaService.reserve_upload`), converted in the transaction that records the
        upload; the caller releases it whatever happens."""
        principal.require(Permission.MEDIA_UPLOAD)
        check_library(library)  # the retention rules of that library apply (services/retention)
        name = display_name(original_name or path.name)
        planned = (
            self.registry.resolve(list(analyzers or self.default_analyzers)) if analyze else []
        )
        try:
            try:
                st = path.stat()
            except OSError as exc:
                raise MediaRejected(f"{name}: cannot be read ({exc.strerror})") from exc
            if not stat.S_ISREG(st.st_mode):  # /dev/zero, a FIFO or a socket would never end
                raise MediaRejected(
                    f"{name}: not a regular file ({_file_type(st.st_mode)}); "
                    "only files can be ingested"
                )
            size = st.st_size
            if size > self.limits.max_bytes:  # before hashing, so a huge file costs nothing
                raise PayloadTooLarge(
                    f"{name}: {size} bytes is over the limit of {self.limits.max_bytes} bytes "
                    "(AIMA_LIMITS__MAX_BYTES)"
                )
            sha, _ = sha256_file(path)
            existing = self._existing(self.blobs.content_key(sha))  # keyed when encrypted
            if existing is not None:
                return self._duplicate(existing, principal, name, reservation)
            info = inspect_media(path, self.limits, display_name=name, budget=self.decode_budget)
        except AimaError as exc:
            self._audit_rejection(principal, name, exc)
            return IngestOutcome(name, "rejected", error=exc.to_dict())

        job_state, estimate, refusal = JobState.QUEUED, {}, None
        new_job = new_id("job")  # the gate's quota reservation names the job beforehand
        if planned and self.gate is not None:
            verdict, refusal = self.gate(principal, info, planned, job_id=new_job)
            estimate = verdict.to_dict()
            if refusal is not None:
                planned = []  # stored, not analysed: the budget would be exceeded
            elif verdict.confirmation_required:
                job_state = JobState.AWAITING_CONFIRMATION
        job_id = new_job if planned else None
        try:
            ref = self.blobs.put_file(path)
        except BaseException:
            self._release_job(job_id)
            raise
        media_id = new_id("med")
        try:
            with self.db.session() as s:
                consume(s, reservation)  # the upload counts as stored from this commit on
                consume_job(s, job_id)  # and so does its job
                s.add(
                    Media(
                        id=media_id,
                        sha256=ref.sha256,
                        size=ref.size,
                        kind=info.kind.value,
                        format=info.format,
                        mime=info.mime,
                        original_name=name,
                        info=info.to_dict(),
                        uploaded_by=principal.user_id,
                        created_at=utcnow(),
                        library=library,
                    )
                )
                s.flush()
                if principal.user_id:
                    s.add(
                        MediaGrant(
                            media_id=media_id,
                            user_id=principal.user_id,
                            display_name=name,
                            via=VIA_UPLOAD,
                        )
                    )
                if planned:
                    now = utcnow()
                    s.add(
                        Job(
                            id=job_id,
                            media_id=media_id,
                            analyzers=planned,
                            options={},
                            state=job_state,
                            estimate=estimate,
                            priority=priority,
                            created_by=principal.user_id,
                            created_at=now,
                            updated_at=now,
                            not_before=now,
                            max_attempts=self.ledger.settings.max_attempts,
                            outcome={},
                        )
                    )
                audit.record(
                    s,
                    actor=principal.actor,
                    action="media.upload",
                    object_type="media",
                    object_id=media_id,
                    details={
                        "name": name,
                        "sha256": ref.sha256,
                        "size": ref.size,
                        "job_id": job_id,
                    },
                )
        except IntegrityError:
            self._release_job(job_id)
            existing = self._existing(ref.sha256)  # a concurrent upload of the same bytes won
            if existing is not None:
                return self._duplicate(existing, principal, name, reservation)
            self._discard(ref)
            raise
        except BaseException:
            self._discard(ref)  # first: giving back the job's quota is a write that can fail too
            self._release_job(job_id)  # (e.g. the database is on a full disk)
            raise
        log.info(
            "media stored", extra={"media_id": media_id, "kind": info.kind.value, "size": ref.size}
        )
        note = (
            {"code": "budget_exceeded", "message": f"stored, not analysed: {refusal}"}
            if refusal is not None
            else None
        )
        return IngestOutcome(
            name, "created", media_id, job_id, info.kind.value, ref.sha256, ref.size, note
        )

    def _release_job(self, job_id: str | None) -> None:
        """The job was not queued after all: its quota reservation, if any, is given back."""
        if job_id is not None:
            with self.db.session() as s:
                consume_job(s, job_id)

    def _discard(self, ref: BlobRef) -> None:
        """Remove a blob this call created if no media row refers to it (nothing half-stored)."""
        if ref.created and self._existing(ref.sha256) is None:
            self.blobs.delete(ref.sha256)

    def _existing(self, sha: str) -> Media | None:
        with self.db.session() as s:
            return s.execute(select(Media).where(Media.sha256 == sha)).scalar_one_or_none()

    def _duplicate(
        self, media: Media, principal: Principal, name: str, reservation: str | None = None
    ) -> IngestOutcome:
        """The same bytes again: the caller gets their own view of the existing media (their
        name for it, ``via="duplicate"``), never the first uploader's name or id. A caller who
        already sees it (their own upload, a share, an earlier duplicate) keeps that view."""
        with self.db.session() as s:
            consume(s, reservation)
            if principal.user_id and s.get(MediaGrant, (media.id, principal.user_id)) is None:
                own = media.uploaded_by == principal.user_id  # e.g. their grant was revoked
                s.add(
                    MediaGrant(
                        media_id=media.id,
                        user_id=principal.user_id,
                        display_name=name,
                        via=VIA_UPLOAD if own else VIA_DUPLICATE,
                    )
                )
            audit.record(
                s,
                actor=principal.actor,
                action="media.upload",
                object_type="media",
                object_id=media.id,
                details={"name": name, "duplicate": True},
            )
        return IngestOutcome(
            name, "duplicate", media.id, None, media.kind, media.sha256, media.size
        )

    def _audit_rejection(self, principal: Principal, name: str, exc: AimaError) -> None:
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action="media.upload",
                outcome="rejected",
                details={"name": name, "error": exc.message[:500]},
            )

    def ingest_paths(
        self,
        paths: Iterable[Path],
        principal: Principal,
        *,
        analyze: bool = True,
        analyzers: Sequence[str] | None = None,
        priority: int = 0,
        hook: ProgressHook = no_progress,
        library: str = DEFAULT_LIBRARY,
    ) -> list[IngestOutcome]:
        files = sorted(set(expand_paths(paths)))
        outcomes: list[IngestOutcome] = []
        for i, path in enumerate(files):
            outcomes.append(
                self.ingest_file(
                    path,
                    principal,
                    analyze=analyze,
                    analyzers=analyzers,
                    priority=priority,
                    library=library,
                )
            )
            hook(Progress("ingest", i + 1, len(files), path.name))
        return outcomes


def _file_type(mode: int) -> str:
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO/pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "a special file"


def expand_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, folders recursively (hidden files and folders skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path).parts
                if child.is_file() and not any(p.startswith(".") for p in rel):
                    yield child
        else:
            yield path
