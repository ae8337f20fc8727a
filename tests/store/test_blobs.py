"""The BlobStore contract, run against the local directory backend and the S3 backend."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from aima.core.errors import NotFound, StorageError
from aima.store.blobs import BlobStore, LocalBlobStore
from aima.store.s3blobs import S3BlobStore
from tests.conftest import s3_blob_settings


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    cfg = s3_blob_settings(request.getfixturevalue("s3_endpoint"))
    yield S3BlobStore(
        bucket=cfg["s3_bucket"],
        endpoint_url=cfg["s3_endpoint_url"],
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
        spool_dir=tmp_path / "spool",
    )


def _corrupt(store: BlobStore, sha: str, tmp_path: Path) -> None:
    """Overwrite the stored bytes behind the store's back (bit rot, tampering)."""
    if isinstance(store, LocalBlobStore):
        (tmp_path / "blobs" / sha[:2] / sha[2:4] / sha).write_bytes(b"tampered bytes")
    else:
        assert isinstance(store, S3BlobStore)
        store._client.put_object(Bucket=store.bucket, Key=store._key(sha), Body=b"tampered")


def test_put_is_content_addressed_and_deduplicated(store: BlobStore, tmp_path: Path) -> None:
    src = tmp_path / "in.bin"
    src.write_bytes(b"hello world" * 100_000)
    first = store.put_file(src)
    second = store.put_bytes(src.read_bytes())
    assert first.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert first.created and not second.created
    assert list(store.keys()) == [first.sha256]
    assert store.get_bytes(first.sha256) == src.read_bytes()
    assert b"".join(store.stream(first.sha256)) == src.read_bytes()
    with store.local_path(first.sha256) as path:
        assert path.read_bytes() == src.read_bytes()
    store.ping()


def test_corruption_is_detected_on_read_and_verify(store: BlobStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"original bytes")
    assert store.verify(ref.sha256)
    _corrupt(store, ref.sha256, tmp_path)
    assert not store.verify(ref.sha256)
    with pytest.raises(StorageError, match="corrupt"):
        store.get_bytes(ref.sha256)


def test_missing_and_malformed_keys(store: BlobStore) -> None:
    with pytest.raises(StorageError, match="missing"):
        store.get_bytes("0" * 64)
    with pytest.raises(NotFound):
        store.get_bytes("../../etc/passwd")
    assert not store.exists("f" * 64)
    assert not store.verify("f" * 64)
    store.delete("f" * 64)  # deleting a missing blob is not an error


def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_bytes(b"x" * 10)
    assert list((tmp_path / "blobs" / ".tmp").iterdir()) == []


def test_local_corrupt_blob_is_replaced_by_a_good_upload(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    ref = store.put_bytes(b"payload")
    _corrupt(store, ref.sha256, tmp_path)
    again = store.put_bytes(b"payload")
    assert again.created
    assert store.verify(ref.sha256)
