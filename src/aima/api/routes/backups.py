"""Backups of the whole library (Admin), written to the configured backup directory only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from aima.api.deps import Caller, RuntimeDep
from aima.core.errors import Conflict, InvalidInput
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.backup import BackupService, read_manifest

router = APIRouter(prefix="/api/v1/backups", tags=["admin"])


@router.post("", status_code=201, responses={409: {"description": "AIMA_BACKUP__DIR is not set"}})
def create_backup(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.BACKUP_MANAGE)
) -> dict[str, Any]:
    """Take a snapshot into ``AIMA_BACKUP__DIR`` (never a path chosen by the caller)."""
    target = runtime.settings.backup.dir
    if target is None:
        raise Conflict("backups are not configured: set AIMA_BACKUP__DIR")
    secret = runtime.settings.backup.passphrase
    report = BackupService(runtime.settings, runtime.db, runtime.blobs).backup(
        target, principal, passphrase=secret.get_secret_value() if secret else None
    )
    return {
        "snapshot": report.snapshot.name,
        "dialect": report.dialect,
        "blobs": report.blobs,
        "blobs_copied": report.blobs_copied,
        "key_included": report.key_included,
    }


@router.get("")
def list_backups(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.BACKUP_MANAGE)
) -> list[dict[str, Any]]:
    target = runtime.settings.backup.dir
    snapshots = target / "snapshots" if target else None
    if snapshots is None or not snapshots.is_dir():
        return []
    out = []
    for snap in sorted(snapshots.iterdir(), reverse=True):
        try:
            manifest = read_manifest(snap)
        except InvalidInput:
            continue
        out.append(
            {
                "snapshot": snap.name,
                "dialect": manifest["dialect"],
                "counts": manifest["counts"],
                "blobs": manifest["blobs"],
                "key_included": manifest.get("key_included", False),
            }
        )
    return out
