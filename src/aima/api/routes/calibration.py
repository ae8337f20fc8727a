"""Calibration on the user's labelled data and re-embedding with a new model (``identity:calibrate``).

``POST /api/v1/calibration/{faces|voices}`` takes the labelled set as a multipart
upload of **one ZIP archive** (``file``) holding one folder per identity
(``alice/1.jpg``, ``bob/clip.wav``; one enclosing top folder is fine). A server-side
path is never accepted: the API must not read the server's disk on a caller's word. The
archive is size-limited while spooled, then unpacked with ``extract_labelled_zip``'s
checks (no absolute or ``..`` paths, no symlinks, file-count and unpacked-size caps)
into a private temporary folder that is deleted when the request ends. The answer is
the report; with ``apply=true`` the proposed threshold is stored (audited) as well --
a client shows the report first and re-submits with ``apply`` to confirm.

``POST /api/v1/persons/reembed`` starts (or resumes) a re-embedding migration and runs
it in the background; ``GET /api/v1/calibration/reembed`` shows every migration's state.
"""

from __future__ import annotations

import logging
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from aima.api.deps import Caller, RuntimeDep
from aima.api.uploads import copy_limited
from aima.runtime import Runtime
from aima.security.permissions import Permission
from aima.services import calibrate as cal
from aima.services import reembed
from aima.services.access import Principal
from aima.store.models import StoredCalibration

log = logging.getLogger(__name__)
router = APIRouter(tags=["calibration"])


class CalibrateKind(StrEnum):
    faces = "faces"
    voices = "voices"


@router.post("/api/v1/calibration/{kind}")
def calibrate(
    runtime: RuntimeDep,
    kind: CalibrateKind,
    file: Annotated[UploadFile, File(description="ZIP: one folder per identity")],
    principal: Principal = Caller(Permission.IDENTITY_CALIBRATE),
    target_far: Annotated[float, Form(gt=0, lt=1)] = 0.001,
    apply: Annotated[bool, Form(description="store the proposed threshold")] = False,
) -> dict[str, Any]:
    """Measure the library's model on the labelled set: proposed threshold, TAR/FAR, histogram."""
    limit = min(runtime.settings.limits.max_bytes, cal.MAX_ZIP_BYTES)
    spool = runtime.settings.data_dir / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=spool, prefix="calibrate-") as tmp:
        archive = Path(tmp) / "set.zip"
        copy_limited(file, archive, limit, (file.filename or "upload")[:255])
        root = cal.extract_labelled_zip(archive, Path(tmp) / "set")
        archive.unlink()
        report = cal.calibrate_dir(
            kind.value,
            root,
            runtime.registry,
            runtime.settings.limits,
            runtime.settings.decode,
            target_far=target_far,
            settings=runtime.settings.identity,
            display="the uploaded ZIP",
        )
    if apply:
        cal.apply(runtime.db, report, principal.actor)
    return {**report.as_dict(), "applied": apply}


@router.get("/api/v1/calibration")
def calibrations(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.IDENTITY_CALIBRATE)
) -> list[dict[str, Any]]:
    """Thresholds stored from labelled data, per model."""
    with runtime.db.session() as s:
        rows = s.execute(select(StoredCalibration)).scalars().all()
        return [
            {
                "kind": r.kind,
                "model_id": r.model_id,
                "max_distance": r.max_distance,
                "scale": r.scale,
                "target_far": r.target_far,
                "tar": r.tar,
                "far": r.far,
                "created_by": r.created_by,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]


class ReembedIn(BaseModel):
    kind: Literal["face", "voice"]
    analyzer: str | None = Field(default=None, description="default: faces / speakers")
    model_id: str | None = Field(default=None, description="expected new model id (checked)")


def _run_migration(
    runtime: Runtime, migration_id: str, embedder: reembed.Embedder, actor: str
) -> None:
    """Background task: errors are recorded on the migration (it stays resumable)."""
    try:
        reembed.run(runtime.db, runtime.identity, migration_id, embedder, actor)
    except Exception:  # recorded on the migration; a background task has no caller to tell
        log.exception("re-embedding stopped", extra={"migration": migration_id})


@router.post("/api/v1/persons/reembed", status_code=202)
def start_reembed(
    runtime: RuntimeDep,
    body: ReembedIn,
    background: BackgroundTasks,
    principal: Principal = Caller(Permission.IDENTITY_CALIBRATE),
) -> dict[str, Any]:
    """Start (or resume) re-embedding the library with the analyzer's model, in the background.

    Persons keep their ids, names and corrections; identity queries use the old model
    until the migration's state is ``done``.
    """
    embedder = reembed.AnalyzerEmbedder(
        body.kind,
        runtime.registry,
        runtime.blobs,
        runtime.settings.limits,
        runtime.settings.decode,
        analyzer=body.analyzer,
    )
    migration_id = reembed.start(runtime.db, embedder, principal.actor, model_id=body.model_id)
    background.add_task(_run_migration, runtime, migration_id, embedder, principal.actor)
    return reembed.status(runtime.db, migration_id)[0]


@router.get("/api/v1/calibration/reembed")
def reembed_status(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.IDENTITY_CALIBRATE)
) -> list[dict[str, Any]]:
    """Every re-embedding migration, newest first: from/to model, done/total, state."""
    return reembed.status(runtime.db)
