"""Search: by face photo, by voice clip (through the same analyzers as the library) and text.

Query files are untrusted input like any upload: type by content, size, pixel and
duration limits, then decoding. They are analysed in memory and never stored; the
search itself is written to the audit trail (who, what: the query's sha256 and
size, when, how many results).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from aima.analyzers.registry import AnalyzerRegistry
from aima.compute.executors import Executor
from aima.core.errors import InvalidInput, ServiceUnavailable
from aima.core.settings import DecodeSettings, MediaLimits, SearchSettings
from aima.identity.engine import IdentityEngine
from aima.identity.names import PersonLabel, speaker_labels
from aima.media.inspect import inspect_media
from aima.media.types import MediaKind
from aima.pipeline.oneshot import analyze_file
from aima.results import FacesResult, SpeakersResult
from aima.security import audit
from aima.security.permissions import Permission
from aima.services import reembed
from aima.services.access import Principal, media_names, media_views, visible_media
from aima.services.cases import CaseUse
from aima.services.text_search import Mode, TextSearch
from aima.store.db import Database
from aima.store.models import Media, Person


def _person_fields(
    labels: dict[tuple[str, str], PersonLabel], media_id: str, speaker: str | None
) -> dict[str, Any]:
    """The hit's speaker as a person (current name, merges followed), None when unknown."""
    label = labels.get((media_id, speaker)) if speaker else None
    if label is None:
        return {"person_id": None, "person_name": None, "person_named": False}
    return dict(label.as_fields())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class SearchService:
    def __init__(
        self,
        db: Database,
        engine: IdentityEngine,
        registry: AnalyzerRegistry,
        limits: MediaLimits,
        decode: DecodeSettings,
        executor: Executor | None = None,
        search: SearchSettings | None = None,
    ) -> None:
        self.db = db
        self.engine = engine
        self.registry = registry
        self.limits = limits
        self.decode = decode
        self.executor = executor  # query files run where job chunks run (None: in-process)
        self.texts = TextSearch(engine.vectors, engine.text_embedder, search or SearchSettings())

    # --- by example ----------------------------------------------------------------------

    def _library_model(self, kind: str, analyzer_model: str) -> str:
        """The query's model, which must be the one the library is searchable with now.

        While a re-embedding migration to a new model runs, the library answers with the
        model it was built with; a query embedded by the new model would find nothing.
        """
        wanted = reembed.query_model(self.db, kind, analyzer_model)
        if wanted != analyzer_model:
            raise ServiceUnavailable(
                f"the library's {kind}s are indexed with {wanted} and are being re-embedded "
                f"for {analyzer_model}; retry when `aima persons reembed` has finished",
                details={"library_model": wanted, "analyzer_model": analyzer_model},
            )
        return analyzer_model

    def face(
        self,
        principal: Principal,
        path: Path,
        *,
        name: str = "query",
        k: int = 10,
        min_score: float | None = None,
        case: CaseUse | None = None,
    ) -> dict[str, Any]:
        """Faces in a photo -> nearest persons and observations, each with a calibrated score."""
        principal.require(Permission.SEARCH_BIOMETRIC)
        info = inspect_media(path, self.limits, display_name=name)
        if info.kind is not MediaKind.IMAGE:
            raise InvalidInput(f"{name}: search by face takes a photo, not {info.kind} media")
        faces = FacesResult.build(
            analyze_file(path, info, self.registry, ["faces"], self.decode, self.executor)["faces"]
        )
        queries = [f.model_dump() for f in faces.faces if f.embedding]
        model = self._library_model("face", faces.model_id)
        result = {
            "query": {"sha256": _sha256(path), "name": name, "faces": len(queries)},
            "model_id": model,
            "results": self._results(
                principal,
                "face",
                model,
                queries,
                k,
                min_score,
                lambda f: {"face": {"box": f["box"], "confidence": f["confidence"]}},
            ),
        }
        self._audit(principal, "search.face", result, path, case)
        return result

    def voice(
        self,
        principal: Principal,
        path: Path,
        *,
        name: str = "query",
        k: int = 10,
        min_score: float | None = None,
        case: CaseUse | None = None,
    ) -> dict[str, Any]:
        """Speakers in a clip -> nearest voice identities and persons with calibrated scores."""
        principal.require(Permission.SEARCH_BIOMETRIC)
        info = inspect_media(path, self.limits, display_name=name)
        if info.audio_codec is None:
            raise InvalidInput(f"{name}: search by voice takes a clip with an audio stream")
        speakers = SpeakersResult.build(
            analyze_file(path, info, self.registry, ["speakers"], self.decode, self.executor)[
                "speakers"
            ]
        )
        queries = [sp.model_dump() for sp in speakers.speakers if any(sp.embedding)]
        if not queries:
            raise InvalidInput(f"{name}: no speech found in the clip")
        model = self._library_model("voice", speakers.model)
        result = {
            "query": {"sha256": _sha256(path), "name": name, "speakers": len(queries)},
            "model_id": model,
            "results": self._results(
                principal,
                "voice",
                model,
                queries,
                k,
                min_score,
                lambda sp: {"speaker": {"id": sp["id"], "speech_s": sp.get("total_s")}},
            ),
        }
        self._audit(principal, "search.voice", result, path, case)
        return result

    def _results(
        self,
        principal: Principal,
        kind: str,
        model: str,
        queries: list[dict[str, Any]],
        k: int,
        min_score: float | None,
        describe: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Per query embedding: what it was (``describe``) and its persons and observations."""
        if not queries:
            return []
        vectors = np.asarray([q["embedding"] for q in queries], dtype=np.float32)
        # more observations than persons asked for: several may belong to one person
        per_query = self.engine.match(kind, model, vectors, k=k * 3, min_score=min_score)
        return [
            {**describe(q), **self._group(principal, m, k)}
            for q, m in zip(queries, per_query, strict=True)
        ]

    def _group(self, principal: Principal, matches: list[dict[str, Any]], k: int) -> dict[str, Any]:
        """Matching observations, and the persons they belong to ranked by best score."""
        persons: dict[str, dict[str, Any]] = {}
        for m in matches:
            pid = m["person_id"]
            if pid is None:
                continue
            entry = persons.setdefault(
                pid, {"person_id": pid, "score": m["score"], "appearances": []}
            )
            entry["score"] = max(entry["score"], m["score"])
            entry["appearances"].append(
                {k2: m[k2] for k2 in ("observation_id", "media_id", "start", "end", "score")}
            )
        ranked = sorted(persons.values(), key=lambda p: -p["score"])[:k]
        with self.db.session() as s:
            names = dict(
                s.execute(select(Person.id, Person.name).where(Person.id.in_(list(persons)))).all()
            )
            media = media_names(s, principal, {m["media_id"] for m in matches})
        for p in ranked:
            p["name"] = names.get(p["person_id"])
        obs = [{**m, "media_name": media.get(m["media_id"])} for m in matches[:k]]
        return {"persons": ranked, "observations": obs}

    def _audit(
        self,
        principal: Principal,
        action: str,
        result: dict[str, Any],
        path: Path,
        case: CaseUse | None = None,
    ) -> None:
        hits = [p["person_id"] for r in result.get("results", []) for p in r.get("persons", [])]
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action=action,
                object_type="search",
                details={
                    "query_sha256": result["query"]["sha256"],
                    "query_bytes": path.stat().st_size,
                    "persons": hits[:50],
                    **(case.audit() if case is not None else {}),
                },
            )

    # --- text ------------------------------------------------------------------------------

    def text(
        self,
        principal: Principal,
        query: str,
        *,
        sources: Sequence[str] | None = None,
        media_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
        mode: Mode | None = None,
    ) -> dict[str, Any]:
        """Transcripts, on-screen text, objects and scene descriptions of the media this user
        may see, best match first: full-text, semantic or hybrid (see ``text_search``)."""
        principal.require(Permission.SEARCH_TEXT)
        with self.db.session() as s:
            used, found = self.texts.search(
                s,
                query,
                mode=mode,
                media_filter=visible_media(principal),
                sources=sources,
                media_id=media_id,
                limit=limit,
                offset=offset,
            )
            hits = [r.hit for r in found]
            rows = s.execute(select(Media).where(Media.id.in_({h.media_id for h in hits})))
            views = media_views(s, principal, rows.scalars())
            names = {i: v.name for i, v in views.items()}
            # a duplicate viewer's hits name no person: persons come from others' corrections
            named = {
                h.media_id
                for h in hits
                if h.speaker and h.media_id in views and not views[h.media_id].restricted
            }
            who = speaker_labels(s, named)
            audit.record(
                s,
                actor=principal.actor,
                action="search.text",
                object_type="search",
                details={"query": query[:200], "mode": used, "results": len(hits)},
            )
        return {
            "query": query,
            "mode": used,
            "semantic": self.texts.semantic_on,
            "results": [
                {
                    "segment_id": h.segment_id,
                    "media_id": h.media_id,
                    "media_name": names.get(h.media_id),
                    "source": h.source,
                    "start": h.start,
                    "end": h.end,
                    "text": h.text,
                    "snippet": h.snippet,
                    "speaker": h.speaker,
                    **_person_fields(who, h.media_id, h.speaker),
                    "score": r.score,
                    "matched_by": list(r.matched_by),
                    "similarity": r.similarity,
                    "jump": f"/api/v1/media/{h.media_id}/timeline?t={h.start}",
                }
                for r, h in zip(found, hits, strict=True)
            ],
        }
