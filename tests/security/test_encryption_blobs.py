"""EncryptedBlobStore on real files (local directory and the S3 protocol) with its data keys in a
real database (SQLite and PostgreSQL): round trips, ranges across chunk borders, tampering,
no plaintext on disk, keyed dedup, crypto-shredding on delete."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.core.errors import StorageError
from aima.runtime import Runtime, build_runtime
from aima.store.blobs import LocalBlobStore
from aima.store.crypto_blobs import EncryptedBlobStore
from aima.store.models_trust import DataKey
from aima.store.sealed import CHUNK, HEADER, TAG
from tests.conftest import make_settings, s3_blob_settings

MARKER = b"AIMA-PLAINTEXT-MARKER-7f3a"


def enc_settings(tmp_path: Path, db_url: str, **overrides: Any) -> Any:
    kek = {"kek_file": tmp_path / "keys" / "kek.json"}
    return make_settings(tmp_path / "data", db_url, encryption=kek, **overrides)


@pytest.fixture
def rt(tmp_path: Path, db_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(enc_settings(tmp_path, db_url))
    try:
        yield runtime
    finally:
        runtime.close()


def store_of(rt: Runtime) -> EncryptedBlobStore:
    assert isinstance(rt.blobs, EncryptedBlobStore)
    return rt.blobs


def blob_file(rt: Runtime, key: str) -> Path:
    return rt.settings.blob_path / key[:2] / key[2:4] / key


def payload(size: int) -> bytes:
    body = hashlib.shake_256(b"seed").digest(size)
    return (MARKER + body)[:size] if size >= len(MARKER) else body


SIZES = (0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17)


def test_round_trip_ranges_and_keyed_dedup(rt: Runtime) -> None:
    store = store_of(rt)
    for size in SIZES:
        data = payload(size)
        ref = store.put_bytes(data)
        assert ref.created and ref.size == size
        plain_sha = hashlib.sha256(data).hexdigest()
        assert ref.sha256 != plain_sha and store.content_key(plain_sha) == ref.sha256
        assert store.get_bytes(ref.sha256) == data
        assert b"".join(store.stream(ref.sha256)) == data
        assert store.verify(ref.sha256)
        # on disk: header + plaintext + one tag per chunk
        chunks = max(1, -(-size // CHUNK))
        assert blob_file(rt, ref.sha256).stat().st_size == HEADER + size + chunks * TAG
        again = store.put_bytes(data)  # same bytes: same key, nothing new written
        assert again.sha256 == ref.sha256 and not again.created
    data = payload(3 * CHUNK + 17)
    key = store.put_bytes(data).sha256
    borders = [
        (0, 10),
        (CHUNK - 5, 10),  # across the first chunk border
        (CHUNK, CHUNK),  # exactly one chunk
        (CHUNK - 1, 2 * CHUNK + 2),  # three chunks, partial at both ends
        (len(data) - 7, 7),
        (len(data) - 3, 50),  # past the end: what there is
        (len(data), 5),
        (100, 0),
    ]
    for start, length in borders:
        got = b"".join(store.stream_range(key, start, length))
        assert got == data[start : start + length], (start, length)
    with pytest.raises(ValueError):
        list(store.stream_range(key, -1, 5))


def test_put_file_local_path_and_no_plaintext_on_disk(rt: Runtime, tmp_path: Path) -> None:
    store = store_of(rt)
    src = tmp_path / "upload.bin"
    src.write_bytes(payload(200_000))
    ref = store.put_file(src)
    assert ref.created and ref.size == 200_000
    assert ref.sha256 == store.put_bytes(src.read_bytes()).sha256  # both paths agree
    with store.local_path(ref.sha256) as plain:
        assert plain.read_bytes() == src.read_bytes()
        assert stat.S_IMODE(plain.stat().st_mode) == 0o600
        assert MARKER in plain.read_bytes()
    assert not plain.exists() and not plain.parent.exists()
    for path in rt.settings.data_dir.rglob("*"):  # blobs, spool, database: no plaintext
        if path.is_file():
            assert MARKER not in path.read_bytes(), path
    with rt.db.session() as s:
        row = s.execute(select(DataKey).where(DataKey.subject_id == ref.sha256)).scalar_one()
    assert row.scope == "blob" and row.wrapped is not None and len(row.wrapped) == 12 + 32 + 16
    kek = rt.settings.encryption.kek_file
    assert kek is not None and stat.S_IMODE(kek.stat().st_mode) == 0o600


def _sealed(rt: Runtime) -> tuple[EncryptedBlobStore, str, bytes, Path]:
    store = store_of(rt)
    data = payload(3 * CHUNK + 100)
    key = store.put_bytes(data).sha256
    return store, key, data, blob_file(rt, key)


def _assert_unreadable(store: EncryptedBlobStore, key: str) -> None:
    assert not store.verify(key)
    with pytest.raises(StorageError):
        store.get_bytes(key)
    with pytest.raises(StorageError):
        list(store.stream(key))


def test_a_flipped_byte_is_detected_and_other_chunks_still_read(rt: Runtime) -> None:
    store, key, data, path = _sealed(rt)
    raw = bytearray(path.read_bytes())
    raw[HEADER + CHUNK + TAG + 5] ^= 0x01  # inside chunk 1
    path.write_bytes(bytes(raw))
    _assert_unreadable(store, key)
    with pytest.raises(StorageError, match="chunk 1"):
        list(store.stream_range(key, CHUNK + 10, 10))
    assert b"".join(store.stream_range(key, 5, 10)) == data[5:15]  # chunk 0 is intact


@pytest.mark.parametrize("cut", ["border", "middle", "tag", "header_only"])
def test_truncation_is_detected(rt: Runtime, cut: str) -> None:
    store, key, _data, path = _sealed(rt)
    raw = path.read_bytes()
    keep = {
        "border": HEADER + 3 * (CHUNK + TAG),  # the final chunk dropped whole
        "middle": HEADER + CHUNK // 2,
        "tag": len(raw) - 1,
        "header_only": HEADER,
    }[cut]
    path.write_bytes(raw[:keep])
    _assert_unreadable(store, key)
    with pytest.raises(StorageError):
        list(store.stream_range(key, 3 * CHUNK, 50))


def test_swapped_chunks_edited_header_and_moved_files_are_detected(rt: Runtime) -> None:
    store, key, _data, path = _sealed(rt)
    raw = path.read_bytes()
    rec = CHUNK + TAG
    c0, c1 = raw[HEADER : HEADER + rec], raw[HEADER + rec : HEADER + 2 * rec]
    path.write_bytes(raw[:HEADER] + c1 + c0 + raw[HEADER + 2 * rec :])
    _assert_unreadable(store, key)
    # a smaller size in the header (to hide a truncation) breaks every tag
    edited = bytearray(raw)
    edited[14:22] = (2 * CHUNK).to_bytes(8, "big")
    path.write_bytes(bytes(edited[: HEADER + 2 * rec]))
    _assert_unreadable(store, key)
    # another blob's (valid) file moved under this key
    path.write_bytes(raw)
    other = store.put_bytes(b"another blob").sha256
    path.write_bytes(blob_file(rt, other).read_bytes())
    _assert_unreadable(store, key)
    assert store.verify(other)


def test_delete_crypto_shreds_the_data_key(rt: Runtime) -> None:
    store, key, _data, path = _sealed(rt)
    copy = path.read_bytes()  # e.g. a stale replica or backup of the ciphertext
    store.delete(key)
    assert not store.exists(key) and not path.exists()
    with rt.db.session() as s:
        row = s.execute(select(DataKey).where(DataKey.subject_id == key)).scalar_one()
    assert row.wrapped is None and row.destroyed_at is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(copy)
    with pytest.raises(StorageError, match="crypto-shredded"):
        store.get_bytes(key)
    # the same content stored again gets a fresh data key and reads back
    again = store.put_bytes(payload(3 * CHUNK + 100))
    assert again.sha256 == key and again.created
    assert store.get_bytes(key) == payload(3 * CHUNK + 100)


def test_sealed_bytes_leave_and_come_back_as_ciphertext(rt: Runtime) -> None:
    """What a backup copies and a restore puts back: never the plaintext."""
    store, key, data, path = _sealed(rt)
    sealed = b"".join(store.sealed_stream(key))
    assert MARKER not in sealed and sealed == path.read_bytes()
    store.inner.delete(key)  # the file is lost; its data key is not
    store.put_sealed(key, iter([sealed[:1000], sealed[1000:]]))
    assert store.get_bytes(key) == data
    with pytest.raises(StorageError, match="does not verify"):
        store.put_sealed(key, iter([sealed[:-1]]))
    assert not store.exists(key)


def test_blobs_stored_before_encryption_stay_readable(rt: Runtime) -> None:
    legacy = LocalBlobStore(rt.settings.blob_path)  # what the library held before the KEK
    data = payload(150_000)
    sha = legacy.put_bytes(data).sha256
    store = store_of(rt)
    assert store.get_bytes(sha) == data and store.verify(sha)
    assert b"".join(store.stream_range(sha, CHUNK - 3, 10)) == data[CHUNK - 3 : CHUNK + 7]
    with store.local_path(sha) as plain:
        assert plain.read_bytes() == data
    blob_file(rt, sha).write_bytes(b"rot" + data[3:])
    assert not store.verify(sha)
    with pytest.raises(StorageError, match="checksum"):
        store.get_bytes(sha)


def test_s3_backend_is_sealed_too(tmp_path: Path, s3_endpoint: str) -> None:
    settings = enc_settings(
        tmp_path, f"sqlite:///{tmp_path / 'aima.db'}", blobs=s3_blob_settings(s3_endpoint)
    )
    rt = build_runtime(settings)
    try:
        store = store_of(rt)
        data = payload(2 * CHUNK + 33)
        ref = store.put_bytes(data)
        assert b"".join(store.stream_range(ref.sha256, CHUNK - 2, 40)) == data[CHUNK - 2 :][:40]
        assert store.get_bytes(ref.sha256) == data and store.verify(ref.sha256)
        inner: Any = store.inner
        stored = inner._client.get_object(Bucket=inner.bucket, Key=inner._key(ref.sha256))
        assert MARKER not in stored["Body"].read()
        assert list(store.keys()) == [ref.sha256]
        src = tmp_path / "f.bin"
        src.write_bytes(os.urandom(1000))
        assert store.put_file(src).created
        store.delete(ref.sha256)
        assert not store.exists(ref.sha256)
    finally:
        rt.close()
