"""Moving the library to a new embedding model without splitting its people.

Embeddings of two models cannot be compared, so a new face or voice model would
otherwise found a new person for everyone. A *re-embedding migration* recomputes
every observation of the old model with the new one -- faces from their stored crop
(the analyzer runs on the crop like on a photo and keeps its best face), voices from
the media's audio over the observation's turns -- and then switches them over in one
transaction: same observation rows, so persons keep their ids, names, pinned
observations and cannot-links, and corrections keep pointing where they did.

Until that switch the new embeddings are staged in ``reembed_items`` and the library
(clustering, the vector index, searches through ``query_model``) stays on the old
model. The work is resumable: a crashed or interrupted run leaves a ``running``
migration whose staged items are kept; running it again continues with what is
missing. Observations the new model cannot embed (no face found in the crop any more)
stay on the old model and are counted in ``failed``.

Observations of the new model that arrived during the migration (new media analysed
with it) founded persons of their own; after the switch the new model's collection is
re-clustered once so they join the migrated persons (``IdentityEngine.recluster``
keeps person ids of prior and pinned assignments).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import delete, func, select, update

from aima.analyzers.registry import AnalyzerRegistry
from aima.core.clock import utcnow
from aima.core.errors import AimaError, Conflict, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.core.settings import DecodeSettings, MediaLimits
from aima.identity.engine import IdentityEngine, lock
from aima.media.decode import decode_audio
from aima.media.inspect import inspect_media
from aima.media.wav import write_wav
from aima.pipeline.oneshot import analyze_file
from aima.security import audit
from aima.services.calibrate import best_face, main_speaker
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import Media, Observation, ReembedItem, ReembedMigration
from aima.store.vectors import VectorStore, collection_name, encode_embedding

log = logging.getLogger(__name__)

DEFAULT_ANALYZER = {"face": "faces", "voice": "speakers"}
BATCH = 16
_GAP_S = 0.3  # silence between a speaker's turns when they are joined into one clip


@dataclass(frozen=True, slots=True)
class Target:
    """What one observation needs to be re-embedded (read before any model runs)."""

    id: int
    kind: str
    crop: str | None
    media_sha: str
    media_name: str
    spans: list[list[float]]


class Embedder(Protocol):
    """Computes one observation's embedding with the new model (None: nothing usable)."""

    kind: str
    model_id: str

    def embed(self, target: Target) -> list[float] | None: ...


class AnalyzerEmbedder:
    """The new model is a registered analyzer (``faces``/``speakers`` or a plug-in)."""

    def __init__(
        self,
        kind: str,
        registry: AnalyzerRegistry,
        blobs: BlobStore,
        limits: MediaLimits,
        decode: DecodeSettings,
        analyzer: str | None = None,
    ) -> None:
        if kind not in DEFAULT_ANALYZER:
            raise InvalidInput(f"re-embedding takes kind 'face' or 'voice', not {kind!r}")
        self.kind = kind
        self.analyzer = analyzer or DEFAULT_ANALYZER[kind]
        if self.analyzer not in registry.names():
            raise InvalidInput(
                f"analyzer {self.analyzer!r} is not installed; available: {registry.names()}"
            )
        self.registry = registry
        self.blobs = blobs
        self.limits = limits
        self.decode = decode
        self.model_id = str(registry.get(self.analyzer).model_id)

    def _run(self, path: Path, name: str) -> dict[str, Any]:
        info = inspect_media(path, self.limits, display_name=name)
        return analyze_file(path, info, self.registry, [self.analyzer], self.decode)[self.analyzer]

    def embed(self, target: Target) -> list[float] | None:
        if self.kind == "face":
            if not target.crop or not self.blobs.exists(target.crop):
                return None
            with self.blobs.local_path(target.crop) as path:
                return best_face(self._run(path, f"crop of observation {target.id}"))
        with self.blobs.local_path(target.media_sha) as path, tempfile.TemporaryDirectory() as tmp:
            info = inspect_media(path, self.limits, display_name=target.media_name)
            gap = np.zeros(int(16000 * _GAP_S), dtype=np.float32)
            parts: list[np.ndarray[Any, Any]] = []
            for start, end in target.spans:
                parts += [decode_audio(path, info, start, end, display_name=target.media_name), gap]
            if not parts:
                return None
            clip = write_wav(Path(tmp) / "voice.wav", np.concatenate(parts))
            return main_speaker(self._run(clip, f"voice of observation {target.id}"))


