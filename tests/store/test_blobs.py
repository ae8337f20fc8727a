from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aima.core.errors import NotFound, StorageError
from aima.store.blobs import LocalBlobStore


def test_put_is_content_addressed_and_deduplicated(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    src = tmp_path / "in.bin"
    src.write_bytes(b"hello world" * 1000)
    first = store.put_file(src)
    second = store.put_bytes(src.read_bytes())
    assert first.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert first.created and not second.created
    assert list(store.keys()) == [first.sha256]
    assert store.get_bytes(first.sha256) == src.read_bytes()
    assert b"".join(store.stream(first.sha256)) == src.read_bytes()
    # no temp files left behind
    assert list((tmp_path / "blobs" / ".tmp").iterdir()) == []


def test_corruption_is_detected_on_read_and_verify(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    ref = store.put_bytes(b"original bytes")
    path = tmp_path / "blobs" / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256
    path.write_bytes(b"tampered bytes")
    assert not store.verify(ref.sha256)
    with pytest.raises(StorageError, match="corrupt"):
        store.get_bytes(ref.sha256)


def test_corrupt_blob_is_replaced_by_a_good_upload(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    ref = store.put_bytes(b"payload")
    path = tmp_path / "blobs" / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256
    path.write_bytes(b"garbage")
    again = store.put_bytes(b"payload")
    assert again.created
    assert store.verify(ref.sha256)


def test_missing_and_malformed_keys(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(StorageError, match="missing"):
        store.get_bytes("0" * 64)
    with pytest.raises(NotFound):
        store.get_bytes("../../etc/passwd")
    assert not store.exists("f" * 64)
    store.delete("f" * 64)  # deleting a missing blob is not an error
