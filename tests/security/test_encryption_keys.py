"""The KEK keyring and ``aima keys status / rotate / retire`` (typer's CliRunner, in process) on a
real database (SQLite and PostgreSQL): rotation re-wraps data keys without touching blob files,
old data stays readable, a KEK still in use cannot be retired, a missing KEK is refused."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from typer.testing import CliRunner

from aima.cli.main import app
from aima.core.errors import ConfigError
from aima.core.settings import Settings
from aima.runtime import Runtime, build_runtime
from aima.security.keyring import add_kek, kek_id_of, load_kek_ring, read_ring_file
from aima.store.crypto_blobs import EncryptedBlobStore
from aima.store.models import AuditEvent
from aima.store.models_trust import DataKey
from tests.conftest import TEST_SECRET, make_settings


def test_keyring_file_is_created_0600_outside_the_data_dir(tmp_path: Path) -> None:
    kek = tmp_path / "keys" / "kek.json"
    settings = make_settings(tmp_path / "data", "sqlite://", encryption={"kek_file": kek})
    ring = load_kek_ring(settings)
    assert ring is not None and ring.active in ring.keys and len(ring.keys[ring.active]) == 32
    assert stat.S_IMODE(kek.stat().st_mode) == 0o600
    assert load_kek_ring(settings) == ring  # created once, then read
    inside = make_settings(
        tmp_path / "data", "sqlite://", encryption={"kek_file": tmp_path / "data" / "kek.json"}
    )
    with pytest.raises(ConfigError, match="inside the data directory"):
        load_kek_ring(inside)


def test_kek_from_the_environment_and_malformed_ones(tmp_path: Path) -> None:
    ring = load_kek_ring(make_settings(tmp_path, "sqlite://", encryption={"kek": "cd" * 32}))
    assert ring is not None and ring.active == kek_id_of(bytes.fromhex("cd" * 32))
    with pytest.raises(ConfigError, match="64 hexadecimal"):
        load_kek_ring(make_settings(tmp_path, "sqlite://", encryption={"kek": "xyz"}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"active": "kek-1", "keys": {"kek-1": "00" * 32}}))
    with pytest.raises(ConfigError, match="does not match its id"):
        read_ring_file(bad)
    with pytest.raises(ConfigError, match="rotation needs a keyring file"):
        add_kek(ring)


def test_encryption_off_by_default_required_and_production_refuse(tmp_path: Path) -> None:
    assert load_kek_ring(make_settings(tmp_path / "d", "sqlite://")) is None
    required = make_settings(
        tmp_path / "d", f"sqlite:///{tmp_path / 'x.db'}", encryption={"required": True}
    )
    with pytest.raises(ConfigError, match="no KEK is configured"):
        build_runtime(required)
    with pytest.raises(ValidationError, match="AIMA_ENCRYPTION__KEK_FILE"):
        Settings(env="production", data_dir=tmp_path, auth={"jwt_secret": "x" * 40})
    missing = tmp_path / "nowhere" / "kek.json"
    prod = Settings(
        env="production",
        data_dir=tmp_path / "d",
        auth={"jwt_secret": "x" * 40},
        encryption={"kek_file": missing},
    )
    with pytest.raises(ConfigError, match="production never creates one"):
        load_kek_ring(prod)
    assert not missing.exists()


@pytest.fixture
def lib(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A library with encryption on; the CLI sees the same one through the environment."""
    data, kek = tmp_path / "data", tmp_path / "keys" / "kek.json"
    for key, value in {
        "AIMA_DATA_DIR": str(data),
        "AIMA_DATABASE_URL": db_url,
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
        "AIMA_ENCRYPTION__KEK_FILE": str(kek),
    }.items():
        monkeypatch.setenv(key, value)
    rt = build_runtime(make_settings(data, db_url, encryption={"kek_file": kek}))
    try:
        yield rt
    finally:
        rt.close()


