"""Re-embedding the library with a new face model keeps persons, names and corrections.

Two real "models": dlib (the library is built with it) and ``faces_rotated`` -- this
module is also the plug-in (``plugins=["tests.identity.test_reembed"]``) -- which runs
the same dlib detector and network but rotates every embedding by a fixed random
orthogonal matrix under its own model id. Its vectors are incomparable with dlib's
(as a stronger model's would be) while distances within it are dlib's, so a correct
migration must give exactly the same persons.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from aima.analyzers._faces_common import FaceBackend, FloatArray, Image8, RawFace
from aima.analyzers.faces import Faces
from aima.api.app import create_app
from aima.core.errors import Conflict, InvalidInput
from aima.identity.calibration import use_stored
from aima.media.inspect import inspect_media
from aima.pipeline.oneshot import analyze_file
from aima.runtime import Runtime, build_runtime
from aima.services import reembed
from aima.services.access import cli_principal
from aima.store.models import AuditEvent, Observation, Person, ReembedItem
from aima.store.vectors import collection_name
from tests.analyzers.faces_fixtures import astronaut, messi, run_job, save, variants
from tests.api.helpers import Api, TestClient
from tests.conftest import make_settings

ROTATION = np.linalg.qr(np.random.default_rng(42).normal(size=(128, 128)))[0].astype(np.float32)
ADMIN = cli_principal()


class RotatingBackend:
    """dlib's detector and embedder, embeddings rotated: a different model, same geometry."""

    def __init__(self, inner: FaceBackend) -> None:
        self.inner = inner
        self.model_id = inner.model_id + "+rotated-test"
        self.embedding_dim = inner.embedding_dim
        self.match_distance = inner.match_distance

    def detect(self, image: Image8) -> list[RawFace]:
        return self.inner.detect(image)

    def embed(self, items: Sequence[tuple[Image8, RawFace]]) -> FloatArray:
        out: FloatArray = np.asarray(self.inner.embed(items), dtype=np.float32) @ ROTATION
        return out


class RotatedFaces(Faces):
    name = "faces_rotated"
    description = "test plug-in: the faces analyzer with rotated embeddings (a second model)"

    @property
    def model_id(self) -> str:
        if self._backend is not None:  # the rotating backend names itself
            return self._backend.model_id
        return super().model_id + "+rotated-test"

    def load(self) -> None:
        super().load()
        assert self._backend is not None
        self._backend = RotatingBackend(self._backend)


class Interrupted(RuntimeError):
    pass


class Crashing:
    """The real embedder that dies after ``after`` observations (a killed migration)."""

    def __init__(self, inner: reembed.AnalyzerEmbedder, after: int) -> None:
        self.inner, self.after, self.kind, self.model_id = inner, after, inner.kind, inner.model_id

    def embed(self, target: reembed.Target) -> list[float] | None:
        if self.after == 0:
            raise Interrupted("killed")
        self.after -= 1
        return self.inner.embed(target)


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    use_stored({})
    runtime = build_runtime(
        make_settings(
            tmp_path / "data",
            f"sqlite:///{tmp_path / 'aima.db'}",
            plugins=["tests.identity.test_reembed"],
        )
    )
    yield runtime
    runtime.close()


def _library(rt: Runtime, tmp_path: Path) -> dict[str, Path]:
    """Two photos of each of two people through the faces analyzer; persons synced."""
    photos = {}
    for who, picture in (("astronaut", astronaut()), ("messi", messi())):
        v = variants(picture)
        for name in ("flip", "bright"):
            path = save(v[name], tmp_path / f"{who}-{name}.jpg")
            run_job(rt, path, ("faces",))
            photos[f"{who}-{name}"] = path
    photos["astronaut-query"] = save(variants(astronaut())["dark"], tmp_path / "query.jpg")
    rt.identity.sync()
    return photos


def _switch_faces_analyzer(rt: Runtime) -> str:
    """Configure the library's ``faces`` analyzer for the rotated model (a model upgrade)."""
    faces = rt.registry.get("faces")
    assert isinstance(faces, Faces)
    faces.load()
    assert faces._backend is not None
    faces.use_backend(RotatingBackend(faces._backend))
    return faces.model_id


def _assignments(rt: Runtime) -> dict[int, tuple[str | None, str]]:
    with rt.db.session() as s:
        return {
            o.id: (o.person_id, o.model_id)
            for o in s.execute(select(Observation).where(Observation.kind == "face")).scalars()
        }


def _query(rt: Runtime, path: Path, analyzer: str) -> tuple[str, np.ndarray[Any, Any]]:
    info = inspect_media(path, rt.settings.limits)
    data = analyze_file(path, info, rt.registry, [analyzer], rt.settings.decode)[analyzer]
    face = max(data["faces"], key=lambda f: f["confidence"])
    return str(data["model_id"]), np.asarray([face["embedding"]], dtype=np.float32)


def _best_person(rt: Runtime, model: str, vec: np.ndarray[Any, Any]) -> str | None:
    hits = rt.identity.match("face", model, vec, k=3)[0]
    return hits[0]["person_id"] if hits else None


