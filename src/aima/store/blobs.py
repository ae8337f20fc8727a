"""Content-addressed blob storage (sha256 keys).

Callers see the ``BlobStore`` protocol only; the local directory backend is the
embedded default and an S3-compatible backend can be dropped in behind the same
methods. Writes are atomic (temp file + fsync + rename), reads can be verified.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from aima.core.errors import NotFound, StorageError

CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BlobRef:
    sha256: str
    size: int
    created: bool  # False when the same bytes were already stored


class BlobStore(Protocol):
    def content_key(self, sha256: str) -> str:
        """The key under which plaintext with this sha256 is (or would be) stored: the sha256
        itself for plain stores, a keyed hash of it when encryption is on."""
        ...

    def put_file(self, path: Path) -> BlobRef: ...
    def put_bytes(self, data: bytes) -> BlobRef: ...
    def get_bytes(self, sha256: str) -> bytes: ...
    def exists(self, sha256: str) -> bool: ...
    def delete(self, sha256: str) -> None: ...
    def keys(self) -> Iterator[str]: ...
    def verify(self, sha256: str) -> bool: ...
    def local_path(self, sha256: str) -> AbstractContextManager[Path]: ...
    def stream(self, sha256: str) -> Iterator[bytes]: ...
    def stream_range(self, sha256: str, start: int, length: int) -> Iterator[bytes]:
        """``length`` bytes from offset ``start`` (fewer at the end of the blob), streamed."""
        ...

    def ping(self) -> None: ...


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_key(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise NotFound(f"not a blob key: {sha256!r}")
    return sha256


def check_range(start: int, length: int) -> None:
    if start < 0 or length < 0:
        raise ValueError(f"invalid byte range: start={start}, length={length}")


class LocalBlobStore:
    """``root/ab/cd/abcd…`` files; ``root/.tmp`` holds writes in flight."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        check_key(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def content_key(self, sha256: str) -> str:
        return check_key(sha256)

    def put_chunks(self, key: str, chunks: Iterable[bytes]) -> None:
        """Store bytes verbatim under ``key`` (no checksum: the encrypted store's backend)."""
        final = self._path(key)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            self._sync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def _sync_dir(self, directory: Path) -> None:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def put_file(self, path: Path) -> BlobRef:
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out, path.open("rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            return self._commit(tmp, digest.hexdigest(), size)
        finally:
            tmp.unlink(missing_ok=True)

    def put_bytes(self, data: bytes) -> BlobRef:
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self._commit(tmp, hashlib.sha256(data).hexdigest(), len(data))
        finally:
            tmp.unlink(missing_ok=True)

    def _commit(self, tmp: Path, sha256: str, size: int) -> BlobRef:
        final = self._path(sha256)
        if final.exists() and self.verify(sha256):
            return BlobRef(sha256, size, created=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return BlobRef(sha256, size, created=True)

    def get_bytes(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"blob {sha256} is missing from {self.root}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(
                f"blob {sha256} is corrupt (checksum mismatch); run `aima storage verify`"
            )
        return data

    @contextmanager
    def open(self, sha256: str) -> Iterator[BinaryIO]:
        try:
            with self._path(sha256).open("rb") as fh:
                yield fh
        except FileNotFoundError as exc:
            raise StorageError(f"blob {sha256} is missing from {self.root}") from exc

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)

    def keys(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            if path.is_file() and len(path.name) == 64:
                yield path.name

    def verify(self, sha256: str) -> bool:
        path = self._path(sha256)
        if not path.is_file():
            return False
        return sha256_file(path)[0] == sha256

    @contextmanager
    def local_path(self, sha256: str) -> Iterator[Path]:
        """A path readable by ffmpeg & co. for the duration of the block."""
        path = self._path(sha256)
        if not path.is_file():
            raise StorageError(f"blob {sha256} is missing from {self.root}")
        yield path

    def ping(self) -> None:
        probe = self._tmp / f".ping-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()

    def stream(self, sha256: str) -> Iterator[bytes]:
        with self.open(sha256) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def stream_range(self, sha256: str, start: int, length: int) -> Iterator[bytes]:
        check_range(start, length)
        with self.open(sha256) as fh:
            fh.seek(start)
            left = length
            while left > 0 and (chunk := fh.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk

    def copy_to(self, sha256: str, dest: Path) -> None:
        with self.open(sha256) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
