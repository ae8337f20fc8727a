"""The sealed blob format: chunked AES-256-GCM that can be read from any byte offset.

Layout: a fixed 70-byte header, then the plaintext in 64 KiB chunks, each sealed on its own
and followed by its 16-byte tag::

    header   magic "AIMAENC1" | version | reserved | chunk size (u32) | plaintext size (u64)
             | nonce prefix (8 random bytes) | data key id (40 bytes, NUL padded)
    chunk i  AES-GCM(data key, nonce = prefix || i (u32), plaintext[i*C:(i+1)*C],
                     aad = blob key || header || i (u64) || final flag)

Binding the blob key, the whole header (size, key id), the chunk index and the "final" flag
into every tag means flipping a byte, truncating the file, reordering or swapping chunks,
editing the size, or moving a sealed file under another key are all detected. A range read
decrypts only the chunks it overlaps, so HTTP Range requests for video stay cheap.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Dialect, Engine, LargeBinary
from sqlalchemy.types import TypeDecorator

from aima.core.errors import StorageError

MAGIC = b"AIMAENC1"
VERSION = 1
CHUNK = 64 * 1024
TAG = 16
_HEADER = struct.Struct("!8sBBIQ8s40s")
HEADER = _HEADER.size  # 70
_INDEX = struct.Struct("!QB")
Buffer: TypeAlias = bytes | memoryview


@dataclass(frozen=True, slots=True)
class Header:
    key_id: str  # the DataKey row whose key seals this blob
    size: int  # plaintext bytes
    prefix: bytes  # 8 random bytes: the nonce prefix
    chunk: int = CHUNK

    def pack(self) -> bytes:
        kid = self.key_id.encode("ascii")
        return _HEADER.pack(MAGIC, VERSION, 0, self.chunk, self.size, self.prefix, kid)

    @classmethod
    def new(cls, key_id: str, size: int) -> Header:
        if len(key_id.encode("ascii")) > 40:
            raise ValueError(f"data key id too long for the header: {key_id!r}")
        return cls(key_id, size, os.urandom(8))

    @classmethod
    def unpack(cls, raw: bytes, blob_key: str) -> Header:
        if len(raw) < HEADER or not raw.startswith(MAGIC):
            raise StorageError(f"blob {blob_key} is not a sealed blob (header missing or damaged)")
        _m, version, _r, chunk, size, prefix, kid = _HEADER.unpack(raw[:HEADER])
        if version != VERSION or not 0 < chunk <= 1 << 24:
            raise StorageError(f"blob {blob_key}: unknown sealed format version {version}")
        return cls(kid.rstrip(b"\0").decode("ascii", "replace"), size, prefix, chunk)

    @property
    def chunks(self) -> int:
        return max(1, -(-self.size // self.chunk))

    @property
    def sealed_size(self) -> int:
        return HEADER + self.size + self.chunks * TAG


def is_sealed(head: bytes) -> bool:
    return head.startswith(MAGIC)


class Sealer:
    """Seals and opens the chunks of one blob under its data key."""

    def __init__(self, key: bytes, header: Header, blob_key: str) -> None:
        self.header = header
        self._aead = AESGCM(key)
        self._aad = blob_key.encode("ascii") + header.pack()
        self._blob_key = blob_key

    def _nonce_aad(self, index: int) -> tuple[bytes, bytes]:
        final = 1 if index == self.header.chunks - 1 else 0
        return self.header.prefix + struct.pack("!I", index), self._aad + _INDEX.pack(index, final)

    def seal(self, index: int, plain: Buffer) -> bytes:
        nonce, aad = self._nonce_aad(index)
        return self._aead.encrypt(nonce, plain, aad)

    def open(self, index: int, sealed: Buffer) -> bytes:
        if index >= self.header.chunks:
            raise StorageError(f"blob {self._blob_key} has data after its final chunk")
        nonce, aad = self._nonce_aad(index)
        try:
            plain = self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag as exc:
            raise StorageError(
                f"blob {self._blob_key} is corrupt or tampered with (chunk {index} fails its "
                "authentication tag); run `aima storage verify`"
            ) from exc
        if len(plain) != self.plain_len(index):
            raise StorageError(f"blob {self._blob_key} is truncated (chunk {index} is short)")
        return plain

    def plain_len(self, index: int) -> int:
        h = self.header
        return min(h.chunk, h.size - index * h.chunk) if h.size else 0

    # ------------------------------------------------------------------ whole blobs
    def seal_stream(self, plain: Iterable[bytes]) -> Iterator[bytes]:
        """Header, then the sealed chunks of ``plain`` (which must add up to ``header.size``)."""
        yield self.header.pack()
        done = seen = 0
        for index, piece in enumerate(split(plain, self.header.chunk)):
            seen += len(piece)
            if index >= self.header.chunks:
                break  # the source grew: reported below
            yield self.seal(index, piece)
            done = index + 1
        if self.header.size == 0:
            yield self.seal(0, b"")
            done = 1
        if seen != self.header.size or done != self.header.chunks:
            raise StorageError(
                f"blob {self._blob_key}: the source changed while it was stored "
                f"({seen}+ bytes read, {self.header.size} expected); store it again"
            )

    def open_stream(self, sealed: Iterable[bytes], first: int, count: int) -> Iterator[bytes]:
        """Plaintext of ``count`` consecutive sealed chunks from chunk ``first`` (no header)."""
        index = first
        for record in split(sealed, self.header.chunk + TAG):
            yield self.open(index, record)
            index += 1
        if index < first + count:  # cut at a chunk border: the tags alone cannot tell
            raise StorageError(f"blob {self._blob_key} is truncated (chunk {index} is missing)")


def split(pieces: Iterable[bytes], size: int) -> Iterator[Buffer]:
    """Re-cut a stream into ``size``-byte records (the last may be short), copying only the
    bytes that straddle two pieces."""
    buf = bytearray()
    for piece in pieces:
        view = memoryview(piece)
        if buf:
            take = min(size - len(buf), len(view))
            buf += view[:take]
            view = view[take:]
            if len(buf) < size:
                continue
            yield bytes(buf)
            buf = bytearray()
        whole = len(view) - len(view) % size
        for off in range(0, whole, size):
            yield view[off : off + size]
        buf += view[whole:]
    if buf:
        yield bytes(buf)


class RangeReader(Protocol):
    """A raw store's ``stream_range``: ``(key, start, length) -> chunks``."""

    def __call__(self, key: str, start: int, length: int, /) -> Iterator[bytes]: ...


