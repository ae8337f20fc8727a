"""SealedBytes (embeddings at rest) on a real database, SQLite and PostgreSQL: sealed with the
library's column key when encryption is on, legacy plaintext rows still read, tampering and a
missing KEK are reported, and a second runtime over the same library reads what the first wrote."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert, select, update

from aima.core.errors import StorageError
from aima.runtime import build_runtime
from aima.store.db import Database
from aima.store.sealed import COLUMN_MAGIC, SealedBytes, attach_column_key
from tests.conftest import make_settings

VEC = b"\x00\x00\x80?" * 128  # a 128-d float32 vector of ones


def _tables(name: str) -> tuple[Table, Table]:
    sealed = Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("vec", SealedBytes(f"{name}.vec")),
    )
    raw = Table(
        name, MetaData(), Column("id", Integer, primary_key=True), Column("vec", LargeBinary)
    )
    return sealed, raw


def test_sealed_column_round_trip_legacy_and_tamper(db_url: str) -> None:
    db = Database(db_url)
    sealed, raw = _tables("probe_vectors")
    try:
        sealed.metadata.create_all(db.engine)
        with db.engine.begin() as conn:
            conn.execute(insert(sealed), [{"id": 1, "vec": VEC}])  # encryption off: as is
        attach_column_key(db.engine, os.urandom(32))
        with db.engine.begin() as conn:
            conn.execute(insert(sealed), [{"id": 2, "vec": VEC}, {"id": 3, "vec": None}])
            stored = dict(conn.execute(select(raw.c.id, raw.c.vec)).all())
            got = dict(conn.execute(select(sealed.c.id, sealed.c.vec)).all())
        assert bytes(stored[1]) == VEC  # the legacy row is untouched
        assert bytes(stored[2]).startswith(COLUMN_MAGIC) and VEC not in bytes(stored[2])
        assert got == {1: VEC, 2: VEC, 3: None}
        flipped = bytearray(stored[2])
        flipped[-1] ^= 1
        with db.engine.begin() as conn:
            conn.execute(update(raw).where(raw.c.id == 2).values(vec=bytes(flipped)))
        with pytest.raises(StorageError, match="tampered"), db.engine.begin() as conn:
            conn.execute(select(sealed.c.vec).where(sealed.c.id == 2)).all()
        attach_column_key(db.engine, None)
        with pytest.raises(StorageError, match="no KEK"), db.engine.begin() as conn:
            conn.execute(select(sealed.c.vec).where(sealed.c.id == 2)).all()
    finally:
        sealed.metadata.drop_all(db.engine)
        db.dispose()


def test_the_runtime_seals_with_a_column_key_that_survives_restarts(
    tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(
        tmp_path / "data", db_url, encryption={"kek_file": tmp_path / "keys" / "kek.json"}
    )
    sealed, raw = _tables("probe_runtime_vectors")
    first = build_runtime(settings)
    try:
        sealed.metadata.create_all(first.db.engine)
        with first.db.engine.begin() as conn:
            conn.execute(insert(sealed), [{"id": 1, "vec": VEC}])
            assert bytes(conn.execute(select(raw.c.vec)).scalar_one()).startswith(COLUMN_MAGIC)
    finally:
        first.close()
    second = build_runtime(settings)
    try:
        with second.db.engine.begin() as conn:
            assert conn.execute(select(sealed.c.vec)).scalar_one() == VEC
        sealed.metadata.drop_all(second.db.engine)
    finally:
        second.close()
