"""The vector layer against real rows: FAISS and Milvus Lite, on SQLite and PostgreSQL.

Every test writes ``Observation`` rows and their outbox entries the way the
identity code does, then checks what the index answers against numpy brute
force over the same unit vectors.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from aima.core.errors import InvalidInput
from aima.core.settings import Settings
from aima.store import migrate
from aima.store.db import Database
from aima.store.models import (
    AnalysisResult,
    Job,
    Media,
    Observation,
    VectorCursor,
    VectorOutbox,
)
from aima.store.vectors import (
    Hit,
    VectorStore,
    collection_name,
    encode_embedding,
    make_vector_store,
)
from aima.store.vectors.faiss_index import FaissIndex
from aima.store.vectors.milvus_index import MilvusIndex
from tests.conftest import make_settings

pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:UserWarning")

FACES = collection_name("face", "dlib_resnet_v1")
VOICES = collection_name("voice", "ecapa")
EXACT = 2e-3  # float32 round-off on a distance of zero


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute(base: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> list[list[int]]:
    d = ((queries[:, None, :] - base[None, :, :]) ** 2).sum(-1)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return [[int(ids[j]) for j in row] for row in order]


def recall(got: list[list[Hit]], truth: list[list[int]]) -> float:
    hits = sum(len({h.item_id for h in g} & set(t)) for g, t in zip(got, truth, strict=True))
    return hits / sum(len(t) for t in truth)


@dataclass
class World:
    """A migrated database with one media/job/result to hang observations on."""

    db: Database
    backend: str
    tmp: Path
    stores: list[VectorStore] = field(default_factory=list)
    refs: Iterator[int] = field(default_factory=itertools.count)

    def index(self, **faiss_options: int) -> FaissIndex | MilvusIndex:
        if self.backend == "faiss":
            return FaissIndex(**faiss_options)
        return MilvusIndex(str(self.tmp / "milvus.db"))

    def store(self, **faiss_options: int) -> VectorStore:
        snapshots = self.tmp / "snap" if self.backend == "faiss" else None
        store = VectorStore(self.db, self.index(**faiss_options), snapshot_dir=snapshots)
        self.stores.append(store)
        return store

    def add(self, collection: str, vectors: np.ndarray) -> np.ndarray:
        """Insert rows and their outbox entries in one transaction; their ids."""
        with self.db.session() as s:
            rows = [
                Observation(
                    kind=collection.split("_")[0],
                    media_id="m1",
                    result_id="r1",
                    collection=collection,
                    model_id="test",
                    ref=f"track:{next(self.refs)}",
                    start=0.0,
                    end=1.0,
                    embedding=encode_embedding(v),
                    dim=len(v),
                )
                for v in vectors
            ]
            s.add_all(rows)
            s.flush()
            VectorStore.enqueue(s, collection, [r.id for r in rows])
            return np.array([r.id for r in rows], dtype=np.int64)

    def replace(self, collection: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self.db.session() as s:
            for i, v in zip(ids, vectors, strict=True):
                s.execute(
                    update(Observation)
                    .where(Observation.id == int(i))
                    .values(embedding=encode_embedding(v))
                )
            VectorStore.enqueue(s, collection, ids.tolist())

    def remove(self, collection: str, ids: np.ndarray) -> None:
        with self.db.session() as s:
            s.execute(delete(Observation).where(Observation.id.in_(ids.tolist())))
            VectorStore.enqueue(s, collection, ids.tolist())


@pytest.fixture(params=["faiss", "milvus"])
def world(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[World]:
    db = Database(db_url)
    migrate.upgrade(db)
    with db.session() as s:
        s.add(
            Media(
                id="m1", sha256="0" * 64, size=1, kind="video", format="mp4",
                mime="video/mp4", original_name="a.mp4", info={},
            )
        )  # fmt: skip
        s.flush()
        s.add(Job(id="j1", media_id="m1", analyzers=["faces"], state="done"))
        s.flush()
        s.add(
            AnalysisResult(
                id="r1", media_id="m1", job_id="j1", analyzer="faces", analyzer_version="1",
                model_id="test", config={}, config_hash="x", data={},
            )
        )  # fmt: skip
    w = World(db, request.param, tmp_path)
    try:
        yield w
    finally:
        for store in w.stores:
            store.close()
        db.dispose()


def test_exact_matches_come_first_within_k(world: World) -> None:
    rng = np.random.default_rng(1)
    x = unit(rng, 200, 32)
    ids = world.add(FACES, x)
    store = world.store()

    res = store.search(FACES, x[:5], 10)
    assert len(res) == 5
    for row, expected in zip(res, ids[:5], strict=True):
        assert len(row) == 10
        assert row[0].item_id == expected and row[0].distance < EXACT
        assert [h.distance for h in row] == sorted(h.distance for h in row)
    assert [[h.item_id for h in row] for row in res] == brute(x, ids, x[:5], 10)
    position = {int(i): n for n, i in enumerate(ids)}
    for q, row in zip(x[:5], res, strict=True):  # L2 between unit vectors, whatever the engine
        expected = [float(np.linalg.norm(q - x[position[h.item_id]])) for h in row]
        assert [h.distance for h in row] == pytest.approx(expected, abs=1e-3)

    assert len(store.search(FACES, x[7], 1)[0]) == 1  # a single vector is one query
    assert len(store.search(FACES, x[:2], 500)[0]) == 200  # fewer when the collection is small
    assert store.search(FACES, x[:2], 0) == [[], []]


def test_upsert_replaces_and_deleted_rows_disappear(world: World) -> None:
    rng = np.random.default_rng(2)
    x = unit(rng, 50, 16)
    ids = world.add(FACES, x)
    store = world.store()
    assert store.search(FACES, x[:1], 1)[0][0].item_id == ids[0]

    fresh = unit(rng, 3, 16)
    world.replace(FACES, ids[:3], fresh)  # read-your-writes: the search syncs first
    for old, new, i in zip(x[:3], fresh, ids[:3], strict=True):
        assert store.search(FACES, new, 1)[0][0] == Hit(int(i), pytest.approx(0, abs=EXACT))
        assert all(h.item_id != i or h.distance > 0.1 for h in store.search(FACES, old, 3)[0])
    assert store.index.count(FACES) == 50

    world.remove(FACES, ids[10:20])
    found = {h.item_id for row in store.search(FACES, x, 50) for h in row}
    assert found == set(ids.tolist()) - set(ids[10:20].tolist())
    assert store.index.count(FACES) == 40
    status = store.status()
    assert status["pending"] == 0 and status["in_sync"]
    assert status["collections"][FACES] == {"indexed": 40, "rows": 40}


def test_missing_empty_and_separate_collections(world: World) -> None:
    rng = np.random.default_rng(3)
    store = world.store()
    assert store.search("face_nothing_here", unit(rng, 3, 8), 5) == [[], [], []]

    faces, voices = unit(rng, 30, 8), unit(rng, 20, 16)
    face_ids = world.add(FACES, faces)
    voice_ids = world.add(VOICES, voices)
    got_faces = {h.item_id for row in store.search(FACES, faces, 100) for h in row}
    got_voices = {h.item_id for row in store.search(VOICES, voices, 100) for h in row}
    assert got_faces == set(face_ids.tolist()) and got_voices == set(voice_ids.tolist())
    with pytest.raises(InvalidInput):
        store.search(FACES, voices[:1], 1)

    world.remove(VOICES, voice_ids)  # an emptied collection answers with nothing
    assert store.search(VOICES, voices[:2], 5) == [[], []]
    assert store.status()["collections"][VOICES] == {"indexed": 0, "rows": 0}


def test_exact_search_has_full_recall(world: World) -> None:
    rng = np.random.default_rng(4)
    x = unit(rng, 2000, 64)
    ids = world.add(FACES, x)
    queries = unit(rng, 50, 64)
    got = world.store().search(FACES, queries, 10)
    assert recall(got, brute(x, ids, queries, 10)) == 1.0


def test_crash_between_commit_and_sync_is_repaired(world: World) -> None:
    rng = np.random.default_rng(5)
    x = unit(rng, 1300, 16)
    first = world.add(FACES, x[:100])
    store = world.store()
    assert store.sync() == 0 and store.index.count(FACES) == 100  # opening synced them

    # Rows and outbox committed, then the process dies before any sync or snapshot.
    later = world.add(FACES, x[100:])
    world.remove(FACES, first[:5])
    store.index.close()  # the in-memory index is gone; a Milvus Lite client let go of the file
    world.stores.remove(store)

    again = world.store()
    res = again.search(FACES, x[[5, 100, 1299, 0]], 1)
    assert [row[0].item_id for row in res[:3]] == [first[5], later[0], later[-1]]
    assert res[3][0].item_id != first[0]
    assert again.index.count(FACES) == 1295
    with world.db.session() as s:
        top = s.scalar(select(VectorOutbox.id).order_by(VectorOutbox.id.desc()).limit(1))
        cursor = s.get(VectorCursor, again.index.name)
    if world.backend == "milvus":  # the cursor of a shared index lives in the database
        assert cursor is not None and cursor.applied_id == top
    else:
        assert cursor is None and again.status()["cursor"] == top


def test_replay_after_a_lost_cursor_is_idempotent(world: World) -> None:
    rng = np.random.default_rng(6)
    x = unit(rng, 300, 16)
    ids = world.add(FACES, x)
    world.remove(FACES, ids[:50])
    store = world.store()
    store.search(FACES, x[:1], 1)
    store.close()
    world.stores.remove(store)
    with world.db.session() as s:  # the index applied the outbox, the cursor write was lost
        s.execute(delete(VectorCursor))
    snapshot = world.tmp / "snap" / "manifest.json"
    if snapshot.exists():
        manifest = json.loads(snapshot.read_text())
        snapshot.write_text(json.dumps({**manifest, "applied_id": 0}))

    again = world.store()
    assert again.status()["in_sync"]  # opening replayed the whole outbox over the index
    assert again.index.count(FACES) == 250
    assert {h.item_id for h in again.search(FACES, x, 1)[0]} <= set(ids[50:].tolist())


def test_rebuild_equals_incremental_state(world: World) -> None:
    rng = np.random.default_rng(7)
    x = unit(rng, 400, 24)
    ids = world.add(FACES, x)
    voice_ids = world.add(VOICES, unit(rng, 60, 12))
    store = world.store()
    world.replace(FACES, ids[:40], unit(rng, 40, 24))
    world.remove(FACES, ids[100:150])
    world.remove(VOICES, voice_ids[:10])
    queries = unit(rng, 20, 24)
    incremental = store.search(FACES, queries, 10)
    before = store.status()["collections"]

    events: list[float] = []
    counts = store.rebuild(progress=lambda p: events.append(p.completed))
    assert counts == {FACES: 350, VOICES: 50}
    assert events[0] == 0 and events[-1] == 400
    rebuilt = store.search(FACES, queries, 10)
    assert [[h.item_id for h in r] for r in rebuilt] == [
        [h.item_id for h in r] for r in incremental
    ]
    status = store.status()
    assert status["collections"] == before and status["in_sync"]
    assert status["cursor"] == status["outbox_max_id"]

    assert store.rebuild([VOICES]) == {VOICES: 50}
    assert store.status()["in_sync"]


def test_searches_from_threads_while_rows_arrive(world: World) -> None:
    rng = np.random.default_rng(10)
    x = unit(rng, 400, 16)
    world.add(FACES, x[:100])
    store = world.store()
    store.sync()
    errors: list[BaseException] = []
    lengths: list[int] = []

    def searcher() -> None:
        try:
            for _ in range(15):
                lengths.append(len(store.search(FACES, x[:3], 5)[0]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for t in threads:
        t.start()
    for start in range(100, 400, 50):  # a writer commits while the readers sync and search
        world.add(FACES, x[start : start + 50])
    for t in threads:
        t.join()
    assert not errors and set(lengths) == {5}
    assert store.search(FACES, x[399], 1)[0][0].distance < EXACT
    assert store.index.count(FACES) == 400


def test_make_vector_store_follows_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aima.db'}"
    db = Database(url)
    migrate.upgrade(db)
    settings: Settings = make_settings(tmp_path / "data", url, vectors={"hnsw_threshold": 10})
    faiss_store = make_vector_store(settings, db)
    assert isinstance(faiss_store.index, FaissIndex) and faiss_store.index.hnsw_threshold == 10
    assert faiss_store.snapshot_dir == settings.index_path / "faiss"
    faiss_store.close()
    milvus = make_vector_store(
        make_settings(tmp_path / "d", url, vectors={"backend": "milvus"}), db
    )
    assert milvus.index.name == f"milvus:{tmp_path / 'd' / 'index' / 'milvus.db'}"
    assert milvus.status()["backend"] == milvus.index.name
    milvus.close()
    db.dispose()


# ------------------------------------------------------------------ FAISS only


@pytest.fixture
def faiss_world(db_url: str, tmp_path: Path) -> Iterator[World]:
    db = Database(db_url)
    migrate.upgrade(db)
    with db.session() as s:
        s.add(
            Media(
                id="m1", sha256="0" * 64, size=1, kind="video", format="mp4",
                mime="video/mp4", original_name="a.mp4", info={},
            )
        )  # fmt: skip
        s.flush()
        s.add(Job(id="j1", media_id="m1", analyzers=["faces"], state="done"))
        s.flush()
        s.add(
            AnalysisResult(
                id="r1", media_id="m1", job_id="j1", analyzer="faces", analyzer_version="1",
                model_id="test", config={}, config_hash="x", data={},
            )
        )  # fmt: skip
    w = World(db, "faiss", tmp_path)
    try:
        yield w
    finally:
        for store in w.stores:
            store.close()
        db.dispose()


def _rebuilt(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.getMessage() == "vector index rebuilt" for r in caplog.records)


def test_faiss_snapshot_round_trip(faiss_world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aima.store.vectors")
    rng = np.random.default_rng(8)
    x = unit(rng, 1200, 16)
    ids = faiss_world.add(FACES, x[:1100])
    store = faiss_world.store()
    store.sync()
    assert _rebuilt(caplog) == 1  # no snapshot yet: built from the rows, then saved
    more = faiss_world.add(FACES, x[1100:])
    faiss_world.remove(FACES, ids[:10])
    store.search(FACES, x[:1], 1)
    store.close()  # saves: it applied rows since the last snapshot
    manifest = json.loads((faiss_world.tmp / "snap" / "manifest.json").read_text())
    with faiss_world.db.session() as s:
        top = s.scalar(select(VectorOutbox.id).order_by(VectorOutbox.id.desc()).limit(1))
    assert manifest["applied_id"] == top
    assert manifest["collections"][FACES] | {"file": ""} == {
        "dim": 16, "kind": "flat", "count": 1190, "tombstones": 0, "file": "",
    }  # fmt: skip

    again = faiss_world.store()
    res = again.search(FACES, x[[10, 1100]], 1)
    assert _rebuilt(caplog) == 1  # loaded, not rebuilt
    assert [r[0].item_id for r in res] == [ids[10], more[0]]
    assert again.index.count(FACES) == 1190

    # A snapshot claiming more than this database's outbox belongs elsewhere: rebuild.
    again.close()
    path = faiss_world.tmp / "snap" / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "applied_id": 10**9}))
    third = faiss_world.store()
    assert third.status()["collections"][FACES] == {"indexed": 1190, "rows": 1190}
    assert _rebuilt(caplog) == 2


def test_faiss_switches_to_hnsw_and_honours_deletes(faiss_world: World) -> None:
    rng = np.random.default_rng(9)
    centres = unit(rng, 20, 32)
    x = centres[rng.integers(0, 20, 1500)] + 0.35 * unit(rng, 1500, 32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = faiss_world.add(FACES, x[:40])
    store = faiss_world.store(hnsw_threshold=50, hnsw_m=16, hnsw_ef_search=64)
    index = store.index
    assert isinstance(index, FaissIndex)
    store.sync()
    assert index.kind(FACES) == "flat"
    ids = np.concatenate([ids, faiss_world.add(FACES, x[40:])])
    queries = unit(rng, 100, 32)
    assert recall(store.search(FACES, queries, 10), brute(x, ids, queries, 10)) >= 0.95
    assert index.kind(FACES) == "hnsw"

    gone = ids[::20]  # 5 %: stays as tombstones
    faiss_world.remove(FACES, gone)
    live = np.setdiff1d(np.arange(len(ids)), np.arange(0, len(ids), 20))
    got = store.search(FACES, queries, 10)
    assert index.tombstones(FACES) == len(gone) and index.count(FACES) == len(live)
    assert not {h.item_id for row in got for h in row} & set(gone.tolist())
    assert recall(got, brute(x[live], ids[live], queries, 10)) >= 0.95
    assert store.search(FACES, x[live[:5]], 1)[0][0].item_id == ids[live[0]]

    store.close()  # the snapshot keeps the graph and its tombstones
    faiss_world.stores.remove(store)
    again = faiss_world.store(hnsw_threshold=50, hnsw_m=16, hnsw_ef_search=64)
    reloaded = again.index
    assert isinstance(reloaded, FaissIndex)
    got = again.search(FACES, queries, 10)
    assert reloaded.kind(FACES) == "hnsw" and reloaded.tombstones(FACES) == len(gone)
    assert not {h.item_id for row in got for h in row} & set(gone.tolist())

    more = ids[1::10]  # past 10 % tombstones: the graph is rebuilt without them
    faiss_world.remove(FACES, more)
    live = np.setdiff1d(live, np.arange(1, len(ids), 10))
    got = again.search(FACES, queries, 10)
    assert reloaded.tombstones(FACES) == 0 and reloaded.count(FACES) == len(live)
    assert recall(got, brute(x[live], ids[live], queries, 10)) >= 0.95
