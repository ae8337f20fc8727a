"""The vector index contract shared by every backend, and the embedding row encoding.

Embeddings live in their database rows (the truth, float32 little-endian bytes);
an index is derived from them and can be rebuilt at any time. All embeddings are
L2-normalised, so every backend reports the L2 distance between unit vectors
(``0`` identical .. ``2`` opposite; ``d**2 = 2 - 2 * cosine``) and callers never
care which metric the engine used internally.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Hit:
    item_id: int
    distance: float  # L2 distance between the unit query and the unit stored vector


@dataclass(frozen=True, slots=True)
class Purge:
    """What an index did so that no copy of its deleted vectors remains (see ``purge``).

    ``action``: ``rebuilt`` (FAISS: fresh structures from the live vectors), ``vacuumed``
    (Milvus Lite: its file rewritten from the live rows), ``compacted`` (a Milvus server
    finished compacting), ``compaction_requested`` (a server accepted the request but did not
    finish in time), ``deleted`` (nothing more could be done). ``compacted`` is True only when
    the engine confirmed the rewrite.
    """

    action: str
    compacted: bool


class VectorIndex(Protocol):
    """One engine holding any number of collections (one per embedding kind and model)."""

    name: str  # identifies the index for its outbox cursor ("faiss", "milvus:<uri>")
    shared: bool  # True: outlives this process, its cursor is kept in the database

    def ensure(self, collection: str, dim: int) -> None: ...

    def upsert(self, collection: str, ids: I64, vectors: F32) -> None: ...

    def delete(self, collection: str, ids: I64) -> None: ...

    def search(self, collection: str, queries: F32, k: int) -> list[list[Hit]]: ...

    def count(self, collection: str) -> int: ...

    def drop(self, collection: str) -> None: ...

    def collections(self) -> list[str]: ...

    def purge(self, collections: Sequence[str]) -> Purge:
        """Leave no copy of the vectors deleted from these collections in memory or files."""
        ...

    def close(self) -> None: ...


def encode_embedding(vector: Any) -> bytes:
    """A unit float32 vector as stored in a row."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("an embedding must be finite and non-zero")
    return (v / norm).astype("<f4").tobytes()


def decode_embedding(blob: bytes) -> F32:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)


def collection_name(kind: str, model_id: str) -> str:
    """``face_dlib_resnet_v1_1a2b3c4d``: safe for every engine (letters, digits, underscore)."""
    slug = re.sub(r"[^a-z0-9]+", "_", model_id.lower()).strip("_")[:48]
    digest = hashlib.sha1(model_id.encode()).hexdigest()[:8]
    return f"{kind}_{slug}_{digest}"
