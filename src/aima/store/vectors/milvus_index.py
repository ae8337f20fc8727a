"""Milvus through ``pymilvus``: a server or cluster at scale, Milvus Lite (a file) here.

The same client code talks to both; only the index type differs, because Milvus
Lite builds FLAT indexes only. Collections are prefixed (``aima_``) so a shared
server can hold other applications' collections without a rebuild touching them.
Every call uses Strong consistency: a search right after an upsert must see it,
which is what the outbox's read-your-writes promise rests on.

Deleting from Milvus hides a vector; its bytes stay until storage is rewritten. A server
compacts on request. Milvus Lite (2.5) cannot compact, and keeps its data in one SQLite
file (a table per collection, one row per entity with the vector's float32 bytes in it),
written without ``secure_delete``: deleted rows, dropped collections and the cells that
B-tree page splits moved stay readable in free pages and free space inside pages, even
after dropping and re-creating a collection. ``purge`` therefore rewrites that file with
SQLite's ``VACUUM`` from a connection of our own. The Lite server has no busy timeout, so a
write of its own during the rewrite would fail with "database is locked": writes to a Lite
file are serialised with the purge by a per-file lock (one process holds a Lite file, so a
lock in this process is enough). Searches are served from the loaded collection in memory
and keep working meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aima.core.errors import ConfigError, Conflict, InvalidInput
from aima.store.vectors.base import F32, I64, Hit, Purge, VectorIndex

log = logging.getLogger(__name__)

CONSISTENCY = "Strong"
MAX_TOPK = 16_384  # Milvus's limit on ``limit`` and on queries per request
# Rows per upsert request, in bytes of vector data. Milvus Lite 2.5 slows down super-linearly
# with request size (measured, dim 128: 1,000 rows 20k rows/s, 8,000 rows 7k/s, 16,000 rows
# ~200 rows/s), so requests stay small; a server is fine with this size too.
_BATCH_BYTES = 512 << 10
_DELETE_BATCH = 10_000
_NAME = re.compile(r"[A-Za-z0-9_]{1,200}")

# Milvus Lite runs one server process per file per Python process, shared by every
# client on that file: it is stopped when the last MilvusIndex on the file closes.
_lite_users: dict[str, int] = {}
_lite_lock = threading.Lock()
# Per Lite file: held by every write and by a purge's file rewrite (see the module docstring).
_lite_writes: dict[str, threading.Lock] = {}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_VACUUM_BUSY_S = 60.0  # wait this long for a read of the Lite server's own to finish
_COMPACTION_POLL_S = 0.5


def is_local(uri: str) -> bool:
    """A Milvus Lite file rather than a server address."""
    return not uri.startswith(("http://", "https://", "tcp://", "grpc://", "unix:"))


def _ip_to_l2(score: float) -> float:
    return float(np.sqrt(max(0.0, 2.0 - 2.0 * score)))


class MilvusIndex(VectorIndex):
    """Collections with an int64 primary key ``id`` and a float vector ``vector`` (IP metric)."""

    shared = True

    def __init__(
        self,
        uri: str,
        token: str | None = None,
        *,
        prefix: str = "aima_",
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 200,
        hnsw_ef_search: int = 128,
        compaction_wait_s: float = 120.0,
    ) -> None:
        # lazy: only deployments that choose Milvus pay for importing it
        from pymilvus import MilvusClient  # type: ignore[import-untyped]

        self.local = is_local(uri)
        if self.local:
            path = Path(uri).expanduser().resolve()
            if path.suffix != ".db":
                raise ConfigError(
                    f"Milvus Lite needs a file path ending in .db, got {uri!r}; "
                    "set AIMA_VECTORS__MILVUS_URI to a .db file or an http:// server address"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            uri = str(path)
        self.uri = uri
        self.name = _cursor_name(f"milvus:{uri}")
        self.prefix = prefix
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction
        self.hnsw_ef_search = hnsw_ef_search
        self.compaction_wait_s = compaction_wait_s
        self._dims: dict[str, int] = {}  # collections known to exist, with their dim
        self._lock = threading.Lock()  # guards collection creation and the cache
        self._writes: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self.local:
            with _lite_lock:
                _lite_users[uri] = _lite_users.get(uri, 0) + 1
                self._writes = _lite_writes.setdefault(uri, threading.Lock())
        try:
            self._client: Any = MilvusClient(uri=uri, token=token or "")
        except Exception:
            self._release_lite()
            raise
        self._closed = False

    # ---------------------------------------------------------------- the contract
    def ensure(self, collection: str, dim: int) -> None:
        with self._lock:
            known = self._dim(collection)
            if known is not None:
                if known != dim:
                    raise Conflict(
                        f"vector collection {collection!r} holds {known}-d vectors, not {dim}-d; "
                        "rebuild the index if the model changed",
                        details={"collection": collection, "dim": known, "given": dim},
                    )
                return
            self._create(collection, dim)
            self._dims[collection] = dim

    def upsert(self, collection: str, ids: I64, vectors: F32) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32)
        if not len(ids):
            return
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise InvalidInput(
                f"upsert into {collection!r}: {len(ids)} ids but vectors {vectors.shape}"
            )
        self.ensure(collection, vectors.shape[1])
        # one row per id (the last one given): Milvus keeps duplicates of one request
        _, rev_first = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - rev_first)
        ids, vectors = ids[keep], vectors[keep]
        step = max(1, _BATCH_BYTES // (4 * vectors.shape[1]))
        for start in range(0, len(ids), step):
            rows = [
                {"id": int(i), "vector": v}
                for i, v in zip(
                    ids[start : start + step], vectors[start : start + step], strict=True
                )
            ]
            with self._writes:
                self._client.upsert(collection_name=self._full(collection), data=rows)

    def delete(self, collection: str, ids: I64) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids) or self._dim(collection) is None:
            return
        for start in range(0, len(ids), _DELETE_BATCH):
            chunk = [int(i) for i in ids[start : start + _DELETE_BATCH]]
            with self._writes:
                self._client.delete(collection_name=self._full(collection), ids=chunk)

    def search(self, collection: str, queries: F32, k: int) -> list[list[Hit]]:
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        dim = self._dim(collection)
        if dim is None or k <= 0 or not len(q):
            return [[] for _ in range(len(q))]
        if q.shape[1] != dim:
            raise InvalidInput(
                f"queries are {q.shape[1]}-d but collection {collection!r} is {dim}-d"
            )
        limit = min(k, MAX_TOPK)
        params: dict[str, Any] = {"metric_type": "IP"}
        if not self.local:
            params["params"] = {"ef": max(self.hnsw_ef_search, limit)}
        from pymilvus.exceptions import MilvusException  # type: ignore[import-untyped]

        per_request = max(1, min(MAX_TOPK, _BATCH_BYTES // (4 * dim)))
        out: list[list[Hit]] = []
        for start in range(0, len(q), per_request):
            try:
                res = self._client.search(
                    collection_name=self._full(collection),
                    data=list(q[start : start + per_request]),
                    limit=limit,
                    search_params=params,
                    output_fields=[],
                    consistency_level=CONSISTENCY,
                )
            except MilvusException:
                # dropped by another process since we cached it: same as never created
                if self._forget_if_gone(collection):
                    return [[] for _ in range(len(q))]
                raise
            out += [
                [Hit(int(h["id"]), _ip_to_l2(float(h["distance"]))) for h in row] for row in res
            ]
        return out

    def count(self, collection: str) -> int:
        if self._dim(collection) is None:
            return 0
        res = self._client.query(
            collection_name=self._full(collection),
            output_fields=["count(*)"],
            consistency_level=CONSISTENCY,
        )
        return int(res[0]["count(*)"]) if res else 0

    def drop(self, collection: str) -> None:
        with self._lock:
            self._dims.pop(collection, None)
            if self._client.has_collection(collection_name=self._full(collection)):
                with self._writes:
                    self._client.drop_collection(collection_name=self._full(collection))

    def collections(self) -> list[str]:
        names = self._client.list_collections()
        return sorted(n[len(self.prefix) :] for n in names if n.startswith(self.prefix))

    def purge(self, collections: Sequence[str]) -> Purge:
        """Rewrite storage so deleted vectors are gone: VACUUM a Lite file, compact on a server."""
        if self.local:
            return self._vacuum_lite()
        return self._compact_server(collections)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._client.close()
        finally:
            self._release_lite()

    # ---------------------------------------------------------------- purge
    def _vacuum_lite(self) -> Purge:
        """Rewrite the Lite file from its live rows; free pages and cell gaps do not survive.

        VACUUM builds a fresh database from the live rows (the deleted ones are not read)
        and copies it over the file, which then ends at the last live page. Row ids are
        kept (every Lite table has an ``INTEGER PRIMARY KEY``), and the server's connection
        sees the new file on its next read, as with any other writer.
        """
        path = Path(self.uri)
        with path.open("rb") as fh:
            magic = fh.read(len(_SQLITE_MAGIC))
        if magic != _SQLITE_MAGIC:  # a Milvus Lite that stores its data some other way
            log.warning(
                "Milvus Lite file is not an SQLite database; deleted vectors cannot be purged",
                extra={"uri": self.uri},
            )
            return Purge(action="deleted", compacted=False)
        started = time.perf_counter()
        with self._writes:
            conn = sqlite3.connect(path, timeout=_VACUUM_BUSY_S, isolation_level=None)
            try:
                conn.execute("PRAGMA secure_delete = ON")
                conn.execute("VACUUM")
                free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            finally:
                conn.close()
        log.info(
            "Milvus Lite file rewritten (VACUUM)",
            extra={"uri": self.uri, "seconds": round(time.perf_counter() - started, 3)},
        )
        return Purge(action="vacuumed", compacted=free == 0)

    def _compact_server(self, collections: Sequence[str]) -> Purge:
        """Ask the server to compact each collection; compacted when every job completed."""
        jobs = [
            int(self._client.compact(collection_name=self._full(c)))
            for c in sorted(set(collections))
            if self._dim(c) is not None
        ]
        if not jobs:  # nothing of ours left to compact (dropped collections are the server's GC)
            return Purge(action="deleted", compacted=False)
        deadline = time.monotonic() + self.compaction_wait_s
        pending = set(jobs)
        while pending:
            pending = {j for j in pending if self._client.get_compaction_state(j) != "Completed"}
            if pending and time.monotonic() >= deadline:
                log.warning(
                    "Milvus compaction did not finish in time",
                    extra={"jobs": sorted(pending), "waited_s": self.compaction_wait_s},
                )
                return Purge(action="compaction_requested", compacted=False)
            if pending:
                time.sleep(_COMPACTION_POLL_S)  # the server offers no completion callback
        return Purge(action="compacted", compacted=True)

    # ---------------------------------------------------------------- helpers
    def _full(self, collection: str) -> str:
        if not _NAME.fullmatch(collection):
            raise InvalidInput(
                f"{collection!r} is not a valid Milvus collection name (letters, digits, "
                "underscores); build names with aima.store.vectors.collection_name()"
            )
        return self.prefix + collection

    def _dim(self, collection: str) -> int | None:
        """The collection's dim if it exists (loading it for search if needed), else None."""
        if collection in self._dims:
            return self._dims[collection]
        full = self._full(collection)
        if not self._client.has_collection(collection_name=full):
            return None
        desc = self._client.describe_collection(collection_name=full)
        dim = next(int(f["params"]["dim"]) for f in desc["fields"] if f["name"] == "vector")
        from pymilvus.client.types import LoadState  # type: ignore[import-untyped]

        state = self._client.get_load_state(collection_name=full)
        if state.get("state") != LoadState.Loaded:  # reopened after a restart: load for search
            with self._writes:
                self._client.load_collection(collection_name=full)
        self._dims[collection] = dim
        return dim

    def _create(self, collection: str, dim: int) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        index = self._client.prepare_index_params()
        if self.local:  # Milvus Lite: FLAT (exact) is what it builds
            index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        else:
            index.add_index(
                field_name="vector",
                index_type="HNSW",
                metric_type="IP",
                params={"M": self.hnsw_m, "efConstruction": self.hnsw_ef_construction},
            )
        with self._writes:
            self._client.create_collection(
                collection_name=self._full(collection),
                schema=schema,
                index_params=index,
                consistency_level=CONSISTENCY,
            )

    def _forget_if_gone(self, collection: str) -> bool:
        with self._lock:
            self._dims.pop(collection, None)
        return not self._client.has_collection(collection_name=self._full(collection))

    def _release_lite(self) -> None:
        if not self.local:
            return
        with _lite_lock:
            left = _lite_users.get(self.uri, 1) - 1
            if left > 0:
                _lite_users[self.uri] = left
                return
            _lite_users.pop(self.uri, None)
            _lite_writes.pop(self.uri, None)
        from milvus_lite.server_manager import server_manager_instance  # type: ignore[import-untyped]

        server_manager_instance.release_server(self.uri)


def _cursor_name(name: str) -> str:
    """Fits ``vector_cursors.name`` (200 chars) while staying unique per URI."""
    if len(name) <= 200:
        return name
    return name[:150] + "#" + hashlib.sha256(name.encode()).hexdigest()[:40]