def library_model(db: Database, kind: str) -> str | None:
    """The model most of the library's observations of ``kind`` were embedded with."""
    with db.session() as s:
        row = s.execute(
            select(Observation.model_id, func.count())
            .where(Observation.kind == kind)
            .group_by(Observation.model_id)
            .order_by(func.count().desc(), Observation.model_id)
            .limit(1)
        ).first()
    return str(row[0]) if row else None


def running(db: Database, kind: str) -> ReembedMigration | None:
    with db.session() as s:
        return s.execute(
            select(ReembedMigration).where(
                ReembedMigration.kind == kind, ReembedMigration.state == "running"
            )
        ).scalar_one_or_none()


def query_model(db: Database, kind: str, analyzer_model: str) -> str:
    """The model identity queries must use now: the library's until a migration completes."""
    current = running(db, kind)
    if current is not None:
        return current.from_model
    return library_model(db, kind) or analyzer_model


def needed(db: Database, registry: AnalyzerRegistry) -> list[tuple[str, str, str]]:
    """(kind, library model, analyzer model) for each kind whose analyzer model changed."""
    out = []
    for kind, analyzer in DEFAULT_ANALYZER.items():
        if analyzer not in registry.names():
            continue
        lib = library_model(db, kind)
        new = str(registry.get(analyzer).model_id)
        if lib is not None and lib != new:
            out.append((kind, lib, new))
    return out


def status(db: Database, migration_id: str | None = None) -> list[dict[str, Any]]:
    with db.session() as s:
        q = select(ReembedMigration).order_by(ReembedMigration.created_at.desc())
        if migration_id is not None:
            q = q.where(ReembedMigration.id == migration_id)
        rows = s.execute(q).scalars().all()
    if migration_id is not None and not rows:
        raise NotFound(f"no re-embedding migration {migration_id!r}")
    return [_as_dict(m) for m in rows]


def _as_dict(m: ReembedMigration) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "from_model": m.from_model,
        "to_model": m.to_model,
        "state": m.state,
        "done": m.done,
        "total": m.total,
        "failed": m.failed,
        "error": m.error,
        "created_by": m.created_by,
        "created_at": m.created_at.isoformat(),
        "finished_at": m.finished_at.isoformat() if m.finished_at else None,
    }


def start(db: Database, embedder: Embedder, actor: str, *, model_id: str | None = None) -> str:
    """Create (or return the running) migration of ``embedder.kind`` to its model."""
    kind = embedder.kind
    if model_id is not None and model_id != embedder.model_id:
        raise InvalidInput(
            f"the {kind} analyzer computes {embedder.model_id!r}, not {model_id!r}: "
            "configure it for the model first"
        )
    current = running(db, kind)
    if current is not None:
        if current.to_model != embedder.model_id:
            raise Conflict(
                f"a {kind} migration to {current.to_model!r} is running ({current.id}); "
                "finish it first"
            )
        return current.id
    source = library_model(db, kind)
    if source is None:
        raise InvalidInput(f"the library has no {kind} observations to re-embed")
    if source == embedder.model_id:
        raise Conflict(f"the library's {kind} observations already use {source!r}")
    with db.session() as s:
        total = s.execute(
            select(func.count())
            .select_from(Observation)
            .where(Observation.kind == kind, Observation.model_id == source)
        ).scalar_one()
        m = ReembedMigration(
            id=new_id("rem"),
            kind=kind,
            from_model=source,
            to_model=embedder.model_id,
            state="running",
            total=int(total),
            created_by=actor,
        )
        s.add(m)
        audit.record(
            s,
            actor=actor,
            action="identity.reembed.start",
            object_type="reembed",
            object_id=m.id,
            details={"kind": kind, "from": source, "to": embedder.model_id, "total": total},
        )
        return m.id


def _pending(db: Database, m: ReembedMigration, limit: int) -> list[Target]:
    staged = select(ReembedItem.observation_id).where(ReembedItem.migration_id == m.id)
    with db.session() as s:
        rows = s.execute(
            select(Observation, Media.sha256, Media.original_name)
            .join(Media, Media.id == Observation.media_id)
            .where(
                Observation.kind == m.kind,
                Observation.model_id == m.from_model,
                Observation.id.not_in(staged),
            )
            .order_by(Observation.id)
            .limit(limit)
        ).all()
    return [Target(o.id, o.kind, o.crop, sha, name, list(o.spans or [])) for o, sha, name in rows]


