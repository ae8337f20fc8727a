"""Keeps a vector index in step with the embeddings stored in the database.

The embedding rows are the truth; an index is derived from them. A collection's rows
live in one table, chosen by its name (:data:`ROW_SOURCES`): ``text_...`` collections
are text segments (semantic search), every other collection is ``observations``
(faces, voices). Writers
add a ``vector_outbox`` row (collection, item id) in the same transaction that
changes an embedding row, so a committed change can never be lost by the index.
``sync`` replays the outbox past a cursor: for each item it reads the row as it
is *now* (present: upsert; gone: delete), so replaying a stretch twice, or out
of a stale snapshot, converges on the same state. That makes crash repair
"replay from the last cursor", with no two-phase commit between database and
index.

Where the cursor lives follows where the index lives: a shared index (a Milvus
server) outlives this process, so its cursor is a ``vector_cursors`` row written
after the index accepted the changes; an in-process index (FAISS) keeps it in
memory and in its snapshot manifest.

Outbox ids must become visible in id order (the identity code serialises its
writers); a row committed with a lower id after a higher one was read would be
skipped until the next rebuild.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sqlalchemy import ColumnElement, func, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from aima.core.clock import utcnow
from aima.core.errors import InvalidInput
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.store.db import Database
from aima.store.models import Observation, TextSegment, VectorCursor, VectorOutbox
from aima.store.vectors.base import F32, I64, Hit, Purge, VectorIndex

log = logging.getLogger(__name__)

BATCH = 5_000  # outbox rows / observation rows read per round trip
SNAPSHOT_AFTER = 1_000  # a sync applying at least this many rows saves a snapshot


class RowSource:
    """The table holding the embeddings of the collections whose names start with ``prefix``.

    ``dim`` is the row's dimension column; None: derived from the embedding's length.
    """

    def __init__(
        self,
        prefix: str,
        id_: InstrumentedAttribute[int],
        collection: InstrumentedAttribute[Any],
        embedding: InstrumentedAttribute[Any],
        dim: InstrumentedAttribute[int] | None = None,
    ) -> None:
        self.prefix, self.id, self.collection, self.embedding, self.dim = (
            prefix,
            id_,
            collection,
            embedding,
            dim,
        )

    def owns(self, collection: str) -> bool:
        return collection.startswith(self.prefix)

    def owns_clause(self, column: Any) -> ColumnElement[bool]:
        """``column`` (a collection name) belongs to this source (not to a longer prefix's)."""
        if self.prefix:
            return column.startswith(self.prefix, autoescape=True)  # type: ignore[no-any-return]
        others = [src.prefix for src in ROW_SOURCES if src.prefix]
        return ~or_(*[column.startswith(p, autoescape=True) for p in others])

    def columns(self) -> tuple[Any, ...]:
        """id, collection, dim (0: from the bytes), embedding."""
        dim = self.dim if self.dim is not None else literal(0)
        return (
            self.id.label("id"),
            self.collection.label("collection"),
            dim.label("dim"),
            self.embedding.label("embedding"),
        )

    def present(self) -> list[ColumnElement[bool]]:
        return [self.collection.is_not(None), self.embedding.is_not(None)]


ROW_SOURCES: tuple[RowSource, ...] = (
    RowSource("text_", TextSegment.id, TextSegment.collection, TextSegment.embedding),
    RowSource("", Observation.id, Observation.collection, Observation.embedding, Observation.dim),
)


def row_source(collection: str) -> RowSource:
    return next(src for src in ROW_SOURCES if src.owns(collection))


@runtime_checkable
class Snapshotting(Protocol):
    """An in-process index that can save and load itself (FAISS)."""

    def save(self, directory: Path, applied_id: int) -> None: ...

    def load(self, directory: Path) -> int | None: ...


class VectorStore:
    """The database-backed front of one vector index: sync, search, rebuild, status."""

    def __init__(
        self, db: Database, index: VectorIndex, *, snapshot_dir: Path | None = None
    ) -> None:
        self.db = db
        self.index = index
        self.snapshot_dir = snapshot_dir
        self._lock = threading.RLock()  # one sync / rebuild / snapshot at a time
        self._ready = False
        self._cursor = 0
        self._unsaved = 0  # outbox rows applied since the last snapshot

    # ---------------------------------------------------------------- writers
    @staticmethod
    def enqueue(session: Session, collection: str, item_ids: Iterable[int]) -> None:
        """Record changed (inserted, updated or deleted) embedding rows in the caller's transaction."""
        rows = [{"collection": collection, "item_id": int(i)} for i in item_ids]
        if rows:
            session.execute(insert(VectorOutbox), rows)

    # ---------------------------------------------------------------- start-up
    def open(self) -> None:
        """Bring the index up to date; called by every public method, cheap once done.

        An in-process index loads its snapshot if one matches this database
        (else rebuilds from the rows), replays the outbox, and checks its counts
        against the rows, rebuilding on a mismatch (e.g. the database was
        restored from a backup). A shared index only replays from its cursor.
        """
        with self._lock:
            if self._ready:
                return
            if self.index.shared:
                self._cursor = self._read_cursor()
                self._sync()
            else:
                if not self._load_snapshot():
                    self._rebuild(None, no_progress)
                self._sync()
                if not self._counts_match():
                    self._sync()
                    if not self._counts_match():
                        log.warning(
                            "vector index does not match the database after replay, rebuilding",
                            extra={"index": self.index.name},
                        )
                        self._rebuild(None, no_progress)
            self._ready = True

    def _load_snapshot(self) -> bool:
        if self.snapshot_dir is None or not isinstance(self.index, Snapshotting):
            return False
        applied = self.index.load(self.snapshot_dir)
        if applied is None:
            return False
        with self.db.session() as s:
            top = self._max_outbox_id(s)
        if applied > top:  # a snapshot of some other (or a restored older) database
            log.warning(
                "FAISS snapshot is ahead of the database outbox, rebuilding",
                extra={"snapshot_applied_id": applied, "outbox_max_id": top},
            )
            for name in self.index.collections():
                self.index.drop(name)
            return False
        self._cursor = applied
        return True

    def _counts_match(self) -> bool:
        rows = self._db_counts(None)
        names = set(rows) | set(self.index.collections())
        return all(self.index.count(n) == rows.get(n, 0) for n in names)

    # ---------------------------------------------------------------- replay
    def sync(self) -> int:
        """Apply outbox rows past the cursor; the number applied (0 when up to date)."""
        with self._lock:
            if not self._ready:
                self.open()
            return self._sync()

    def _sync(self) -> int:
        applied = 0
        while True:
            with self.db.session() as s:
                outbox = s.execute(
                    select(VectorOutbox.id, VectorOutbox.collection, VectorOutbox.item_id)
                    .where(VectorOutbox.id > self._cursor)
                    .order_by(VectorOutbox.id)
                    .limit(BATCH)
                ).all()
                if not outbox:
                    break
                current: dict[int, list[Any]] = {}
                for i, src in enumerate(ROW_SOURCES):
                    items = select(VectorOutbox.item_id).where(
                        VectorOutbox.id > self._cursor,
                        VectorOutbox.id <= outbox[-1].id,
                        src.owns_clause(VectorOutbox.collection),
                    )
                    current[i] = list(
                        s.execute(select(*src.columns()).where(src.id.in_(items))).all()
                    )
            self._apply(outbox, current)
            last = int(outbox[-1].id)
            if self.index.shared:
                self._write_cursor(last)
            self._cursor = last
            applied += len(outbox)
            if len(outbox) < BATCH:
                break
        if applied:
            self._unsaved += applied
            log.debug("vector outbox applied", extra={"rows": applied, "cursor": self._cursor})
            if applied >= SNAPSHOT_AFTER:
                self._save_snapshot()
        return applied

    def _apply(self, outbox: Sequence[Any], current: dict[int, list[Any]]) -> None:
        """Make the index hold exactly the rows' current embeddings for these items.

        ``current``: per row source (index in :data:`ROW_SOURCES`), the rows as they are now.
        """
        rows = {(i, int(r.id)): r for i, found in current.items() for r in found}
        deletes: dict[str, set[int]] = defaultdict(set)
        for change in outbox:
            src = ROW_SOURCES.index(row_source(change.collection))
            row = rows.get((src, int(change.item_id)))
            if row is None or row.collection != change.collection:  # deleted, or moved away
                deletes[change.collection].add(int(change.item_id))
        for collection, ids in deletes.items():
            self.index.delete(collection, np.fromiter(ids, dtype=np.int64, count=len(ids)))
        for found in current.values():
            for collection, dim, group in _group_rows(found):
                self.index.ensure(collection, dim)
                self.index.upsert(collection, *group)

    # ---------------------------------------------------------------- cursor rows
    def _read_cursor(self) -> int:
        with self.db.session() as s:
            row = s.get(VectorCursor, self.index.name)
            return int(row.applied_id) if row is not None else 0

    def _write_cursor(self, applied_id: int) -> None:
        for attempt in range(2):
            try:
                with self.db.session() as s:
                    row = s.get(VectorCursor, self.index.name)
                    if row is None:
                        s.add(VectorCursor(name=self.index.name, applied_id=applied_id))
                    else:
                        row.applied_id = applied_id
                        row.updated_at = utcnow()
                return
            except IntegrityError:  # another process created the row first: update it
                if attempt:
                    raise

    # ---------------------------------------------------------------- reads
    def search(self, collection: str, queries: Any, k: int) -> list[list[Hit]]:
        """The ``k`` nearest stored vectors per query, nearest first; sees every committed write."""
        q: F32 = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2:
            raise InvalidInput(f"queries must be one vector or a matrix, got shape {q.shape}")
        if k <= 0 or not len(q):
            return [[] for _ in range(len(q))]
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        unit = np.ascontiguousarray(q / np.where(norms > 0, norms, 1.0), dtype=np.float32)
        self.sync()
        return self.index.search(collection, unit, k)

    def status(self) -> dict[str, Any]:
        """What ``aima index status`` prints and a readiness check reads."""
        self.open()
        with self.db.session() as s:
            top = self._max_outbox_id(s)
            pending = s.scalar(
                select(func.count()).select_from(VectorOutbox).where(VectorOutbox.id > self._cursor)
            )
        rows = self._db_counts(None)
        names = sorted(set(rows) | set(self.index.collections()))
        collections = {n: {"indexed": self.index.count(n), "rows": rows.get(n, 0)} for n in names}
        return {
            "backend": self.index.name,
            "shared": self.index.shared,
            "cursor": self._cursor,
            "outbox_max_id": top,
            "pending": int(pending or 0),
            "collections": collections,
            "in_sync": not pending and all(c["indexed"] == c["rows"] for c in collections.values()),
        }

    # ---------------------------------------------------------------- rebuild
    def rebuild(
        self, collections: list[str] | None = None, progress: ProgressHook | None = None
    ) -> dict[str, int]:
        """Drop and refill collections from the rows; vectors indexed per collection.

        All collections (None) also resets the cursor, so this is the cure for
        any drift. A subset leaves the cursor alone: replaying over the fresh
        collections is harmless.
        """
        with self._lock:
            if collections is not None and not self._ready:
                self.open()
            counts = self._rebuild(collections, progress or no_progress)
            self._ready = True
            self._sync()
            return counts

    def _rebuild(self, only: list[str] | None, progress: ProgressHook) -> dict[str, int]:
        with self.db.session() as s:
            start_max = self._max_outbox_id(s)
        rows = self._db_counts(only)
        targets = set(only) if only is not None else set(rows) | set(self.index.collections())
        for name in targets:
            self.index.drop(name)
        total = sum(rows.get(n, 0) for n in targets)
        step = "vectors.rebuild"
        progress(Progress(step, 0, total, message=f"rebuilding {self.index.name}"))
        counts: dict[str, int] = dict.fromkeys(sorted(targets), 0)
        done = 0
        for src in ROW_SOURCES:
            last_id = 0
            while True:
                stmt = (
                    select(*src.columns())
                    .where(src.id > last_id, *src.present())
                    .order_by(src.id)
                    .limit(BATCH)
                )
                if only is not None:
                    stmt = stmt.where(src.collection.in_(sorted(targets)))
                else:
                    stmt = stmt.where(src.owns_clause(src.collection))
                with self.db.session() as s:
                    batch = s.execute(stmt).all()
                if not batch:
                    break
                for collection, dim, (ids, vectors) in _group_rows(batch):
                    self.index.ensure(collection, dim)
                    self.index.upsert(collection, ids, vectors)
                    counts[collection] = counts.get(collection, 0) + len(ids)
                last_id = int(batch[-1].id)
                done += len(batch)
                progress(Progress(step, done, max(total, done)))
        if only is None:
            self._cursor = start_max
            if self.index.shared:
                self._write_cursor(start_max)
        log.info(
            "vector index rebuilt",
            extra={"index": self.index.name, "vectors": done, "cursor": self._cursor},
        )
        self._unsaved = 1  # make sure the snapshot reflects the new state
        self._save_snapshot()
        return counts

    # ---------------------------------------------------------------- purge
    def purge(self, collections: Sequence[str]) -> Purge:
        """Apply pending deletes, then leave no copy of deleted vectors behind.

        The index rewrites what it holds (memory, engine files; see ``VectorIndex.purge``)
        and an in-process index's snapshot is written again, its old files removed. The
        rewrite runs outside this store's lock, so searches keep being answered (a Milvus
        Lite search is served from memory; FAISS ones wait for its index lock); index
        writes wait for the rewrite (the index serialises them with it).
        """
        self.sync()
        done = self.index.purge(sorted(set(collections)))
        with self._lock:
            self._unsaved = max(self._unsaved, 1)
            self._save_snapshot()
        log.info(
            "vector index purged",
            extra={"index": self.index.name, "action": done.action, "compacted": done.compacted},
        )
        return done

    # ---------------------------------------------------------------- snapshots, close
    def _save_snapshot(self) -> None:
        if self.snapshot_dir is None or not isinstance(self.index, Snapshotting):
            return
        if not self._unsaved:
            return
        self.index.save(self.snapshot_dir, self._cursor)
        self._unsaved = 0

    def close(self) -> None:
        with self._lock:
            if self._ready:
                self._save_snapshot()
            self.index.close()
            self._ready = False

    # ---------------------------------------------------------------- queries
    @staticmethod
    def _max_outbox_id(s: Session) -> int:
        return int(s.scalar(select(func.max(VectorOutbox.id))) or 0)

    def _db_counts(self, only: list[str] | None) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.db.session() as s:
            for src in ROW_SOURCES:
                stmt = (
                    select(src.collection, func.count())
                    .where(*src.present())
                    .group_by(src.collection)
                )
                if only is not None:
                    stmt = stmt.where(src.collection.in_(only))
                for c, n in s.execute(stmt.where(src.owns_clause(src.collection))).all():
                    counts[str(c)] = int(n)
        return counts


def _group_rows(rows: Iterable[Any]) -> list[tuple[str, int, tuple[I64, F32]]]:
    """(collection, dim, (ids, vectors)) for embedding rows; malformed rows are logged and skipped.

    A row whose bytes do not match its collection's dim cannot be indexed; skipping
    it (loudly) keeps one bad row from stopping every later sync.
    """
    grouped: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        grouped[r.collection].append(r)
    out: list[tuple[str, int, tuple[I64, F32]]] = []
    for collection, members in grouped.items():
        dim = int(members[0].dim) or len(members[0].embedding) // 4  # 0: text rows, from bytes
        good: list[Any] = []
        for r in members:
            if int(r.dim) in (0, dim) and len(r.embedding) == 4 * dim:
                good.append(r)
            else:
                log.error(
                    "embedding has the wrong size for its collection, not indexed",
                    extra={"item_id": r.id, "collection": collection, "dim": r.dim},
                )
        ids = np.fromiter((int(r.id) for r in good), dtype=np.int64, count=len(good))
        flat = np.frombuffer(b"".join(bytes(r.embedding) for r in good), dtype="<f4")
        vectors: F32 = flat.reshape(len(good), dim).astype(np.float32)
        out.append((collection, dim, (ids, vectors)))
    return out
