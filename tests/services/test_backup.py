"""Backup and restore round trip: a restored library verifies (storage, audit chain, index).

SQLite (online backup while the library is open) and PostgreSQL (pg_dump / pg_restore into
an empty database); blobs are copied incrementally by hash; the audit keyring travels
encrypted with the backup passphrase.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aima.core.errors import Conflict, StorageError
from aima.core.settings import Settings
from aima.runtime import Runtime, build_runtime, make_blob_store
from aima.security import audit
from aima.services.access import cli_principal
from aima.services.backup import BackupService, restore
from aima.store.models import Media
from tests.conftest import create_pg_database, drop_pg_database, make_settings
from tests.mediagen import synth

PASS = "correct horse battery staple"


def _library(rt: Runtime, root: Path, n: int = 3) -> list[str]:
    ids = []
    for i in range(n):
        path = root / f"pic{i}.jpg"
        synth.make_image(path)
        with path.open("ab") as fh:
            fh.write(bytes([i]))  # distinct bytes: no dedup
        outcome = rt.ingest.ingest_file(path, cli_principal(), analyze=False)
        assert outcome.status == "created", outcome
        assert outcome.media_id is not None
        ids.append(outcome.media_id)
    with rt.db.session() as s:
        audit.record(s, actor="test", action="media.read", object_id=ids[0])
    rt.system.anchor_audit(cli_principal())
    return ids


@pytest.fixture
def target(tmp_path: Path, db_url: str) -> Iterator[Callable[[], Settings]]:
    """Settings for an empty library of the same dialect (same audit key location)."""
    made: list[str] = []

    def make() -> Settings:
        if db_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / 'restored.db'}"
        else:
            url, name = create_pg_database()
            made.append(name)
        return make_settings(
            tmp_path / "restored",
            url,
            audit={"key_file": tmp_path / "restored-keys" / "audit.key"},
        )

    yield make
    for name in made:
        drop_pg_database(name)


def test_round_trip_restores_a_library_that_verifies(
    runtime: Runtime, tmp_path: Path, target: Callable[[], Settings]
) -> None:
    ids = _library(runtime, tmp_path)
    dest = tmp_path / "backups"
    service = BackupService(runtime.settings, runtime.db, runtime.blobs)
    first = service.backup(dest, cli_principal(), passphrase=PASS)
    assert (first.blobs_copied, first.key_included) == (first.blobs, True)
    assert first.blobs >= len(ids)
    again = service.backup(dest, cli_principal(), passphrase=PASS)
    assert again.blobs_copied == 0  # incremental: nothing new to copy

    settings = target()
    manifest = restore(first.snapshot, settings, make_blob_store(settings), passphrase=PASS)
    assert manifest["counts"]["media"] == len(ids)
    restored = build_runtime(settings)
    try:
        assert restored.system.verify_storage() == []
        chain = restored.system.verify_audit(cli_principal())
        assert chain.ok, chain.problem
        with restored.db.session() as s:
            assert sorted(m.id for m in s.query(Media)) == sorted(ids)
        status = restored.vectors.status()
        assert all(c["indexed"] == c["rows"] for c in status["collections"].values())
    finally:
        restored.close()


def test_restore_refuses_a_damaged_snapshot_and_a_non_empty_library(
    runtime: Runtime, tmp_path: Path, target: Callable[[], Settings]
) -> None:
    _library(runtime, tmp_path, n=1)
    report = BackupService(runtime.settings, runtime.db, runtime.blobs).backup(
        tmp_path / "b", cli_principal()
    )
    db_file = next(p for p in report.snapshot.iterdir() if p.name.startswith("db."))
    original = db_file.read_bytes()
    db_file.write_bytes(original[:-10] + b"0123456789")
    settings = target()
    with pytest.raises(StorageError, match="damaged"):
        restore(report.snapshot, settings, make_blob_store(settings))
    db_file.write_bytes(original)
    with pytest.raises(Conflict, match="empty"):
        restore(report.snapshot, runtime.settings, runtime.blobs)


def test_encrypted_library_round_trip_keeps_ciphertext_and_restores(
    tmp_path: Path, db_url: str, target: Callable[[], Settings]
) -> None:
    """With encryption on the backup holds ciphertext only; restored with the same KEK, every
    blob verifies and reads back as the original bytes."""
    kek = {"kek_file": tmp_path / "kek" / "kek.json"}
    rt = build_runtime(make_settings(tmp_path / "data", db_url, encryption=kek))
    try:
        ids = _library(rt, tmp_path)
        originals = {p.name: p.read_bytes() for p in sorted(tmp_path.glob("pic*.jpg"))}
        first = BackupService(rt.settings, rt.db, rt.blobs).backup(
            tmp_path / "backups", cli_principal(), passphrase=PASS
        )
        assert first.blobs_copied == first.blobs >= len(ids)
    finally:
        rt.close()
    for path in (tmp_path / "backups").rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            assert not any(o[200:264] in body for o in originals.values()), path

    settings = target().model_copy(update={"encryption": rt.settings.encryption})
    restore(first.snapshot, settings, make_blob_store(settings), passphrase=PASS)
    restored = build_runtime(settings)
    try:
        assert restored.system.verify_storage() == []
        with restored.db.session() as s:
            rows = {m.original_name: m.sha256 for m in s.query(Media)}
        for name, data in originals.items():
            assert restored.blobs.get_bytes(rows[name]) == data
    finally:
        restored.close()