def open_range(
    sealer: Sealer, read: RangeReader, blob_key: str, start: int, length: int
) -> Iterator[bytes]:
    """Plaintext bytes [start, start+length) of a sealed blob, decrypting only what overlaps."""
    h = sealer.header
    end = min(h.size, start + length)
    if start >= end:
        return
    first, last = start // h.chunk, (end - 1) // h.chunk
    record = h.chunk + TAG
    offset = HEADER + first * record
    want = min((last - first + 1) * record, h.sealed_size - offset)
    pos = first * h.chunk
    for plain in sealer.open_stream(read(blob_key, offset, want), first, last - first + 1):
        lo, hi = max(start - pos, 0), min(end - pos, len(plain))
        if lo < hi:
            yield plain[lo:hi]
        pos += len(plain)


def file_chunks(path: Path, size: int = 1024 * 1024) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while piece := fh.read(size):
            yield piece


# ---------------------------------------------------------------------- sealed columns
COLUMN_MAGIC = b"AIMACOL1"
_COLUMN_KEY = "aima_column_key"  # attribute on an engine's dialect (one key per Database)


def attach_column_key(engine: Engine, key: bytes | None) -> None:
    """Seal :class:`SealedBytes` columns written through ``engine`` with ``key`` (None: off).

    The key rides on the engine's dialect, which is what a column type sees: no global.
    """
    setattr(engine.dialect, _COLUMN_KEY, AESGCM(key) if key is not None else None)


class SealedBytes(TypeDecorator[bytes]):
    """``LargeBinary`` sealed with AES-256-GCM under the engine's column key when it has one.

    Stored: ``AIMACOL1 || nonce || ciphertext+tag``, bound to the column's name. Rows written
    before (plain bytes, no magic) read back unchanged, so switching on needs no migration.
    Meant for vectors (face/voice/text embeddings): one key for the column, because the index
    reads every row; erasure deletes the rows themselves.
    """

    impl = LargeBinary
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column
        self._aad = COLUMN_MAGIC + column.encode()

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        aead: AESGCM | None = getattr(dialect, _COLUMN_KEY, None)
        if value is None or aead is None:
            return value
        nonce = os.urandom(12)
        return COLUMN_MAGIC + nonce + aead.encrypt(nonce, bytes(value), self._aad)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        raw = bytes(value)
        if not raw.startswith(COLUMN_MAGIC):
            return raw  # written before encryption was on
        aead: AESGCM | None = getattr(dialect, _COLUMN_KEY, None)
        if aead is None:
            raise StorageError(
                f"{self.column} is encrypted at rest but no KEK is configured "
                "(AIMA_ENCRYPTION__KEK_FILE)"
            )
        body = raw[len(COLUMN_MAGIC) :]
        try:
            return aead.decrypt(body[:12], body[12:], self._aad)
        except InvalidTag as exc:
            raise StorageError(f"a value of {self.column} is corrupt or tampered with") from exc