def _status(runner: CliRunner) -> dict[str, object]:
    out = runner.invoke(app, ["keys", "status", "--json"])
    assert out.exit_code == 0, out.output
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_rotate_rewraps_without_touching_blobs_and_retire_only_unused(lib: Runtime) -> None:
    blobs = lib.blobs
    assert isinstance(blobs, EncryptedBlobStore)
    contents = [f"blob number {i} ".encode() * 5000 for i in range(3)]
    keys = [blobs.put_bytes(c).sha256 for c in contents]
    blobs.delete(keys.pop())  # one shredded key
    contents.pop()
    files = {k: lib.settings.blob_path / k[:2] / k[2:4] / k for k in keys}
    before = {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in files.items()}
    runner = CliRunner()
    first = _status(runner)
    old = str(first["active"])
    # 2 blob keys + the dedup and column keys, all under the first KEK
    assert first["data_keys"] == {old: 4} and first["destroyed"] == 1

    refused = runner.invoke(app, ["keys", "retire", old])
    assert refused.exit_code == 1 and "active" in refused.stderr

    rotated = runner.invoke(app, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "re-wrapped 4 data key(s)" in rotated.stdout
    after = _status(runner)
    new = str(after["active"])
    assert new != old and after["keks"] == sorted([old, new])
    assert after["data_keys"] == {new: 4} and after["destroyed"] == 1
    # blob files untouched, still readable by the runtime that was built before the rotation
    assert {k: (p.read_bytes(), p.stat().st_mtime_ns) for k, p in files.items()} == before
    assert [blobs.get_bytes(k) for k in keys] == contents
    fresh = blobs.put_bytes(b"written after the rotation")
    with lib.db.session() as s:
        row = s.execute(select(DataKey).where(DataKey.subject_id == fresh.sha256)).scalar_one()
        assert row.kek_id == new and row.rewrapped_at is None
        rewrapped = s.execute(select(DataKey).where(DataKey.subject_id == keys[0])).scalar_one()
        assert rewrapped.kek_id == new and rewrapped.rewrapped_at is not None

    retired = runner.invoke(app, ["keys", "retire", old])
    assert retired.exit_code == 0, retired.output
    assert _status(runner)["keks"] == [new]
    assert [blobs.get_bytes(k) for k in keys] == contents  # nothing needed the old KEK
    assert blobs.verify(fresh.sha256)
    with lib.db.session() as s:
        actions = s.execute(
            select(AuditEvent.action, AuditEvent.outcome, AuditEvent.object_id)
            .where(AuditEvent.action.like("keys.%"))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("keys.retire", "refused", old),
        ("keys.rotate", "ok", new),
        ("keys.retire", "ok", old),
    ]


def test_a_kek_still_wrapping_keys_cannot_be_retired(lib: Runtime) -> None:
    blobs = lib.blobs
    assert isinstance(blobs, EncryptedBlobStore)
    key = blobs.put_bytes(b"wrapped by the first KEK").sha256
    ring = blobs.data_keys.ring  # type: ignore[attr-defined]
    old = ring.active
    add_kek(ring)  # a new active KEK, but nothing re-wrapped yet (an interrupted rotation)
    runner = CliRunner()
    refused = runner.invoke(app, ["keys", "retire", old])
    assert refused.exit_code == 1 and "still wraps 3 data key(s)" in refused.stderr
    assert old in _status(runner)["keks"]  # type: ignore[operator]
    finished = runner.invoke(app, ["keys", "rotate", "--no-new", "--retire", old])
    assert finished.exit_code == 0, finished.output
    assert "re-wrapped 3" in finished.stdout and f"retired KEK {old}" in finished.stdout
    assert old not in _status(runner)["keks"]  # type: ignore[operator]
    assert blobs.get_bytes(key) == b"wrapped by the first KEK"


def test_status_without_encryption_says_how_to_switch_it_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIMA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIMA_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("AIMA_ENCRYPTION__KEK_FILE", raising=False)
    out = CliRunner().invoke(app, ["keys", "status"])
    assert out.exit_code == 1 and "encryption at rest is off" in out.stderr
