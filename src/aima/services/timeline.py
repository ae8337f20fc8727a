"""Timelines, transcripts and result review for one media."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aima.core.clock import utcnow
from aima.core.errors import NotFound
from aima.identity.names import PersonLabel, speaker_labels
from aima.pipeline.fusion import build_timeline
from aima.pipeline.subtitles import to_srt, to_webvtt
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal, get_media, media_view
from aima.services.exports import name_faces
from aima.store.db import Database
from aima.store.models import AnalysisResult


def name_speakers(
    timeline: dict[str, Any], labels: dict[tuple[str, str], PersonLabel], media_id: str
) -> None:
    """Add ``person_id``/``person_name`` next to every raw ``speaker`` id of the timeline.

    Resolved when read, on top of what fusion built, so a rename or merge shows at once;
    ``speaker`` stays the analyzer's per-media id. Unassigned speakers get None.
    """
    tracks = timeline.get("tracks", {})

    def fields(speaker: Any) -> dict[str, Any]:
        label = labels.get((media_id, str(speaker))) if speaker is not None else None
        if label is None:
            return {"person_id": None, "person_name": None, "person_named": False}
        return label.as_fields()

    for seg in tracks.get("transcript", []):
        seg.update(fields(seg.get("speaker")))
        for word in seg.get("words", []):
            word.update(fields(word.get("speaker")))
    for track in tracks.get("speakers", []):
        track.update(fields(track.get("id")))


class TimelineService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def timeline(self, principal: Principal, media_id: str) -> dict[str, Any]:
        """Fuse the accepted result of every analyzer (the newest accepted one per analyzer)."""
        principal.require(Permission.RESULTS_READ)
        with self.db.session() as s:
            media = get_media(s, principal, media_id)
            view = media_view(s, principal, media)
            rows = s.execute(
                select(AnalysisResult)
                .where(AnalysisResult.media_id == media_id, AnalysisResult.accepted.is_(True))
                .order_by(AnalysisResult.created_at)
            ).scalars()
            latest = {r.analyzer: r for r in rows}
            pending = s.execute(
                select(AnalysisResult.analyzer, AnalysisResult.id, AnalysisResult.analyzer_version)
                .where(
                    AnalysisResult.media_id == media_id,
                    AnalysisResult.accepted.is_(False),
                    AnalysisResult.accepted_at.is_(None),  # never accepted: not superseded ones
                )
                .order_by(AnalysisResult.created_at)
            ).all()
            media_info = {
                "id": media.id,
                "name": view.name,  # the caller's own name for it (access.MediaView)
                "kind": media.kind,
                "duration_s": media.info.get("duration_s"),
                "width": media.info.get("width"),
                "height": media.info.get("height"),
            }
        sources = {
            name: {
                "result_id": r.id,
                "job_id": r.job_id,
                "version": r.analyzer_version,
                "model_id": r.model_id,
                "config_hash": r.config_hash,
            }
            for name, r in latest.items()
        }
        timeline = build_timeline(media_info, {n: r.data for n, r in latest.items()}, sources)
        if view.restricted:
            # a duplicate viewer: persons are named and linked by other users' corrections
            # (renames, merges, splits), so their lanes carry no person (docs/security.md)
            name_speakers(timeline, {}, media_id)
        else:
            with self.db.session() as s:
                name_speakers(timeline, speaker_labels(s, [media_id]), media_id)
                name_faces(timeline, s, media_id)  # the media view labels face lanes (exports.py)
        timeline["pending_review"] = [
            {"analyzer": a, "result_id": rid, "version": v} for a, rid, v in pending
        ]
        return timeline

    def transcript(self, principal: Principal, media_id: str, fmt: str) -> str:
        segments = self.timeline(principal, media_id)["tracks"]["transcript"]
        return to_webvtt(segments) if fmt == "vtt" else to_srt(segments)

    def accept(self, principal: Principal, result_id: str) -> AnalysisResult:
        """Make a result the one the timeline uses (the previous accepted one is kept, unaccepted)."""
        principal.require(Permission.RESULTS_REVIEW)
        with self.db.session() as s:
            result = s.get(AnalysisResult, result_id)
            if result is None:
                raise NotFound(f"result {result_id} not found")
            get_media(s, principal, result.media_id)
            for other in s.execute(
                select(AnalysisResult).where(
                    AnalysisResult.media_id == result.media_id,
                    AnalysisResult.analyzer == result.analyzer,
                    AnalysisResult.accepted.is_(True),
                )
            ).scalars():
                other.accepted = False
            result.accepted = True
            result.accepted_at = utcnow()
            result.accepted_by = principal.actor
            audit.record(
                s,
                actor=principal.actor,
                action="result.accept",
                object_type="result",
                object_id=result.id,
                details={"media_id": result.media_id, "analyzer": result.analyzer},
            )
            return result