def test_migration_keeps_persons_and_search_uses_old_model_until_done(
    rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = _library(rt, tmp_path)
    before = _assignments(rt)
    old_model = reembed.library_model(rt.db, "face")
    assert old_model is not None and old_model.startswith("dlib")
    persons = {pid for pid, _ in before.values()}
    assert len(before) == 4 and len(persons) == 2
    astronaut_person = before[min(before)][0]  # the first photo ingested
    assert astronaut_person is not None
    rt.persons.rename(ADMIN, astronaut_person, "Eileen Collins")

    embedder = reembed.AnalyzerEmbedder(
        "face",
        rt.registry,
        rt.blobs,
        rt.settings.limits,
        rt.settings.decode,
        analyzer="faces_rotated",
    )
    new_model = embedder.model_id
    assert new_model == old_model + "+rotated-test"
    with pytest.raises(InvalidInput, match="computes"):
        reembed.start(rt.db, embedder, "cli:t", model_id="arcface-r100")
    mid = reembed.start(rt.db, embedder, "cli:t", model_id=new_model)
    assert reembed.start(rt.db, embedder, "cli:t") == mid  # the running one, not a second

    # killed after two observations: staged, not switched
    monkeypatch.setattr(reembed, "BATCH", 1)
    with pytest.raises(Interrupted):
        reembed.run(rt.db, rt.identity, mid, Crashing(embedder, 2), "cli:t")
    state = reembed.status(rt.db, mid)[0]
    assert (state["state"], state["done"], state["total"]) == ("running", 2, 4)
    assert "killed" in state["error"]
    assert _assignments(rt) == before  # the library still runs on the old model
    assert reembed.query_model(rt.db, "face", new_model) == old_model
    model, vec = _query(rt, photos["astronaut-query"], "faces")
    assert model == old_model and _best_person(rt, old_model, vec) == astronaut_person
    assert not rt.identity.match("face", new_model, vec @ ROTATION, k=3)[0]

    # resumed: the rest is embedded, then everything switches at once
    out = reembed.run(rt.db, rt.identity, mid, embedder, "cli:t")
    assert (out["state"], out["done"], out["total"], out["failed"]) == ("done", 4, 4, 0)
    after = _assignments(rt)
    assert {oid: pid for oid, (pid, _) in after.items()} == {
        oid: pid for oid, (pid, _) in before.items()
    }
    assert {m for _, m in after.values()} == {new_model}
    with rt.db.session() as s:
        person = s.get(Person, astronaut_person)
        assert person is not None and person.name == "Eileen Collins"
        assert s.execute(select(ReembedItem)).first() is None
        colls = set(s.execute(select(Observation.collection)).scalars())
        assert colls == {collection_name("face", new_model)}
        actions = set(s.execute(select(AuditEvent.action)).scalars())
        assert {"identity.reembed.start", "identity.reembed.done"} <= actions
    assert reembed.query_model(rt.db, "face", new_model) == new_model
    model, vec = _query(rt, photos["astronaut-query"], "faces_rotated")
    assert model == new_model and _best_person(rt, new_model, vec) == astronaut_person
    assert not rt.identity.match("face", old_model, vec, k=3)[0]

    # the faces analyzer itself moves to the new model: new media joins the migrated persons
    _switch_faces_analyzer(rt)
    assert reembed.needed(rt.db, rt.registry) == []
    run_job(rt, photos["astronaut-query"], ("faces",))
    rt.identity.sync()
    newest = _assignments(rt)
    added = set(newest) - set(after)
    assert len(added) == 1 and newest[added.pop()] == (astronaut_person, new_model)

    with pytest.raises(Conflict, match="already use"):
        reembed.start(rt.db, embedder, "cli:t")


def test_api_reembeds_after_a_model_upgrade(rt: Runtime, tmp_path: Path) -> None:
    """The faces analyzer moved to a new model; media analysed since then split people."""
    photos = _library(rt, tmp_path)
    before = _assignments(rt)
    old_model = reembed.library_model(rt.db, "face")
    new_model = _switch_faces_analyzer(rt)
    assert reembed.needed(rt.db, rt.registry) == [("face", old_model, new_model)]
    run_job(rt, photos["astronaut-query"], ("faces",))
    rt.identity.sync()
    arrived = (set(_assignments(rt)) - set(before)).pop()
    split_off = _assignments(rt)[arrived][0]
    astronaut_person = before[min(before)][0]
    assert split_off not in {p for p, _ in before.values()}  # the problem being solved

    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        viewer, analyst = api.user("viewer"), api.user("analyst")
        body = {"kind": "face"}
        denied = client.post("/api/v1/persons/reembed", json=body, headers=viewer.headers)
        assert denied.status_code == 403
        r = client.post("/api/v1/persons/reembed", json=body, headers=analyst.headers)
        assert r.status_code == 202, r.text
        assert (r.json()["state"], r.json()["total"]) == ("running", 4)
        assert r.json()["to_model"] == new_model
        # the test client runs background tasks before it returns
        listed = client.get("/api/v1/calibration/reembed", headers=analyst.headers).json()
        assert [(m["state"], m["done"]) for m in listed] == [("done", 4)]
        again = client.post("/api/v1/persons/reembed", json=body, headers=analyst.headers)
        assert again.status_code == 409
        bad = client.post(
            "/api/v1/persons/reembed",
            json={"kind": "face", "analyzer": "nope"},
            headers=analyst.headers,
        )
        assert bad.status_code == 422 and "not installed" in bad.text
    after = _assignments(rt)
    assert {o: after[o][0] for o in before} == {o: p for o, (p, _) in before.items()}
    assert after[arrived][0] == astronaut_person  # re-clustered into the migrated person
    with rt.db.session() as s:
        assert s.get(Person, split_off) is None  # the empty split-off person went away