def run(
    db: Database,
    engine: IdentityEngine,
    migration_id: str,
    embedder: Embedder,
    actor: str,
    progress: ProgressHook = no_progress,
) -> dict[str, Any]:
    """Embed what is missing, then switch the library over; the final state as a dict."""
    with db.session() as s:
        m = s.get(ReembedMigration, migration_id)
        if m is None:
            raise NotFound(f"no re-embedding migration {migration_id!r}")
    if m.state != "running":
        return _as_dict(m)
    if m.to_model != embedder.model_id or m.kind != embedder.kind:
        raise Conflict(f"migration {m.id} is to {m.to_model!r}, not {embedder.model_id!r}")
    try:
        while batch := _pending(db, m, BATCH):
            staged = [(t.id, embedder.embed(t)) for t in batch]
            with db.session() as s:
                s.add_all(
                    ReembedItem(
                        migration_id=m.id,
                        observation_id=oid,
                        embedding=encode_embedding(vec) if vec else None,
                        dim=len(vec) if vec else 0,
                    )
                    for oid, vec in staged
                )
                row = s.get(ReembedMigration, m.id)
                assert row is not None
                row.done += len(staged)
                row.failed += sum(vec is None for _, vec in staged)
                row.total = max(row.total, row.done)
                row.updated_at = utcnow()
                done, total = row.done, row.total
            progress(Progress("reembed", done, total, f"{m.kind}: {m.from_model} -> {m.to_model}"))
        return _switch(db, engine, m.id, actor)
    except AimaError as exc:
        _fail(db, m.id, str(exc))
        raise
    except Exception as exc:  # any model failure: recorded, then re-raised
        _fail(db, m.id, f"{type(exc).__name__}: {exc}")
        raise


def _fail(db: Database, migration_id: str, error: str) -> None:
    """A failed run stays resumable: state remains ``running``, the error is recorded."""
    log.error("re-embedding failed", extra={"migration": migration_id, "error": error})
    with db.session() as s:
        row = s.get(ReembedMigration, migration_id)
        if row is not None:
            row.error = error[:2000]
            row.updated_at = utcnow()


def _switch(db: Database, engine: IdentityEngine, migration_id: str, actor: str) -> dict[str, Any]:
    """Move every staged observation to the new model in one transaction."""
    engine.vectors.sync()
    with db.session() as s:
        lock(s)
        m = s.get(ReembedMigration, migration_id)
        assert m is not None
        old_coll = collection_name(m.kind, m.from_model)
        new_coll = collection_name(m.kind, m.to_model)
        arrived = s.execute(
            select(func.count()).select_from(Observation).where(Observation.collection == new_coll)
        ).scalar_one()
        items = s.execute(
            select(ReembedItem.observation_id, ReembedItem.embedding, ReembedItem.dim).where(
                ReembedItem.migration_id == m.id, ReembedItem.embedding.is_not(None)
            )
        ).all()
        moved = [oid for oid, _, _ in items]
        for oid, blob, dim in items:
            s.execute(
                update(Observation)
                .where(Observation.id == oid, Observation.model_id == m.from_model)
                .values(embedding=blob, dim=dim, model_id=m.to_model, collection=new_coll)
            )
        VectorStore.enqueue(s, old_coll, moved)
        VectorStore.enqueue(s, new_coll, moved)
        s.execute(delete(ReembedItem).where(ReembedItem.migration_id == m.id))
        m.state, m.finished_at, m.updated_at, m.error = "done", utcnow(), utcnow(), None
        audit.record(
            s,
            actor=actor,
            action="identity.reembed.done",
            object_type="reembed",
            object_id=m.id,
            details={"moved": len(moved), "failed": m.failed, "arrived_meanwhile": arrived},
        )
        out = _as_dict(m)
    engine.vectors.sync()
    if arrived:
        out["recluster"] = engine.recluster([new_coll])
    return out


def model_counts(db: Database, kind: str) -> dict[str, int]:
    """Observations per model of ``kind`` (to show a migration's effect)."""
    with db.session() as s:
        rows = s.execute(
            select(Observation.model_id, func.count())
            .where(Observation.kind == kind)
            .group_by(Observation.model_id)
        ).all()
    return {str(m): int(n) for m, n in rows}
