"""Text search in three modes: full-text, semantic (embeddings) and hybrid (both, fused).

- ``fulltext``: words, phrases and prefixes, stemmed per language
  (:func:`aima.store.fulltext.search_text`).
- ``semantic``: the query is embedded with the library's text model and its nearest
  segments are found in the ``text_...`` vector collection; the score is the cosine
  similarity. Finds paraphrases that share no word with the query (English only).
- ``hybrid``: reciprocal rank fusion of both rankings, ``sum(1 / (k + rank))`` with
  ``k = search.rrf_k``: a segment near the top of either list ranks high, one found by
  both ranks highest. Each hit says which ranking(s) found it.

The default is ``hybrid`` when semantic search is on (``search.semantic``), else
``fulltext``. The vector index knows nothing of permissions: it is asked for more
neighbours than the page needs and the rows are filtered by the caller's visible
media (and sources, media id) in the database, asking again for more while a page
is not full and the index has more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from aima.core.errors import InvalidInput
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.core.settings import SearchSettings
from aima.identity.engine import lock
from aima.store.db import Database
from aima.store.fulltext import (
    HIT_FIELDS,
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    TextEmbedder,
    TextHit,
    backfill_search_text,
    check_page,
    search_text,
    segment_filters,
    store_embeddings,
)
from aima.store.models import TextSegment
from aima.store.vectors import VectorStore

Mode = Literal["fulltext", "semantic", "hybrid"]
MODES: tuple[Mode, ...] = ("fulltext", "semantic", "hybrid")
MAX_NEIGHBOURS = 20_000  # the most vector hits one semantic page reads before giving up


@dataclass(frozen=True)
class RankedHit:
    """A hit with the ranking(s) that found it and, when semantic, its cosine similarity."""

    hit: TextHit
    score: float
    matched_by: tuple[str, ...]
    similarity: float | None = None
    ranks: dict[str, int] = field(default_factory=dict)


class TextSearch:
    def __init__(
        self, vectors: VectorStore, embedder: TextEmbedder | None, settings: SearchSettings
    ) -> None:
        self.vectors = vectors
        self.embedder = embedder
        self.settings = settings

    @property
    def semantic_on(self) -> bool:
        return self.embedder is not None

    def default_mode(self) -> Mode:
        return "hybrid" if self.semantic_on else "fulltext"

    def search(
        self,
        session: Session,
        query: str,
        *,
        mode: Mode | None = None,
        media_filter: Select[Any] | None = None,
        sources: Sequence[str] | None = None,
        media_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[Mode, list[RankedHit]]:
        """The page of hits for ``query`` in ``mode`` (default: :meth:`default_mode`).

        Call it before ``session`` ran a statement: the vector index catches up with the
        outbox first, in its own transaction (on SQLite every transaction holds the write
        lock, so it cannot start while this session's is open).
        """
        mode = mode or self.default_mode()
        if mode not in MODES:
            raise InvalidInput(f"unknown search mode {mode!r}; use one of {list(MODES)}")
        check_page(limit, offset)
        if mode != "fulltext" and self.embedder is not None:
            self.vectors.sync()
        scope: dict[str, Any] = {
            "media_filter": media_filter,
            "sources": sources,
            "media_id": media_id,
        }
        if mode == "fulltext":
            hits = search_text(session, query, limit=limit, offset=offset, **scope)
            return mode, [
                RankedHit(h, h.score, ("fulltext",), ranks={"fulltext": offset + i + 1})
                for i, h in enumerate(hits)
            ]
        self._require_semantic()
        if mode == "semantic":
            found = self.semantic(session, query, need=offset + limit, **scope)
            return mode, found[offset : offset + limit]
        depth = min(MAX_LIMIT, max(50, 2 * (offset + limit)))
        full = search_text(session, query, limit=depth, **scope)
        near = self.semantic(session, query, need=depth, **scope)
        return mode, self.fuse(full, near)[offset : offset + limit]

    def _require_semantic(self) -> None:
        if self.embedder is None:
            raise InvalidInput(
                "semantic search is off on this server (search.semantic = false, "
                "AIMA_SEARCH__SEMANTIC); search with mode=fulltext, or turn it on and run "
                "`aima index rebuild` to embed the existing text",
                details={"semantic": False},
            )

    def semantic(
        self,
        session: Session,
        query: str,
        *,
        need: int,
        media_filter: Select[Any] | None = None,
        sources: Sequence[str] | None = None,
        media_id: str | None = None,
    ) -> list[RankedHit]:
        """The ``need`` segments nearest to the query among those the filters allow.

        Reads the index as it is (the caller synced it before its session began)."""
        self._require_semantic()
        assert self.embedder is not None
        text = " ".join(query.split())
        if not text:
            raise InvalidInput("search query is empty: type what you are looking for")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInput(
                f"search query is {len(query)} characters long; "
                f"shorten it to at most {MAX_QUERY_CHARS}",
                details={"max_chars": MAX_QUERY_CHARS},
            )
        filters = segment_filters(media_filter=media_filter, sources=sources, media_id=media_id)
        if filters is None:
            return []
        collection = self.embedder.collection
        vector = self.embedder.embed([text])[0]
        k = max(50, 4 * need)
        while True:
            query_vector = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
            hits = self.vectors.index.search(collection, query_vector, k)[0]
            order = {h.item_id: (i, h.distance) for i, h in enumerate(hits)}
            rows = session.execute(
                select(*HIT_FIELDS).where(
                    TextSegment.id.in_(list(order)), TextSegment.collection == collection, *filters
                )
            ).all()
            if len(rows) >= need or len(hits) < k or k >= MAX_NEIGHBOURS:
                break
            k = min(MAX_NEIGHBOURS, k * 4)
        ranked = sorted(rows, key=lambda r: order[r[0]][0])[:need]
        out = []
        for rank, row in enumerate(ranked, 1):
            similarity = round(1.0 - order[row[0]][1] ** 2 / 2.0, 6)
            hit = TextHit(*row, score=similarity, snippet=row[5])
            out.append(RankedHit(hit, similarity, ("semantic",), similarity, {"semantic": rank}))
        return out

    def fuse(self, full: Sequence[TextHit], near: Sequence[RankedHit]) -> list[RankedHit]:
        """Reciprocal rank fusion of the full-text and semantic rankings (best first)."""
        k = self.settings.rrf_k
        fused: dict[int, RankedHit] = {}
        for rank, hit in enumerate(full, 1):
            fused[hit.segment_id] = RankedHit(
                hit, 1.0 / (k + rank), ("fulltext",), None, {"fulltext": rank}
            )
        for rank, item in enumerate(near, 1):
            seg = item.hit.segment_id
            share = 1.0 / (k + rank)
            if seg in fused:
                known = fused[seg]
                fused[seg] = replace(
                    known,
                    score=known.score + share,
                    matched_by=("fulltext", "semantic"),
                    similarity=item.similarity,
                    ranks={**known.ranks, "semantic": rank},
                )
            else:
                fused[seg] = replace(item, score=share, ranks={"semantic": rank})
        return sorted(fused.values(), key=lambda r: (-r.score, r.hit.segment_id))


def backfill(
    db: Database,
    embedder: TextEmbedder | None,
    *,
    batch: int = 256,
    progress: ProgressHook = no_progress,
) -> dict[str, int]:
    """Prepare text written before stemming / semantic search existed; resumable, batched.

    Fills ``search_text`` (the stemmed index) and, when semantic search is on, embeds the
    segments that have no embedding yet, queueing them for the vector index. Each batch
    commits on its own under the identity writers' lock (outbox ids commit in order), so
    an interrupted run continues where it stopped.
    """
    with db.session() as s:
        stemmed = backfill_search_text(s)
    embedded = 0
    if embedder is None:
        return {"stemmed": stemmed, "embedded": 0}
    with db.session() as s:
        todo = int(
            s.scalar(
                select(func.count()).select_from(TextSegment).where(TextSegment.embedding.is_(None))
            )
            or 0
        )
    last = 0
    while True:
        with db.session() as s:
            lock(s)
            rows = s.execute(
                select(TextSegment.id, TextSegment.text)
                .where(TextSegment.embedding.is_(None), TextSegment.id > last)
                .order_by(TextSegment.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            store_embeddings(s, embedder, [r[0] for r in rows], [r[1] for r in rows])
        embedded += len(rows)
        last = int(rows[-1][0])
        progress(Progress("text.embed", embedded, max(todo, embedded)))
    return {"stemmed": stemmed, "embedded": embedded}
