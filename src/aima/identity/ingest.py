"""What accepted results become in the identity tables, one media at a time.

Faces and voices become observations (:func:`observation_row`, from the drafts of
``observations``); transcripts, OCR, objects (bodies) and scene descriptions become
searchable text segments (:func:`sync_text`). A result replaced by another accepted one
is undone by :func:`retire`. The engine (:mod:`aima.identity.engine`) calls these inside
the one transaction that syncs a media; none of them commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from aima.identity.observations import Draft, keyframe_grid
from aima.identity.text import object_segments, ocr_segments, scene_segments, transcript_segments
from aima.results import (
    AnalyzerResult,
    BodiesResult,
    InvalidResult,
    OcrResult,
    ScenesResult,
    SpeakersResult,
    TranscribeResult,
    load_result,
)
from aima.store.events import emit_persons_matched
from aima.store.fulltext import TextEmbedder, delete_segments, replace_segments
from aima.store.models import AnalysisResult, Media, Observation, TextSegment
from aima.store.vectors import VectorStore, collection_name, encode_embedding

log = logging.getLogger(__name__)
T = TypeVar("T", bound=AnalyzerResult)

# faces and voices become observations; transcripts, OCR, objects (bodies) and scene
# descriptions become searchable text segments.
IDENTITY_ANALYZERS = ("faces", "speakers", "transcribe", "ocr", "bodies", "scenes")
FRAME_LISTS = ("nsfw", "bodies")  # results that list every analysed keyframe


def typed_result(row: AnalysisResult, kind: type[T]) -> T | None:
    """A stored result through its model; a row the model rejects is skipped and logged.

    Such a row cannot become observations or text (its shape is unknown); re-running the
    analyzer replaces it. The media's other results are still synced.
    """
    try:
        return kind.load(row.data)
    except InvalidResult as exc:
        log.warning(
            "skipping an unreadable result",
            extra={"media_id": row.media_id, "result_id": row.id, "reason": exc.message},
        )
        return None


def frames_of(s: Session, media_id: str) -> dict[str, Any]:
    """The media's length and the keyframe times other frame analyzers listed.

    Face presence runs until the next analysed keyframe (see ``observations``); the
    faces result lists only frames with a face, nsfw/bodies list every frame.
    """
    media = s.get(Media, media_id)
    info = (media.info if media is not None else None) or {}
    duration = info.get("duration_s")
    listed = [
        load_result(name, data)
        for name, data in s.execute(
            select(AnalysisResult.analyzer, AnalysisResult.data).where(
                AnalysisResult.media_id == media_id,
                AnalysisResult.accepted.is_(True),
                AnalysisResult.analyzer.in_(FRAME_LISTS),
            )
        ).all()
    ]
    return {
        "grid": keyframe_grid(listed),
        "duration": float(duration) if isinstance(duration, int | float) else None,
    }


def observation_row(media_id: str, result: AnalysisResult, d: Draft) -> Observation:
    """The observation row of one draft (a face track or a voice) of ``result``."""
    return Observation(
        kind=d.kind,
        media_id=media_id,
        result_id=result.id,
        collection=collection_name(d.kind, d.model_id),
        model_id=d.model_id,
        ref=d.ref,
        start=d.start,
        end=d.end,
        duration_s=d.duration_s,
        count=d.count,
        spans=d.spans,
        quality=d.quality,
        usable=d.usable,
        confidence=d.confidence,
        embedding=encode_embedding(d.embedding),
        dim=len(d.embedding),
        crop=d.crop,
    )


def retire(s: Session, result_id: str) -> None:
    """Undo a replaced result: its observations (out of the index via the outbox) and text."""
    rows = s.execute(
        select(Observation.id, Observation.collection).where(Observation.result_id == result_id)
    ).all()
    by_collection: dict[str, list[int]] = defaultdict(list)
    for oid, coll in rows:
        by_collection[coll].append(oid)
    for coll, ids in by_collection.items():
        VectorStore.enqueue(s, coll, ids)
    s.execute(delete(Observation).where(Observation.result_id == result_id))
    delete_segments(s, TextSegment.result_id == result_id)


def sync_text(
    s: Session,
    media_id: str,
    accepted: dict[str, AnalysisResult],
    text_embedder: TextEmbedder | None,
) -> int:
    """Text segments of the media: transcript (with speakers), OCR, objects, scenes.

    With a text embedder each segment is embedded and queued for the vector index in
    this transaction (semantic search).
    """
    count = 0
    transcribe, speakers, ocr, bodies, scenes = (
        accepted.get(a) for a in ("transcribe", "speakers", "ocr", "bodies", "scenes")
    )
    turns = typed_result(speakers, SpeakersResult) if speakers is not None else None
    parts: list[tuple[AnalysisResult, str, list[dict[str, Any]]]] = []
    said = typed_result(transcribe, TranscribeResult) if transcribe is not None else None
    if transcribe is not None and said is not None:
        parts.append((transcribe, "transcript", transcript_segments(said, turns)))
    lines = typed_result(ocr, OcrResult) if ocr is not None else None
    if ocr is not None and lines is not None:
        parts.append((ocr, "ocr", ocr_segments(lines)))
    objects = typed_result(bodies, BodiesResult) if bodies is not None else None
    if bodies is not None and objects is not None:
        parts.append((bodies, "object", object_segments(objects)))
    seen = typed_result(scenes, ScenesResult) if scenes is not None else None
    if scenes is not None and seen is not None:
        described, named = scene_segments(seen)
        parts += [(scenes, "scene", described), (scenes, "object", named)]
    embedder = usable_embedder(text_embedder)
    for result, source, segments in parts:
        count += replace_segments(
            s,
            media_id=media_id,
            result_id=result.id,
            source=source,
            segments=segments,
            embedder=embedder,
        )
    return count


def usable_embedder(text_embedder: TextEmbedder | None) -> TextEmbedder | None:
    """The text embedder when its model is there; without it text is still found by its
    words, and `aima index rebuild` embeds it once the model is installed."""
    if text_embedder is None or text_embedder.available():
        return text_embedder
    log.error(
        "text embedding model missing: segments stored without embeddings "
        "(run `aima models`, install it, then `aima index rebuild`)"
    )
    return None


def emit_matched(s: Session, media_id: str, created: Sequence[Observation]) -> None:
    """One ``person.matched`` event per person the new observations joined or founded."""
    counts: dict[str, tuple[int, set[str]]] = {}
    for row in created:
        if row.person_id is not None:
            n, kinds = counts.get(row.person_id, (0, set()))
            counts[row.person_id] = (n + 1, kinds | {row.kind})
    if not counts:
        return
    existed = set(
        s.execute(
            select(Observation.person_id)
            .where(
                Observation.person_id.in_(list(counts)),
                Observation.id.not_in([row.id for row in created]),
            )
            .distinct()
        ).scalars()
    )
    matched = {p: (n, kinds, p not in existed) for p, (n, kinds) in counts.items()}
    emit_persons_matched(s, media_id, matched)  # last in the transaction: a brief lock
