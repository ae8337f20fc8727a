"""A library written straight into the database (no blobs, no analyzers): media with jobs and
accepted results shaped like the real analyzers', for listing, card and dashboard tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aima.core.clock import utcnow
from aima.core.ids import new_id
from aima.runtime import Runtime
from aima.store.models import AnalysisResult, Job, Media, MediaGrant, Observation, Person


@dataclass
class Library:
    media: list[str] = field(default_factory=list)
    person_id: str = ""


def _result(media_id: str, job_id: str, analyzer: str, data: dict[str, Any]) -> AnalysisResult:
    return AnalysisResult(
        id=new_id("res"),
        media_id=media_id,
        job_id=job_id,
        analyzer=analyzer,
        analyzer_version="1",
        model_id="test",
        config={},
        config_hash="0" * 64,
        data={"analyzer": analyzer, "schema_version": 1, **data},
        accepted=True,
    )


def seed_library(
    runtime: Runtime, n: int, *, owner_id: str | None = None, start: int = 0
) -> Library:
    """``n`` media; media i: video when i % 3 == 0 (duration i+1 s) else image; every even one has
    faces (i % 4 + 1 tracks), speech, a transcript of i + 1 words and 2 speakers; every fifth is
    flagged by nsfw (3 spans); media 0 shows one person. Latest job: succeeded, older: failed."""
    lib = Library()
    now = utcnow()
    with runtime.db.session() as s:
        person = Person(id=new_id("per"))
        s.add(person)
        lib.person_id = person.id
        s.flush()
        for i in range(start, start + n):
            video = i % 3 == 0
            media = Media(
                id=new_id("med"),
                sha256=hashlib.sha256(f"media-{i}-{new_id('x')}".encode()).hexdigest(),
                size=1000 + i,
                kind="video" if video else "image",
                format="mp4" if video else "jpeg",
                mime="video/mp4" if video else "image/jpeg",
                original_name=f"Clip-{i:03d}.{'mp4' if video else 'jpg'}",
                info={"duration_s": float(i + 1), "width": 160, "height": 120}
                if video
                else {"width": 320, "height": 240},
                uploaded_by=owner_id,
                created_at=now - timedelta(minutes=1000 - i),
            )
            s.add(media)
            s.flush()
            if owner_id:
                s.add(MediaGrant(media_id=media.id, user_id=owner_id))
            lib.media.append(media.id)
            old = Job(
                id=new_id("job"),
                media_id=media.id,
                analyzers=["thumbnails"],
                state="failed",
                created_at=now - timedelta(minutes=999 - i),
                error="boom",
            )
            job = Job(
                id=new_id("job"),
                media_id=media.id,
                analyzers=["thumbnails", "faces"],
                state="succeeded",
                progress=1.0,
                created_at=now - timedelta(minutes=998 - i),
            )
            s.add_all([old, job])
            s.flush()
            s.add(_result(media.id, job.id, "thumbnails", {"thumbnail": f"{i:064x}"}))
            if i % 2 == 0:
                tracks = [
                    {"id": t, "start": 0, "end": 1, "detections": [t], "best": t}
                    for t in range(i % 4 + 1)
                ]
                s.add(_result(media.id, job.id, "faces", {"tracks": tracks, "count": len(tracks)}))
                s.add(_result(media.id, job.id, "vad", {"speech_s": 1.5, "segments": []}))
                words = " ".join(f"w{k}" for k in range(i + 1))
                s.add(_result(media.id, job.id, "transcribe", {"text": words, "segments": []}))
                speakers = [{"id": "S1"}, {"id": "S2"}]
                s.add(_result(media.id, job.id, "speakers", {"speakers": speakers, "turns": []}))
            else:
                s.add(_result(media.id, job.id, "faces", {"tracks": [], "count": 0}))
                s.add(_result(media.id, job.id, "vad", {"speech_s": 0.0, "segments": []}))
            if i % 5 == 0:
                spans = [{"start": k, "end": k + 1, "score": 0.9} for k in range(3)]
                s.add(_result(media.id, job.id, "nsfw", {"flagged": True, "spans": spans}))
            s.flush()
            if i == start:
                result_id = (
                    s.query(AnalysisResult.id)
                    .filter_by(media_id=media.id, analyzer="faces")
                    .scalar()
                )
                s.add(
                    Observation(
                        kind="face",
                        media_id=media.id,
                        result_id=result_id,
                        collection="faces-test",
                        model_id="test",
                        ref="track:0",
                        start=0.0,
                        end=1.0,
                        embedding=b"\0" * 8,
                        dim=2,
                        person_id=person.id,
                    )
                )
    return lib
