"""Erasing a person with the Milvus backend (Milvus Lite here) leaves no copy of their vectors.

Milvus Lite cannot compact: without a purge, the erased vectors leave search results but
their float32 bytes stay in the Lite file (an SQLite database written without
``secure_delete``). The probe reads the raw bytes of every file of the Lite storage for
each erased vector (their face and voice embeddings and the semantic-search vectors of what
they said): all found before, none after; the other person's vector is still found there
and by search.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from aima.runtime import build_runtime
from aima.store.models import Observation, TextSegment
from tests.conftest import make_settings
from tests.services.test_erase_person import ADMIN, SAID, World, build_world
from tests.store.test_vector_purge import residue

pytestmark = pytest.mark.filterwarnings("ignore:pkg_resources is deprecated:UserWarning")


@dataclass(frozen=True)
class Stored:
    item_id: int
    collection: str
    embedding: bytes

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(self.embedding, dtype="<f4")


@pytest.fixture
def lite(tmp_path: Path, db_url: str) -> Iterator[World]:
    pytest.importorskip("pymilvus")
    settings = make_settings(
        tmp_path / "data",
        db_url,
        vectors={"backend": "milvus"},
        privacy={"cases_required": False},
    )
    rt = build_runtime(settings)
    try:
        yield build_world(rt)  # ends with a full rebuild: the Lite file is already churned
    finally:
        rt.close()


def _vectors(w: World) -> tuple[list[Stored], Stored]:
    """Their indexed vectors (faces, voices, what they said), and the other person's face."""
    with w.rt.db.session() as s:
        obs = list(s.execute(select(Observation)).scalars())
        theirs = [
            Stored(o.id, o.collection, bytes(o.embedding))
            for o in obs
            if o.person_id == w.person_id
        ]
        other = next(
            Stored(o.id, o.collection, bytes(o.embedding))
            for o in obs
            if o.person_id == w.other_person
        )
        said = s.execute(
            select(TextSegment.id, TextSegment.collection, TextSegment.embedding).where(
                TextSegment.text.in_(SAID), TextSegment.embedding.is_not(None)
            )
        ).all()
    theirs += [Stored(int(i), str(c), bytes(e)) for i, c, e in said]
    return theirs, other


def test_no_copy_of_their_vectors_left_in_the_lite_file(lite: World) -> None:
    w, rt = lite, lite.rt
    storage = rt.settings.index_path  # milvus.db (and any side file the engine writes)
    assert (storage / "milvus.db").is_file()
    theirs, other = _vectors(w)
    assert {v.collection.split("_")[0] for v in theirs} >= {"face", "voice"}
    for v in theirs:  # indexed, and visible to the probe
        assert rt.vectors.search(v.collection, v.vector, 1)[0][0].item_id == v.item_id
    needles = [v.embedding for v in theirs]
    assert residue(storage, needles) == set(range(len(needles)))

    receipt = rt.erasure.erase(ADMIN, w.person_id, reason="data subject request #9")

    assert residue(storage, needles) == set(), "erased vectors still in the Milvus Lite storage"
    index = receipt["index"]
    assert index["backend"] == "milvus" and index["in_sync"] is True
    assert index["action"] == "vacuumed" and index["compacted"] is True
    assert index["vectors_removed"] == len(theirs)
    for v in theirs:
        assert v.item_id not in {
            h.item_id for h in rt.vectors.search(v.collection, v.vector, 10)[0]
        }
    # the other person is untouched: in the file, and found by search
    assert residue(storage, [other.embedding]) == {0}
    hit = rt.vectors.search(other.collection, other.vector, 1)[0][0]
    assert hit.item_id == other.item_id and hit.distance < 1e-3
    assert rt.vectors.status()["in_sync"]
