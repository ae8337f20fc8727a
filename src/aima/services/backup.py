"""Consistent backups and restores of a library (``aima backup`` / ``aima restore``).

A backup directory holds content-addressed blobs shared by every snapshot (incremental: a
blob already there is not copied again) and one folder per snapshot::

    <dest>/blobs/ab/abcdef…                  every media/crop/artefact blob, by sha256
    <dest>/snapshots/<UTC time>/manifest.json what is in it, with sha256 of every file
    <dest>/snapshots/<UTC time>/db.sqlite3    SQLite online backup (a consistent copy while
                                              the library is in use), or db.pgdump
                                              (pg_dump custom format)
    <dest>/snapshots/<UTC time>/index/        the FAISS snapshot, when there is one
    <dest>/snapshots/<UTC time>/audit-key.enc the audit keyring, encrypted with the backup
                                              passphrase (scrypt + AES-GCM), when one is set

The database is copied before the blobs: every blob it references already exists then
(blobs are written before the rows that name them), so the snapshot is consistent. Restore
goes into an empty library only (an empty data dir / an empty PostgreSQL database), checks
every file against the manifest first, then copies; ``storage verify``, ``audit verify`` and
``index status`` are how to confirm it (``aima restore`` runs them).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import func, inspect, select

from aima import __version__
from aima.core.errors import Conflict, InvalidInput, StorageError
from aima.core.settings import Settings
from aima.security.audit_keys import key_path
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.blobs import BlobStore, sha256_file
from aima.store.crypto_blobs import EncryptedBlobStore
from aima.store.db import Database
from aima.store.models import AuditEvent, Media
from aima.store.sealed import file_chunks

FORMAT = 1


@dataclass
class BackupReport:
    snapshot: Path
    dialect: str
    blobs: int = 0
    blobs_copied: int = 0
    files: dict[str, str] = field(default_factory=dict)  # name -> sha256
    key_included: bool = False


def _sha(path: Path) -> str:
    return sha256_file(path)[0]


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq understands it (no ``+psycopg``)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgresql") else url


def _seal(secret: bytes, passphrase: str) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
    return b"AIMAK1" + salt + nonce + AESGCM(key).encrypt(nonce, secret, b"aima-audit-key")


def _unseal(blob: bytes, passphrase: str) -> bytes:
    if not blob.startswith(b"AIMAK1"):
        raise InvalidInput("audit-key.enc is not an AIMA sealed key")
    salt, nonce, body = blob[6:22], blob[22:34], blob[34:]
    key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
    try:
        return AESGCM(key).decrypt(nonce, body, b"aima-audit-key")
    except Exception as exc:  # InvalidTag: wrong passphrase or a damaged file
        raise InvalidInput("wrong backup passphrase, or audit-key.enc is damaged") from exc


class BackupService:
    def __init__(self, settings: Settings, db: Database, blobs: BlobStore) -> None:
        self.settings, self.db, self.blobs = settings, db, blobs

    # ------------------------------------------------------------------ backup
    def backup(
        self, dest: Path, principal: Principal, *, passphrase: str | None = None
    ) -> BackupReport:
        principal.require(Permission.BACKUP_MANAGE)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        snap = dest / "snapshots" / stamp
        snap.mkdir(parents=True)
        report = BackupReport(snap, self.db.dialect)
        db_file = self._dump_database(snap)
        report.files[db_file.name] = _sha(db_file)
        self._copy_blobs(dest / "blobs", report)
        index = self.settings.index_path
        if index.is_dir() and any(index.iterdir()):
            shutil.copytree(index, snap / "index")
            for p in sorted((snap / "index").rglob("*")):
                if p.is_file():
                    report.files[str(p.relative_to(snap))] = _sha(p)
        keyfile = key_path(self.settings)
        if passphrase and keyfile.exists():
            sealed = snap / "audit-key.enc"
            sealed.write_bytes(_seal(keyfile.read_bytes(), passphrase))
            report.files[sealed.name] = _sha(sealed)
            report.key_included = True
        with self.db.session() as s:
            counts = {
                "media": s.execute(select(func.count()).select_from(Media)).scalar_one(),
                "audit_events": s.execute(
                    select(func.count()).select_from(AuditEvent)
                ).scalar_one(),
            }
        manifest = {
            "format": FORMAT,
            "aima_version": __version__,
            "created_at": stamp,
            "dialect": self.db.dialect,
            "counts": counts,
            "files": report.files,
            "blobs": report.blobs,
            "key_included": report.key_included,
        }
        (snap / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        return report

    def _dump_database(self, snap: Path) -> Path:
        if self.db.dialect == "sqlite":
            out = snap / "db.sqlite3"
            src = sqlite3.connect(str(self.db.url.database))
            dst = sqlite3.connect(str(out))
            try:
                with dst:
                    src.backup(dst)  # online: a consistent copy while writers continue
            finally:
                src.close()
                dst.close()
            return out
        out = snap / "db.pgdump"
        url = self.db.url.render_as_string(hide_password=False)
        done = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={out}", _libpq(url)],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise StorageError(f"pg_dump failed: {done.stderr.strip()[:500]}")
        return out

    def _copy_blobs(self, root: Path, report: BackupReport) -> None:
        for sha in self.blobs.keys():  # noqa: SIM118 - BlobStore.keys(), not a dict
            report.blobs += 1
            target = root / sha[:2] / sha
            if target.exists():
                continue  # incremental: content-addressed, already backed up
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{sha}.tmp")
            # encrypted at rest: the backup holds the ciphertext (its keys stay wrapped in the
            # database dump); the GCM tags, checked on restore, stand for the content hash
            sealed = isinstance(self.blobs, EncryptedBlobStore)
            if isinstance(self.blobs, EncryptedBlobStore):
                source = self.blobs.sealed_stream(sha)
            else:
                source = self.blobs.stream(sha)
            with tmp.open("wb") as out:
                for chunk in source:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if not sealed and _sha(tmp) != sha:
                tmp.unlink()
                raise StorageError(f"blob {sha} changed while it was copied; run the backup again")
            tmp.replace(target)
            report.blobs_copied += 1


def read_manifest(snapshot: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((snapshot / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{snapshot} is not an AIMA backup snapshot: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise InvalidInput(f"{snapshot}: unknown backup format {manifest.get('format')!r}")
    return manifest


def check_snapshot(snapshot: Path) -> dict[str, Any]:
    """Every file of the snapshot against the manifest's sha256 (before anything is restored)."""
    manifest = read_manifest(snapshot)
    for name, digest in manifest["files"].items():
        path = snapshot / name
        if not path.is_file() or _sha(path) != digest:
            raise StorageError(f"backup file {path} is missing or damaged (sha256 mismatch)")
    return manifest


