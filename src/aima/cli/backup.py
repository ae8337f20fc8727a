"""``aima backup`` and ``aima restore``: consistent snapshots of a library and their return."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from aima.cli.common import announce_library, console, fail, runtime
from aima.core.errors import AimaError
from aima.core.settings import load_settings
from aima.runtime import build_runtime, make_blob_store
from aima.services.access import cli_principal
from aima.services.backup import BackupService, restore

PASSPHRASE_ENV = "AIMA_BACKUP__PASSPHRASE"


def backup_cmd(
    dest: Annotated[
        Path | None, typer.Argument(help="backup directory (default AIMA_BACKUP__DIR)")
    ] = None,
) -> None:
    """Snapshot the database, new blobs (incremental by hash), the index and the audit key."""
    rt = runtime()
    target = dest or rt.settings.backup.dir
    if target is None:
        fail("name a backup directory or set AIMA_BACKUP__DIR")
    passphrase = rt.settings.backup.passphrase
    try:
        report = BackupService(rt.settings, rt.db, rt.blobs).backup(
            target,
            cli_principal(),
            passphrase=passphrase.get_secret_value() if passphrase else None,
        )
    except AimaError as exc:
        fail(exc.message)
    key = (
        "audit key included (encrypted)"
        if report.key_included
        else f"audit key NOT included: set {PASSPHRASE_ENV} or back up the key file separately"
    )
    console.print(
        f"[green]snapshot[/] {report.snapshot}\n"
        f"  database: {report.dialect}; blobs: {report.blobs} ({report.blobs_copied} new); {key}",
        soft_wrap=True,
    )


def restore_cmd(
    snapshot: Annotated[Path, typer.Argument(help="a snapshot folder: <backup>/snapshots/<time>")],
) -> None:
    """Restore a snapshot into an EMPTY library, then verify storage, audit chain and index."""
    try:
        settings = load_settings()
        announce_library(settings)
        blobs = make_blob_store(settings)
        passphrase = os.environ.get(PASSPHRASE_ENV) or (
            settings.backup.passphrase.get_secret_value() if settings.backup.passphrase else None
        )
        manifest = restore(snapshot, settings, blobs, passphrase=passphrase)
        rt = build_runtime(settings)
    except AimaError as exc:
        fail(exc.message)
    problems = rt.system.verify_storage()
    chain = rt.system.verify_audit(cli_principal())
    index = rt.vectors.status()
    console.print(
        f"[green]restored[/] snapshot {manifest['created_at']} "
        f"({manifest['counts']['media']} media, {manifest['counts']['audit_events']} audit events)"
    )
    console.print(f"  storage verify: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    console.print(f"  audit verify: {'ok' if chain.ok else chain.problem}")
    console.print(f"  index: {index}", soft_wrap=True)
    if problems or not chain.ok:
        raise typer.Exit(1)
