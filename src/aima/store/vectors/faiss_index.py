"""The in-process default index: FAISS, exact up to a threshold, HNSW beyond.

Exact inner-product search over unit vectors is the right default up to about a
million vectors per collection: no training, no recall loss, deletes are real.
Past ``hnsw_threshold`` a collection switches to an HNSW graph, which cannot
remove points: deleted or replaced points become tombstones that an ID selector
hides at search time, and the graph is rebuilt from its own stored vectors once
tombstones exceed 10 %. Everything here lives in memory; ``save``/``load`` write
and read a snapshot so a restart does not have to re-read every row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import faiss
import numpy as np

from aima.core.errors import Conflict, InvalidInput
from aima.store.vectors.base import F32, I64, Hit, Purge, VectorIndex

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
TOMBSTONE_LIMIT = 0.10  # rebuild an HNSW collection once this share of its points is dead
_CHUNK = 100_000  # vectors copied at a time when converting or compacting
# Up to this many queries run on one OpenMP thread: splitting one query over threads gains
# little (memory-bound) and collapses when cores are shared (measured on a busy 2-core host,
# 1M flat: p50 20 ms on one thread, 129 ms on two); concurrent API searches want one each.
SMALL_BATCH = 16


def ip_to_l2(scores: Any) -> F32:
    """Inner product of unit vectors -> L2 distance (``d**2 = 2 - 2 * ip``)."""
    s = np.asarray(scores, dtype=np.float32)
    out: F32 = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * s)).astype(np.float32)
    return out


def _last_wins(ids: I64, vectors: F32) -> tuple[I64, F32]:
    """One vector per id, the last one given (an upsert batch may repeat an id)."""
    if len(np.unique(ids)) == len(ids):
        return ids, vectors
    _, first_of_reversed = np.unique(ids[::-1], return_index=True)
    keep = np.sort(len(ids) - 1 - first_of_reversed)
    return ids[keep], vectors[keep]


class _Flat:
    """Exact search; ids kept by ``IndexIDMap`` (not ``IDMap2``: its reverse map is
    rebuilt on every removal, which would cost a full pass per sync batch)."""

    kind = "flat"

    def __init__(self, dim: int, index: Any = None) -> None:
        self.dim = dim
        self.index: Any = index if index is not None else faiss.IndexIDMap(faiss.IndexFlatIP(dim))

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    @property
    def tombstones(self) -> int:
        return 0

    def upsert(self, ids: I64, vectors: F32) -> None:
        self.delete(ids)
        self.index.add_with_ids(vectors, ids)

    def delete(self, ids: I64) -> None:
        if self.index.ntotal and len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(ids))

    def search(self, queries: F32, k: int) -> tuple[F32, I64]:
        d, labels = self.index.search(queries, k)
        return d, labels

    def live(self) -> Iterator[tuple[I64, F32]]:
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        inner = faiss.downcast_index(self.index.index)
        for start in range(0, len(ids), _CHUNK):
            n = min(_CHUNK, len(ids) - start)
            yield ids[start : start + n], inner.reconstruct_n(start, n)


class _Hnsw:
    """HNSW graph; labels are positions, mapped to ids by ``labels`` (-1 = tombstone).

    The graph keeps every vector it was given (``IndexHNSWFlat``), so a rebuild
    reads them back with ``reconstruct_n`` instead of going to the database.
    """

    kind = "hnsw"

    def __init__(
        self, dim: int, m: int, ef_search: int, ef_construction: int, index: Any = None
    ) -> None:
        self.dim = dim
        self.ef_search = ef_search
        if index is None:
            index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
        self.index: Any = index
        self.labels: I64 = np.empty(0, dtype=np.int64)  # capacity >= ntotal
        self.dead = np.zeros(1, dtype=np.uint8)  # bitmap over positions
        self.tombstones = 0

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def count(self) -> int:
        return self.ntotal - self.tombstones

    def set_labels(self, labels: I64) -> None:
        """After loading a snapshot: positions -> ids, with -1 for tombstones."""
        self._reserve(len(labels))
        self.labels[: len(labels)] = labels
        dead = np.flatnonzero(labels < 0)
        self._mark_dead(dead)
        self.tombstones = len(dead)

    def upsert(self, ids: I64, vectors: F32) -> None:
        self.delete(ids)
        start = self.ntotal
        self._reserve(start + len(ids))
        self.index.add(vectors)
        self.labels[start : start + len(ids)] = ids

    def delete(self, ids: I64) -> None:
        n = self.ntotal
        if not n or not len(ids):
            return
        current = self.labels[:n]
        positions = np.flatnonzero(np.isin(current, ids) & (current >= 0))
        current[positions] = -1
        self._mark_dead(positions)
        self.tombstones += len(positions)

    def search(self, queries: F32, k: int) -> tuple[F32, I64]:
        ef = max(self.ef_search, k)
        keep: list[Any] = []  # the selectors must outlive the search call
        if self.tombstones:
            bitmap = faiss.IDSelectorBitmap(len(self.dead), faiss.swig_ptr(self.dead))
            selector = faiss.IDSelectorNot(bitmap)
            keep += [bitmap, selector]
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)  # type: ignore[attr-defined]
        else:
            params = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]
        d, positions = self.index.search(queries, k, params=params)
        del keep
        found = positions >= 0
        labels = np.full(positions.shape, -1, dtype=np.int64)
        labels[found] = self.labels[positions[found]]
        return d, labels

    def live(self) -> Iterator[tuple[I64, F32]]:
        n = self.ntotal
        for start in range(0, n, _CHUNK):
            size = min(_CHUNK, n - start)
            ids = self.labels[start : start + size]
            alive = ids >= 0
            if alive.any():
                yield ids[alive].copy(), self.index.reconstruct_n(start, size)[alive]

    def _reserve(self, size: int) -> None:
        if size > len(self.labels):
            grown = np.full(max(size, 2 * len(self.labels), 1024), -1, dtype=np.int64)
            grown[: len(self.labels)] = self.labels
            self.labels = grown
        if (size + 7) // 8 > len(self.dead):
            # a new array: a selector built from the old pointer is only used under the lock
            dead = np.zeros(max((size + 7) // 8, 2 * len(self.dead)), dtype=np.uint8)
            dead[: len(self.dead)] = self.dead
            self.dead = dead

    def _mark_dead(self, positions: I64) -> None:
        if len(positions):
            np.bitwise_or.at(self.dead, positions >> 3, (1 << (positions & 7)).astype(np.uint8))


_Collection: TypeAlias = _Flat | _Hnsw


class FaissIndex(VectorIndex):
    """Collections of unit vectors in process memory, one lock for all of them.

    Searches come from API threads while a sync writes; FAISS indexes are not
    safe for concurrent add/search, so every call holds the lock.
    """

    name = "faiss"
    shared = False

    def __init__(
        self,
        *,
        hnsw_threshold: int = 1_000_000,
        hnsw_m: int = 32,
        hnsw_ef_search: int = 128,
        hnsw_ef_construction: int = 80,
    ) -> None:
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.hnsw_ef_search = hnsw_ef_search
        # Below 2*M the build's candidate list is shorter than a node's level-0 neighbour list
        # and the graph is poorer: 1M clustered 128-d vectors, M=32, efSearch=128 gave
        # recall@10 0.94 with efConstruction 40 and 1.00 with 80 (build 230 s -> 400 s, 2 cores).
        self.hnsw_ef_construction = max(hnsw_ef_construction, 2 * hnsw_m)
        self._lock = threading.RLock()
        self._cols: dict[str, _Collection] = {}

    # ---------------------------------------------------------------- the contract
    def ensure(self, collection: str, dim: int) -> None:
        with self._lock:
            col = self._cols.get(collection)
            if col is None:
                self._cols[collection] = _Flat(dim)
            elif col.dim != dim:
                raise Conflict(
                    f"vector collection {collection!r} holds {col.dim}-d vectors, not {dim}-d; "
                    "rebuild the index if the model changed",
                    details={"collection": collection, "dim": col.dim, "given": dim},
                )

    def upsert(self, collection: str, ids: I64, vectors: F32) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not len(ids):
            return
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise InvalidInput(
                f"upsert into {collection!r}: {len(ids)} ids but vectors {vectors.shape}"
            )
        ids, vectors = _last_wins(ids, vectors)
        with self._lock:
            self.ensure(collection, vectors.shape[1])
            col = self._cols[collection]
            col.upsert(ids, vectors)
            self._maintain(collection)

    def delete(self, collection: str, ids: I64) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        with self._lock:
            col = self._cols.get(collection)
            if col is None or not len(ids):
                return
            col.delete(ids)
            self._maintain(collection)

    def search(self, collection: str, queries: F32, k: int) -> list[list[Hit]]:
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        with self._lock:
            col = self._cols.get(collection)
            kk = min(k, col.count) if col is not None else 0
            if col is None or kk <= 0 or not len(q):
                return [[] for _ in range(len(q))]
            if q.shape[1] != col.dim:
                raise InvalidInput(
                    f"queries are {q.shape[1]}-d but collection {collection!r} is {col.dim}-d"
                )
            if len(q) <= SMALL_BATCH:
                scores, labels = _single_threaded(col, q, kk)
            else:
                scores, labels = col.search(q, kk)
        dist = ip_to_l2(scores)
        return [
            [Hit(int(i), float(d)) for i, d in zip(row_ids, row_d, strict=True) if i >= 0]
            for row_ids, row_d in zip(labels, dist, strict=True)
        ]

    def count(self, collection: str) -> int:
        with self._lock:
            col = self._cols.get(collection)
            return col.count if col is not None else 0

    def drop(self, collection: str) -> None:
        with self._lock:
            self._cols.pop(collection, None)

    def collections(self) -> list[str]:
        with self._lock:
            return sorted(self._cols)

    def close(self) -> None:
        with self._lock:
            self._cols.clear()

    def purge(self, collections: Sequence[str]) -> Purge:
        """Copy each collection's live vectors into fresh structures and let the old ones go.

        An HNSW graph keeps deleted vectors as tombstones until it is rebuilt. A flat index
        already moved its survivors over them but keeps its buffer's capacity, whose unused
        tail may still hold them; it is copied too (cheap next to an HNSW build). Files are
        the caller's business: the store rewrites the snapshot afterwards.
        """
        with self._lock:
            for name in collections:
                col = self._cols.get(name)
                if col is None or (isinstance(col, _Hnsw) and not col.tombstones):
                    continue
                target: _Collection = (
                    _Flat(col.dim) if col.count <= self.hnsw_threshold else self._new_hnsw(col.dim)
                )
                self._cols[name] = self._refill(col, target)
        return Purge(action="rebuilt", compacted=True)

    # ---------------------------------------------------------------- introspection
    def kind(self, collection: str) -> str | None:
        """``flat``, ``hnsw`` or None: what the collection currently searches with."""
        with self._lock:
            col = self._cols.get(collection)
            return col.kind if col is not None else None

    def tombstones(self, collection: str) -> int:
        with self._lock:
            col = self._cols.get(collection)
            return col.tombstones if col is not None else 0

    # ---------------------------------------------------------------- flat <-> HNSW
    def _maintain(self, collection: str) -> None:
        """Switch to HNSW past the threshold; compact an HNSW graph with too many tombstones."""
        col = self._cols[collection]
        if isinstance(col, _Flat):
            if col.count > self.hnsw_threshold:
                log.info(
                    "vector collection past the exact-search threshold, building HNSW",
                    extra={"collection": collection, "count": col.count},
                )
                self._cols[collection] = self._refill(col, self._new_hnsw(col.dim))
        elif col.tombstones > TOMBSTONE_LIMIT * col.ntotal:
            target: _Collection = (
                _Flat(col.dim) if col.count <= self.hnsw_threshold else self._new_hnsw(col.dim)
            )
            self._cols[collection] = self._refill(col, target)

    def _new_hnsw(self, dim: int) -> _Hnsw:
        return _Hnsw(dim, self.hnsw_m, self.hnsw_ef_search, self.hnsw_ef_construction)

    @staticmethod
    def _refill(source: _Collection, target: _Collection) -> _Collection:
        for ids, vectors in source.live():
            target.upsert(ids, np.ascontiguousarray(vectors, dtype=np.float32))
        return target

    # ---------------------------------------------------------------- snapshots
    def save(self, directory: Path, applied_id: int) -> None:
        """Write every collection and a manifest naming the files and the outbox position.

        Each save writes new file names (a generation tag) and replaces the
        manifest last, so a crash mid-save leaves the previous snapshot intact.
        """
        directory.mkdir(parents=True, exist_ok=True)
        gen = f"{time.time_ns():x}"
        entries: dict[str, dict[str, Any]] = {}
        with self._lock:
            for name, col in self._cols.items():
                entry: dict[str, Any] = {
                    "dim": col.dim,
                    "kind": col.kind,
                    "count": col.count,
                    "tombstones": col.tombstones,
                    "file": f"{_file_stem(name)}.{gen}.faiss",
                }
                faiss.write_index(col.index, str(directory / entry["file"]))
                if isinstance(col, _Hnsw):
                    entry["labels"] = f"{_file_stem(name)}.{gen}.labels.npy"
                    with (directory / entry["labels"]).open("wb") as fh:
                        np.save(fh, col.labels[: col.ntotal])
                entries[name] = entry
        manifest = {"format": FORMAT, "applied_id": int(applied_id), "collections": entries}
        tmp = directory / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, directory / MANIFEST)
        wanted = {MANIFEST} | {
            str(e[key]) for e in entries.values() for key in ("file", "labels") if key in e
        }
        for stale in directory.iterdir():
            if stale.is_file() and stale.name not in wanted:
                stale.unlink(missing_ok=True)

    def load(self, directory: Path) -> int | None:
        """Replace all collections with the snapshot's; its ``applied_id``, or None if unusable."""
        path = directory / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text())
            if manifest.get("format") != FORMAT:
                raise ValueError(f"snapshot format {manifest.get('format')!r}")
            cols = {
                name: self._read(directory, name, entry)
                for name, entry in manifest["collections"].items()
            }
            applied = int(manifest["applied_id"])
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            log.warning(
                "FAISS snapshot unusable, the index will be rebuilt",
                extra={"dir": str(directory), "error": str(exc)},
            )
            return None
        with self._lock:
            self._cols = cols
        return applied

    def _read(self, directory: Path, name: str, entry: dict[str, Any]) -> _Collection:
        index = faiss.read_index(str(directory / str(entry["file"])))
        dim, kind = int(entry["dim"]), str(entry["kind"])
        col: _Collection
        if kind == "flat":
            col = _Flat(dim, index)
        elif kind == "hnsw":
            col = _Hnsw(dim, self.hnsw_m, self.hnsw_ef_search, self.hnsw_ef_construction, index)
            col.set_labels(np.load(directory / str(entry["labels"])).astype(np.int64))
        else:
            raise ValueError(f"unknown collection kind {kind!r}")
        if index.d != dim or col.count != int(entry["count"]):
            raise ValueError(f"collection {name!r} does not match its manifest entry")
        return col


def _single_threaded(col: _Collection, queries: F32, k: int) -> tuple[F32, I64]:
    """Search on one OpenMP thread (callers hold the index lock, so no FAISS call overlaps)."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return col.search(queries, k)
    finally:
        faiss.omp_set_num_threads(before)


def _file_stem(collection: str) -> str:
    """The collection name where it is a safe file name, else a digest of it."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,120}", collection):
        return collection
    return "c_" + hashlib.sha1(collection.encode()).hexdigest()
