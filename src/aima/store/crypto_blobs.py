"""Envelope encryption at rest for any blob backend (local directory or S3).

``EncryptedBlobStore`` implements the ``BlobStore`` protocol on top of a raw backend: every
blob is sealed (:mod:`aima.store.sealed`) under its own random data key, which is stored
only wrapped by the KEK keyring (a ``DataKey`` row, scope ``blob``, subject = the blob key).
Deleting a blob also crypto-shreds its data key, so erasure "just works" by deleting blobs.

Keys stay content-addressed without revealing a plaintext hash: a blob's key is
``HMAC-SHA256(dedup key, sha256(plaintext))`` (:meth:`content_key`), the dedup key being a
system data key wrapped like the others. Identical uploads still deduplicate; someone who
holds a file cannot test whether the library contains it without the KEK.

Blobs written before encryption was switched on (no sealed header, key = plain sha256) stay
readable; ``get_bytes``, ``verify`` and ``local_path`` check their sha256 as before.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from aima.core.errors import StorageError
from aima.store.blobs import BlobRef, check_key, check_range, sha256_file
from aima.store.sealed import HEADER, Header, Sealer, file_chunks, is_sealed, open_range

BLOB_SCOPE = "blob"
DEDUP_KEY = "dedup"
COLUMN_KEY = "column"  # seals SealedBytes columns (aima.store.sealed)


class RawBlobs(Protocol):
    """What the sealed store needs from a backend: bytes under a key, no checksum."""

    def put_chunks(self, key: str, chunks: Iterable[bytes]) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def keys(self) -> Iterator[str]: ...
    def stream(self, key: str) -> Iterator[bytes]: ...
    def stream_range(self, key: str, start: int, length: int) -> Iterator[bytes]: ...
    def ping(self) -> None: ...


class BlobKeys(Protocol):
    """Data keys (see :class:`aima.security.datakeys.DataKeys`)."""

    def for_subject(self, scope: str, subject: str) -> tuple[str, bytes]: ...
    def open(self, key_id: str, scope: str, subject: str) -> bytes: ...
    def shred(self, scope: str, subject: str) -> int: ...
    def system_key(self, name: str) -> bytes: ...


class EncryptedBlobStore:
    def __init__(self, inner: RawBlobs, keys: BlobKeys, spool_dir: Path | None = None) -> None:
        self.inner = inner
        self.data_keys = keys
        self.spool_dir = spool_dir

    # ------------------------------------------------------------------ keys
    def content_key(self, sha256: str) -> str:
        """The blob key of plaintext with this sha256 (keyed: reveals nothing about it)."""
        check_key(sha256)
        dedup = self.data_keys.system_key(DEDUP_KEY)
        return hmac.new(dedup, bytes.fromhex(sha256), hashlib.sha256).hexdigest()

    def _sealer(self, key: str, header: Header) -> Sealer:
        return Sealer(self.data_keys.open(header.key_id, BLOB_SCOPE, key), header, key)

    def _head(self, key: str) -> bytes:
        check_key(key)
        return b"".join(self.inner.stream_range(key, 0, HEADER))

    # ------------------------------------------------------------------ writes
    def put_file(self, path: Path) -> BlobRef:
        sha, size = sha256_file(path)
        return self._put(self.content_key(sha), size, lambda: file_chunks(path))

    def put_bytes(self, data: bytes) -> BlobRef:
        key = self.content_key(hashlib.sha256(data).hexdigest())
        return self._put(key, len(data), lambda: iter((data,)))

    def _put(self, key: str, size: int, source: _Source) -> BlobRef:
        if self.inner.exists(key) and self.verify(key):
            return BlobRef(key, size, created=False)
        key_id, data_key = self.data_keys.for_subject(BLOB_SCOPE, key)
        sealer = Sealer(data_key, Header.new(key_id, size), key)
        self.inner.put_chunks(key, sealer.seal_stream(source()))
        return BlobRef(key, size, created=True)

    def delete(self, sha256: str) -> None:
        """Remove the blob and crypto-shred its data key (copies elsewhere become unreadable)."""
        check_key(sha256)
        self.data_keys.shred(BLOB_SCOPE, sha256)
        self.inner.delete(sha256)

    # ------------------------------------------------------------------ reads
    def stream(self, sha256: str) -> Iterator[bytes]:
        chunks = self.inner.stream(check_key(sha256))
        first = b""
        for piece in chunks:  # enough bytes to tell sealed from legacy plaintext
            first += piece
            if len(first) >= HEADER:
                break
        if not is_sealed(first):
            if first:
                yield first
            yield from chunks
            return
        sealer = self._sealer(sha256, Header.unpack(first, sha256))
        h = sealer.header
        yield from sealer.open_stream(_prepend(first[HEADER:], chunks), 0, h.chunks)

    def stream_range(self, sha256: str, start: int, length: int) -> Iterator[bytes]:
        check_range(start, length)
        head = self._head(sha256)
        if not is_sealed(head):
            yield from self.inner.stream_range(sha256, start, length)
            return
        sealer = self._sealer(sha256, Header.unpack(head, sha256))
        yield from open_range(sealer, self.inner.stream_range, sha256, start, length)

    def get_bytes(self, sha256: str) -> bytes:
        data = b"".join(self.stream(sha256))
        if not is_sealed(self._head(sha256)) and hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(
                f"blob {sha256} is corrupt (checksum mismatch); run `aima storage verify`"
            )
        return data

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(check_key(sha256))

    def keys(self) -> Iterator[str]:
        return self.inner.keys()

    def verify(self, sha256: str) -> bool:
        """Every chunk authenticates, nothing is missing or extra, and the plaintext hashes to
        the key (legacy plaintext blobs: the plain sha256 matches)."""
        try:
            if not self.inner.exists(check_key(sha256)):
                return False
            digest = hashlib.sha256()
            for piece in self.stream(sha256):
                digest.update(piece)
            if not is_sealed(self._head(sha256)):
                return digest.hexdigest() == sha256
            return self.content_key(digest.hexdigest()) == sha256
        except StorageError:
            return False

    @contextmanager
    def local_path(self, sha256: str) -> Iterator[Path]:
        """A decrypted copy (0600, in a private temp dir) for ffmpeg & co.; removed on exit."""
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.spool_dir, prefix="aima-plain-") as tmp:
            path = Path(tmp) / sha256
            self.copy_to(sha256, path)
            yield path

    def copy_to(self, sha256: str, dest: Path) -> None:
        """Decrypt the blob into ``dest`` (created 0600); legacy blobs are checked by sha256."""
        digest = hashlib.sha256()
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            for piece in self.stream(sha256):
                digest.update(piece)
                out.write(piece)
        if not is_sealed(self._head(sha256)) and digest.hexdigest() != sha256:
            dest.unlink(missing_ok=True)
            raise StorageError(f"blob {sha256} is corrupt (checksum mismatch)")

    def ping(self) -> None:
        self.inner.ping()

    # ------------------------------------------------------------------ backups
    def sealed_stream(self, sha256: str) -> Iterator[bytes]:
        """The stored bytes as they are (ciphertext): what a backup should copy."""
        return self.inner.stream(check_key(sha256))

    def put_sealed(self, sha256: str, chunks: Iterable[bytes]) -> None:
        """Put back bytes from :meth:`sealed_stream` (a restore); refused unless they verify
        (their data key must be in the database, their KEK in the keyring)."""
        self.inner.put_chunks(check_key(sha256), chunks)
        if not self.verify(sha256):
            self.inner.delete(sha256)
            raise StorageError(
                f"blob {sha256} does not verify after restore: damaged, or its data key / KEK "
                "is not in this library"
            )


class _Source(Protocol):
    def __call__(self) -> Iterable[bytes]: ...


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
