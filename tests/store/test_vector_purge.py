"""``purge``: after deletes, no copy of a deleted vector is left in an index or its files.

Milvus Lite keeps its data in one SQLite file written without ``secure_delete``: a delete
hides a row, a dropped (even re-created) collection leaves its pages, and the vector's
float32 bytes stay readable in the file. The probe here reads the raw bytes of every file
next to the Lite file, looking for each deleted vector, before (found: the probe works and
the residue is real) and after ``purge`` (gone), while every survivor is still found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aima.store.vectors import Purge, encode_embedding
from aima.store.vectors.faiss_index import FaissIndex

pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:UserWarning")

DIM = 64


def unit_vectors(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def as_stored(v: np.ndarray) -> bytes:
    """A vector's bytes as any engine stores them (unit float32, little-endian)."""
    return encode_embedding(v)


def residue(directory: Path, needles: list[bytes]) -> set[int]:
    """Indexes of the needles found in the raw bytes of any file under ``directory``.

    The Lite lock file (``.<name>.db.lock``) is skipped: it is empty, and opening and
    closing it in this process would release the POSIX lock whose holder keeps the Lite
    server alive (the server stops as soon as it can take the lock itself).
    """
    blobs = [p.read_bytes() for p in directory.rglob("*") if p.is_file() and p.suffix != ".lock"]
    return {i for i, n in enumerate(needles) if any(n in b for b in blobs)}


# --------------------------------------------------------------------------- Milvus Lite
def test_milvus_lite_purge_leaves_no_deleted_vector_in_its_file(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    from aima.store.vectors.milvus_index import MilvusIndex

    directory = tmp_path / "lite"
    index = MilvusIndex(str(directory / "milvus.db"))
    try:
        faces, voices = unit_vectors(300, 1), unit_vectors(40, 2, 32)
        face_ids = np.arange(1, 301, dtype=np.int64)
        voice_ids = np.arange(1001, 1041, dtype=np.int64)
        for start in range(0, 300, 60):  # several requests, so the table spans many pages
            index.upsert("face_m", face_ids[start : start + 60], faces[start : start + 60])
        index.upsert("voice_m", voice_ids, voices)
        gone_faces = np.array([3, 77, 150, 299], dtype=np.int64)
        index.upsert("face_m", gone_faces, faces[gone_faces - 1])  # replaced: more copies
        index.delete("face_m", gone_faces)
        # a collection dropped and re-created without the erased vectors keeps them too
        index.drop("voice_m")
        keep_voices = voice_ids[voice_ids != 1007]
        index.upsert("voice_m", keep_voices, voices[keep_voices - 1001])
        erased = [as_stored(v) for v in faces[gone_faces - 1]] + [as_stored(voices[6])]
        survivors = [as_stored(faces[0]), as_stored(voices[0])]

        assert residue(directory, erased)  # the residue is real (reused space hides some)
        assert index.count("face_m") == 296 and index.count("voice_m") == 39

        done = index.purge(["face_m", "voice_m"])

        assert done == Purge(action="vacuumed", compacted=True)
        assert residue(directory, erased) == set()
        assert residue(directory, survivors) == {0, 1}  # the probe still sees live data
        assert index.count("face_m") == 296 and index.count("voice_m") == 39
        hits = index.search("face_m", faces, 1)
        for i, row in enumerate(hits):
            if i + 1 in gone_faces:
                assert row[0].item_id != i + 1
            else:
                assert row[0].item_id == i + 1 and row[0].distance < 1e-3
        assert index.search("voice_m", voices[6], 1)[0][0].item_id != 1007
        # writes and deletes still work on the rewritten file
        index.upsert("face_m", np.array([5000], dtype=np.int64), unit_vectors(1, 9))
        index.delete("face_m", np.array([1], dtype=np.int64))
        assert index.count("face_m") == 296
        assert index.search("face_m", unit_vectors(1, 9), 1)[0][0].item_id == 5000
    finally:
        index.close()

    reopened = MilvusIndex(str(directory / "milvus.db"))  # a new Lite server on the file
    try:
        assert reopened.count("face_m") == 296
        assert reopened.search("face_m", faces[1], 1)[0][0].item_id == 2
    finally:
        reopened.close()


def test_milvus_lite_purge_of_an_empty_file(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    from aima.store.vectors.milvus_index import MilvusIndex

    index = MilvusIndex(str(tmp_path / "milvus.db"))
    try:
        assert index.purge([]) == Purge(action="vacuumed", compacted=True)
        assert index.collections() == []
    finally:
        index.close()


# --------------------------------------------------------------------------- FAISS
def test_faiss_purge_drops_hnsw_tombstones_and_keeps_the_rest() -> None:
    index = FaissIndex(hnsw_threshold=50, hnsw_m=8)
    vectors = unit_vectors(200, 3)
    ids = np.arange(200, dtype=np.int64)
    index.upsert("face_h", ids, vectors)
    index.upsert("face_f", ids[:20], vectors[:20])
    assert index.kind("face_h") == "hnsw" and index.kind("face_f") == "flat"
    index.delete("face_h", ids[:10])  # 5 %: below the automatic rebuild
    index.delete("face_f", ids[:5])
    assert index.tombstones("face_h") == 10

    assert index.purge(["face_h", "face_f", "missing"]) == Purge("rebuilt", compacted=True)

    assert index.tombstones("face_h") == 0 and index.count("face_h") == 190
    assert index.kind("face_h") == "hnsw" and index.count("face_f") == 15
    got = index.search("face_h", vectors, 1)
    assert all(row[0].item_id == i for i, row in enumerate(got) if i >= 10)
    assert all(row[0].item_id >= 10 for row in got)
    assert {h.item_id for h in index.search("face_f", vectors[:5], 20)[0]} == set(range(5, 20))