def restore(
    snapshot: Path, settings: Settings, blobs: BlobStore, *, passphrase: str | None = None
) -> dict[str, Any]:
    """Restore a snapshot into an empty library; returns the manifest."""
    manifest = check_snapshot(snapshot)
    url = settings.resolved_database_url
    if manifest["dialect"] == "sqlite":
        target = Path(url.removeprefix("sqlite:///"))
        if not url.startswith("sqlite:///"):
            raise InvalidInput("this snapshot is SQLite: restore it into a SQLite library")
        if target.exists() and target.stat().st_size > 0:
            raise Conflict(f"{target} exists: restore only into an empty library")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snapshot / "db.sqlite3", target)
        target.chmod(0o600)
    else:
        if not url.startswith("postgresql"):
            raise InvalidInput("this snapshot is PostgreSQL: set AIMA_DATABASE_URL to one")
        probe = Database(url)
        try:
            if inspect(probe.engine).get_table_names():
                raise Conflict("the target database is not empty: restore only into an empty one")
        finally:
            probe.dispose()
        done = subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={_libpq(url)}",
                str(snapshot / "db.pgdump"),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if done.returncode != 0:
            raise StorageError(f"pg_restore failed: {done.stderr.strip()[:500]}")
    root = snapshot.parent.parent / "blobs"
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        if isinstance(blobs, EncryptedBlobStore):  # ciphertext back under its key, verified
            blobs.put_sealed(path.name, file_chunks(path))
        else:
            blobs.put_file(path)  # hashes again: a damaged backup blob cannot slip in
    if (snapshot / "index").is_dir():
        shutil.copytree(snapshot / "index", settings.index_path, dirs_exist_ok=True)
    if manifest.get("key_included"):
        keyfile = key_path(settings)
        if not keyfile.exists():
            if not passphrase:
                raise InvalidInput("this snapshot holds the audit key: give the backup passphrase")
            keyfile.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(_unseal((snapshot / "audit-key.enc").read_bytes(), passphrase))
    return manifest
