"""Erasing a person: every store searched for their data before (found) and after (gone).

The library is real: a media blob, face/speaker/transcript results with their job checkpoints
and real JPEG crops, turned into observations, persons, text segments, events and vectors by
the real identity sync; a rename, a merge (face + voice), a summary, a review item. The
residue probe then reads every table (every column, SQLite's full-text shadow tables too),
the SQLite files on disk, the FAISS snapshot files, the blob directory, a backup taken after
the erasure and the captured logs, looking for the name, the embeddings (bytes and JSON
text), the crop keys and the crop bytes.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, inspect, select, text

from aima.core.errors import InvalidInput, NotFound
from aima.core.ids import new_id
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.services.backup import BackupService
from aima.services.receipts import ReceiptService, check
from aima.store.models import (
    AnalysisResult,
    AuditEvent,
    Correction,
    EventOutbox,
    Job,
    JobChunk,
    Media,
    Observation,
    Person,
    ReviewItem,
    TextSegment,
)
from aima.store.models_trust import ErasureReceipt
from tests.conftest import make_settings

ADMIN = cli_principal()
NAME = "Zelda Quixote"
SAID = ["My secret plan involves marmalade", "Zebra crossings are my passion"]
OTHER_SAID = "The weather was lovely on Tuesday"


@dataclass
class World:
    rt: Runtime
    person_id: str
    media_id: str
    other_person: str
    crops: list[str] = field(default_factory=list)
    crop_bytes: list[bytes] = field(default_factory=list)
    embeddings: list[bytes] = field(default_factory=list)  # the observation rows' bytes
    embedding_texts: list[str] = field(default_factory=list)  # as written in result JSON
    other_crop: str = ""


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _unit(seed: int, dim: int) -> list[float]:
    v = np.random.default_rng(seed).normal(size=dim)
    return [round(float(x), 6) for x in v / np.linalg.norm(v)]


def _text(vector: list[float]) -> str:
    return json.dumps(vector[:2])[1:-1]  # "0.123456, -0.654321"


def _faces(rt: Runtime, w: World) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    faces, frames = [], []
    for k, t in enumerate((1.0, 2.0, 3.0)):
        frame_faces = []
        for j, (x, track) in enumerate(((0.1, 0), (0.6, 1))):
            data = _jpeg(100 * track + k)
            key = rt.blobs.put_bytes(data).sha256
            if track == 0:
                w.crops.append(key)
                w.crop_bytes.append(data)
            else:
                w.other_crop = key
            record = {
                "box": [x, 0.1, 0.25, 0.3],
                "confidence": 0.99,
                "score": 0.99,
                "landmarks": [[x + 0.05, 0.2], [x + 0.15, 0.2]],
                "quality": {"size_px": 220.0, "blur": 600.0, "frontal": 0.95},
                "usable": True,
                "embedding": _unit(1000 * track + k, 128),
                "crop": key,
            }
            frame_faces.append(record)
            faces.append({"t": t, "shot": 0, "frame": k, "face_index": j, "track": track, **record})
        frames.append({"t": t, "shot": 0, "width": 640, "height": 480, "faces": frame_faces})
    tracks = []
    for track in (0, 1):
        members = [i for i, f in enumerate(faces) if f["track"] == track]
        emb = _unit(7 + track, 128)
        if track == 0:
            w.embedding_texts.append(_text(emb))
        tracks.append(
            {
                "id": track,
                "start": 1.0,
                "end": 3.0,
                "shot": 0,
                "detections": members,
                "best": members[1],
                "crop": faces[members[1]]["crop"],
                "embedding": emb,
                "usable": True,
                "confidence": 0.99,
            }
        )
    result = {
        "faces": faces,
        "tracks": tracks,
        "count": len(faces),
        "frames": 3,
        "keyframes": [1.0, 2.0, 3.0],
        "model_id": "test-face-v1",
        "embedding_dim": 128,
        "match_distance": 0.6,
    }
    chunk = {"model_id": "test-face-v1", "embedding_dim": 128, "frames": frames}
    return result, [chunk]


def _speakers(w: World) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    s1, s2 = _unit(21, 64), _unit(22, 64)
    w.embedding_texts.append(_text(s1))
    windows = [[a, a + 1.5] for a in np.arange(0.0, 13.0, 1.0).round(3).tolist()]
    window_embs = [_unit(300 + i, 64) for i in range(len(windows))]
    w.embedding_texts.append(_text(window_embs[0]))  # in S1's first turn
    result = {
        "speakers": [
            {"id": "S1", "embedding": s1, "total_s": 8.0, "windows": 8},
            {"id": "S2", "embedding": s2, "total_s": 4.0, "windows": 4},
        ],
        "turns": [
            {"start": 0.0, "end": 4.0, "speaker": "S1", "confidence": 0.9},
            {"start": 4.5, "end": 8.5, "speaker": "S2", "confidence": 0.9},
            {"start": 9.0, "end": 13.0, "speaker": "S1", "confidence": 0.9},
        ],
        "model": "test-voice-v1",
    }
    chunk = {
        "segments": [
            {
                "start": 0.0,
                "end": 14.0,
                "windows": windows,
                "embeddings": window_embs,
                "pitch": [0.1] * len(windows),
            }
        ],
        "model": "test-voice-v1",
    }
    return result, [chunk]


def _transcribe() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    segments = [
        {"start": 0.2, "end": 3.8, "text": SAID[0]},
        {"start": 4.6, "end": 8.3, "text": OTHER_SAID},
        {"start": 9.1, "end": 12.8, "text": SAID[1]},
    ]
    result = {
        "segments": segments,
        "text": " ".join(g["text"] for g in segments),
        "language": "en",
        "engine": "test",
    }
    return result, [copy.deepcopy(result)]


def build_world(rt: Runtime) -> World:
    w = World(rt, "", "", "")
    media_bytes = np.random.default_rng(5).bytes(4096)
    sha = rt.blobs.put_bytes(media_bytes).sha256
    produced = (  # blobs written before the rows that name them, as the pipeline does
        ("faces", _faces(rt, w)),
        ("speakers", _speakers(w)),
        ("transcribe", _transcribe()),
    )
    with rt.db.session() as s:
        media = Media(
            id=new_id("med"),
            sha256=sha,
            size=len(media_bytes),
            kind="video",
            format="mp4",
            mime="video/mp4",
            original_name="garden-party.mp4",
            info={"duration_s": 14.0, "width": 640, "height": 480},
        )
        s.add(media)
        s.flush()
        job = Job(
            id=new_id("job"),
            media_id=media.id,
            analyzers=["faces", "speakers", "transcribe"],
            state="succeeded",
            progress=1.0,
        )
        s.add(job)
        s.flush()
        for analyzer, (data, chunks) in produced:
            s.add(
                AnalysisResult(
                    id=new_id("res"),
                    media_id=media.id,
                    job_id=job.id,
                    analyzer=analyzer,
                    analyzer_version="1",
                    model_id=f"test-{analyzer}",
                    config={},
                    config_hash="0" * 64,
                    data={"analyzer": analyzer, "schema_version": 1, **data},
                    accepted=True,
                )
            )
            for i, chunk in enumerate(chunks):
                s.add(
                    JobChunk(
                        job_id=job.id,
                        analyzer=analyzer,
                        chunk_index=i,
                        status="done",
                        result=chunk,
                    )
                )
        w.media_id = media.id
    rt.identity.sync()
    with rt.db.session() as s:
        obs = {o.ref: o for o in s.execute(select(Observation)).scalars()}
        face, voice = obs["track:0"].person_id, obs["speaker:S1"].person_id
        w.other_person = str(obs["track:1"].person_id)
    assert face and voice and face != voice
    rt.persons.rename(ADMIN, face, NAME)
    rt.persons.merge(ADMIN, face, [voice])
    w.person_id = face
    rt.summaries.person(ADMIN, face)  # a stored summary naming them
    rt.summaries.person(ADMIN, w.other_person)  # the company they kept may name them too
    with rt.db.session() as s:
        mine = list(s.execute(select(Observation).where(Observation.person_id == face)).scalars())
        assert {o.ref for o in mine} == {"track:0", "speaker:S1"}
        w.embeddings = [bytes(o.embedding) for o in mine]
        res = s.execute(
            select(AnalysisResult.id).where(AnalysisResult.analyzer == "faces")
        ).scalar_one()
        s.add(
            ReviewItem(
                id=new_id("rev"),
                kind="restraint",
                label="rope",
                media_id=w.media_id,
                result_id=res,
                ref="kf1:r0",
                t=1.0,
                evidence=w.crops[0],
                confidence=0.8,
                details={"person_id": face},
            )
        )
    rt.vectors.rebuild()  # a FAISS snapshot on disk holding their vectors
    return w


# --------------------------------------------------------------------------- the probe
def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str).encode()
    return str(value).encode()


def needles(w: World) -> dict[str, list[bytes]]:
    return {
        "name": [NAME.encode()],
        "embedding": list(w.embeddings),
        "embedding_text": [t.encode() for t in w.embedding_texts],
        "crop_key": [k.encode() for k in w.crops],
        "crop_bytes": list(w.crop_bytes),
        "said": [t.encode() for t in SAID],
    }


def _hits(where: str, data: bytes, wanted: dict[str, list[bytes]], out: set[str]) -> None:
    for kind, items in wanted.items():
        if any(item and item in data for item in items):
            out.add(f"{kind}@{where}")


def probe_database(rt: Runtime, wanted: dict[str, list[bytes]]) -> set[str]:
    """Every row of every table (SQLite's FTS shadow tables included), every column."""
    found: set[str] = set()
    with rt.db.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        if rt.db.dialect == "sqlite":
            names = list(
                conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars()
            )
        for table in names:
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                blob = b"\x00".join(_as_bytes(v) for v in row)
                _hits(f"table:{table}", blob, wanted, found)
    return found


def probe_files(root: Path, wanted: dict[str, list[bytes]], label: str) -> set[str]:
    """Raw bytes and names of every file under ``root``."""
    found: set[str] = set()
    for path in sorted(root.rglob("*")) if root.exists() else []:
        if path.is_file():
            _hits(
                f"{label}:{path.name}",
                path.name.encode() + b"\0" + path.read_bytes(),
                wanted,
                found,
            )
    return found


def probe_logs(records: list[logging.LogRecord], wanted: dict[str, list[bytes]]) -> set[str]:
    found: set[str] = set()
    for r in records:
        _hits(
            "logs",
            json.dumps(r.__dict__, default=str).encode() + r.getMessage().encode(),
            wanted,
            found,
        )
    return found


def probe_all(w: World, backup_dir: Path, records: list[logging.LogRecord]) -> set[str]:
    rt, wanted = w.rt, needles(w)
    found = probe_database(rt, wanted)
    found |= probe_files(rt.settings.index_path, wanted, "index")
    found |= probe_files(rt.settings.blob_path, wanted, "blobs")
    if rt.db.dialect == "sqlite":  # the database files themselves: no freed page keeps them
        db_file = Path(str(rt.db.url.database))
        raw = {"name": wanted["name"], "embedding": wanted["embedding"]}
        for path in (db_file, db_file.with_name(db_file.name + "-wal")):
            if path.is_file():
                _hits(f"dbfile:{path.name}", path.read_bytes(), raw, found)
    BackupService(rt.settings, rt.db, rt.blobs).backup(backup_dir, ADMIN)
    found |= probe_files(backup_dir, wanted, "backup")
    for dump in backup_dir.rglob("db.pgdump"):  # compressed: read it back as SQL text
        sql = subprocess.run(
            ["pg_restore", "--file=-", str(dump)], capture_output=True, check=True
        ).stdout
        as_sql = {**wanted, "embedding": [b"\\x" + e.hex().encode() for e in w.embeddings]}
        _hits("backup:db.pgdump", sql, as_sql, found)
    found |= probe_logs(records, wanted)
    return found


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def world(tmp_path: Path, db_url: str) -> Iterator[World]:
    rt = build_runtime(make_settings(tmp_path / "data", db_url, privacy={"cases_required": False}))
    try:
        yield build_world(rt)
    finally:
        rt.close()


# --------------------------------------------------------------------------- tests
def test_probe_finds_everything_before_and_nothing_after(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w, rt = world, world.rt
    caplog.set_level(logging.DEBUG)
    before = probe_all(w, tmp_path / "backup-before", caplog.records)
    kinds = {hit.split("@")[0] for hit in before}
    assert {"name", "embedding", "embedding_text", "crop_key", "crop_bytes", "said"} <= kinds
    assert any(h.startswith("embedding@index:") for h in before), before  # FAISS snapshot
    assert any(h.startswith("crop_bytes@blobs:") for h in before), before
    assert any(h.startswith("name@backup:") for h in before), before
    assert "embedding_text@table:job_chunks" in before and "said@table:results" in before
    assert "name@table:summaries" in before and "crop_key@table:review_items" in before
    if rt.db.dialect == "sqlite":
        assert {"name", "embedding"} <= {h.split("@")[0] for h in before if "@dbfile:" in h}

    caplog.clear()
    receipt = rt.erasure.erase(ADMIN, w.person_id, reason="data subject request #42")
    after = probe_all(w, tmp_path / "backup-after", caplog.records)
    assert after == set(), sorted(after)

    # the other person and the media stay, whole
    with rt.db.session() as s:
        assert s.get(Media, w.media_id) is not None
        assert s.get(Person, w.other_person) is not None
        assert s.execute(select(func.count()).select_from(Person)).scalar_one() >= 1
        others = s.execute(select(Observation.ref)).scalars().all()
        assert sorted(others) == ["speaker:S2", "track:1"]
        texts = s.execute(select(TextSegment.text)).scalars().all()
        assert texts == [OTHER_SAID]
        faces = s.execute(
            select(AnalysisResult.data).where(AnalysisResult.analyzer == "faces")
        ).scalar_one()
        assert faces["tracks"][1]["crop"] and faces["tracks"][1]["embedding"]
        assert faces["faces"][-1]["crop"] == w.other_crop
        assert (
            s.execute(
                select(func.count())
                .select_from(EventOutbox)
                .where(EventOutbox.subject == f"person:{w.person_id}")
            ).scalar_one()
            == 0
        )
        assert s.execute(select(func.count()).select_from(Correction)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(ReviewItem)).scalar_one() == 0
        row = s.get(ErasureReceipt, receipt["id"])
        assert row is not None and row.signature == receipt["signature"]
        event = s.execute(
            select(AuditEvent).where(AuditEvent.action == "person.erase")
        ).scalar_one()
        assert event.object_id == receipt["id"]
        assert event.details["reason"] == "data subject request #42"
        assert NAME not in json.dumps(event.details)
    assert rt.blobs.exists(w.other_crop)
    assert rt.vectors.status()["in_sync"]
    # a new sync finds nothing to recreate them from
    rt.identity.sync()
    with rt.db.session() as s:
        assert s.execute(select(func.count()).select_from(Observation)).scalar_one() == 2
    with pytest.raises(NotFound):
        rt.persons.get(ADMIN, w.person_id)


def test_receipt_counts_hashes_and_signature(world: World) -> None:
    w, rt = world, world.rt
    with rt.db.session() as s:  # their transcript segments with a semantic-search vector
        embedded = s.execute(
            select(func.count())
            .select_from(TextSegment)
            .where(TextSegment.text.in_(SAID), TextSegment.collection.is_not(None))
        ).scalar_one()
    receipt = rt.erasure.erase(ADMIN, w.person_id, reason="retention period over")
    stores = {e["store"]: e for e in receipt["stores"]}
    assert stores["persons"]["count"] == 2  # the face person and the voice merged into it
    assert stores["observations"]["count"] == 2
    assert stores["embeddings"]["count"] == 2
    assert stores["text_segments"]["count"] == 2
    assert stores["blobs"]["count"] == 3 and stores["blobs"]["failed"] == 0
    assert stores["review_items"]["count"] == 1
    assert stores["corrections"]["count"] == 2  # rename + merge
    assert stores["summaries"]["count"] >= 1
    assert stores["event_outbox"]["count"] >= 1
    assert stores["results_scrubbed"]["count"] == 3
    assert stores["job_chunks_scrubbed"]["count"] == 3
    assert all(len(e.get("sha256", "0" * 64)) == 64 for e in receipt["stores"])
    assert receipt["index"]["backend"] == "faiss" and receipt["index"]["action"] == "rebuilt"
    assert receipt["index"]["vectors_removed"] == 2 + embedded and receipt["index"]["in_sync"]
    flat = json.dumps(receipt)
    assert NAME not in flat and w.person_id not in flat and "garden-party" not in flat
    assert not any(k in flat for k in w.crops)
    assert len(receipt["subject_hash"]) == 64

    service = ReceiptService(rt.db)
    assert service.get(ADMIN, receipt["id"])["valid"] is True
    assert service.verify_document(ADMIN, receipt)["valid"] is True
    assert service.find(ADMIN, w.person_id) == [receipt["id"]]
    forged = copy.deepcopy(receipt)
    forged["stores"][0]["count"] = 0
    verdict = service.verify_document(ADMIN, forged)
    assert verdict["valid"] is False and "modified" in verdict["problem"]
    with rt.db.session() as s:  # a modified stored body fails too
        row = s.get(ErasureReceipt, receipt["id"])
        assert row is not None
        row.body = {**row.body, "with_media": True}
    assert service.get(ADMIN, receipt["id"])["valid"] is False
    with rt.db.session() as s:
        keyring = s.info["audit_keyring"]
    assert check(keyring, {**receipt, "signature": "0" * 64}).valid is False


def test_reason_rules_and_unknown_person(world: World) -> None:
    rt = world.rt
    with pytest.raises(InvalidInput, match="name"):
        rt.erasure.erase(ADMIN, world.person_id, reason=f"{NAME} asked for it")
    with pytest.raises(InvalidInput):
        rt.erasure.erase(ADMIN, world.person_id, reason="  ")
    with pytest.raises(NotFound):
        rt.erasure.erase(ADMIN, "per_nobody", reason="data subject request")
    with rt.db.session() as s:  # nothing was touched by the refusals
        assert s.get(Person, world.person_id) is not None


def test_with_media_deletes_their_media(world: World) -> None:
    w, rt = world, world.rt
    receipt = rt.erasure.erase(ADMIN, w.person_id, reason="court order 7", with_media=True)
    stores = {e["store"]: e for e in receipt["stores"]}
    assert stores["media"]["count"] == 1
    with rt.db.session() as s:
        assert s.get(Media, w.media_id) is None
        assert s.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
    assert not rt.blobs.exists(w.other_crop)


def test_log_probe_can_fail(caplog: pytest.LogCaptureFixture) -> None:
    """The log probe finds what is there (so its empty answer after an erasure means something)."""
    caplog.set_level(logging.INFO)
    logging.getLogger("aima.test").info("renamed to %s", NAME)
    assert probe_logs(caplog.records, {"name": [NAME.encode()]}) == {"name@logs"}


def test_milvus_index_forgets_them(tmp_path: Path) -> None:
    """Milvus (Lite here): the deletes reach the index, and its file is rewritten (VACUUM).

    The raw bytes of the Lite file are probed in test_erase_milvus_residue.py.
    """
    pytest.importorskip("pymilvus")
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        vectors={"backend": "milvus"},
        privacy={"cases_required": False},
    )
    rt = build_runtime(settings)
    try:
        w = build_world(rt)
        with rt.db.session() as s:
            mine = list(
                s.execute(select(Observation).where(Observation.person_id == w.person_id))
                .scalars()
                .all()
            )
        queries = {o.id: (o.collection, np.frombuffer(o.embedding, dtype="<f4")) for o in mine}
        for oid, (collection, vector) in queries.items():
            assert rt.vectors.search(collection, vector, 1)[0][0].item_id == oid
        receipt = rt.erasure.erase(ADMIN, w.person_id, reason="data subject request #7")
        assert receipt["index"]["backend"] == "milvus" and receipt["index"]["in_sync"]
        assert receipt["index"]["action"] == "vacuumed" and receipt["index"]["compacted"]
        for oid, (collection, vector) in queries.items():
            assert oid not in {h.item_id for h in rt.vectors.search(collection, vector, 10)[0]}
    finally:
        rt.close()


def test_nothing_left_with_encryption_at_rest(tmp_path: Path) -> None:
    """With blobs and columns encrypted: the same erasure leaves nothing readable behind."""
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        encryption={"kek_file": tmp_path / "keys" / "kek.json"},
        privacy={"cases_required": False},
    )
    rt = build_runtime(settings)
    try:
        w = build_world(rt)
        receipt = rt.erasure.erase(ADMIN, w.person_id, reason="data subject request #8")
        assert {e["store"]: e for e in receipt["stores"]}["blobs"]["count"] == 3
        assert all(not rt.blobs.exists(k) for k in w.crops)
        after = probe_all(w, tmp_path / "backup", [])
        assert after == set(), sorted(after)
    finally:
        rt.close()
