"""One media's analysis as a file: the timeline (JSON), one row per timeline item (CSV), the
transcript (WebVTT, SubRip) or a readable PDF report (reportlab).

Every export is audited (``media.export``). Face lanes carry the person each face track
was assigned to (``name_faces``, resolved at read time like speaker names, so a rename
shows at once); the timeline service uses the same function for the media view.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from aima.identity.names import person_labels
from aima.pipeline.subtitles import to_srt, to_webvtt
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.cases import CaseUse
from aima.store.db import Database
from aima.store.models import Observation

if TYPE_CHECKING:
    from aima.services.timeline import TimelineService

ExportFormat = Literal["json", "csv", "vtt", "srt", "pdf"]
FORMATS: tuple[ExportFormat, ...] = ("json", "csv", "vtt", "srt", "pdf")
CSV_COLUMNS = ("lane", "start", "end", "label", "speaker", "person", "confidence")
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "pdf": "application/pdf",
}


def name_faces(timeline: dict[str, Any], session: Session, media_id: str) -> None:
    """Add the person of each face track (observation ``ref = "track:<id>"``) to its lane item."""
    faces = timeline.get("tracks", {}).get("faces", [])
    if not faces:
        return
    rows = session.execute(
        select(Observation.ref, Observation.person_id).where(
            Observation.media_id == media_id,
            Observation.kind == "face",
            Observation.person_id.is_not(None),
        )
    ).all()
    by_ref = {ref: pid for ref, pid in rows if pid}
    labels = person_labels(session, set(by_ref.values()))
    for item in faces:
        ref = "track:" + str(item.get("id", "")).removeprefix("face-")
        label = labels.get(by_ref.get(ref, ""))
        if label is not None:
            item.update(label.as_fields())


@dataclass(frozen=True, slots=True)
class ExportFile:
    body: bytes
    media_type: str
    filename: str


def _f(x: Any) -> str:
    return "" if x is None else f"{float(x):.3f}"


def csv_rows(timeline: dict[str, Any]) -> list[dict[str, str]]:
    """One row per timeline item, every lane on one time axis, sorted by start."""
    tracks = timeline.get("tracks", {})
    rows: list[dict[str, str]] = []

    def add(lane: str, item: dict[str, Any], label: Any, **extra: Any) -> None:
        rows.append(
            {
                "lane": lane,
                "start": _f(item.get("start")),
                "end": _f(item.get("end")),
                "label": "" if label is None else str(label),
                "speaker": str(extra.get("speaker") or ""),
                "person": str(extra.get("person") or ""),
                "confidence": _f(extra.get("confidence", item.get("confidence"))),
            }
        )

    for face in tracks.get("faces", []):
        add("faces", face, face.get("id"), person=face.get("person_name"))
        if face.get("top_emotion"):
            add("emotions", face, face["top_emotion"], person=face.get("person_name"))
    for body in tracks.get("bodies", []):
        add("bodies", body, body.get("id"))
    for obj in tracks.get("objects", []):
        add("objects", obj, obj.get("label"))
    for spk in tracks.get("speakers", []):
        for turn in spk.get("turns", []):
            add(
                "speakers",
                turn,
                spk.get("id"),
                speaker=spk.get("id"),
                person=spk.get("person_name"),
            )
    for seg in tracks.get("speech", []):
        add("speech", seg, "speech")
    for seg in tracks.get("transcript", []):
        add(
            "transcript",
            seg,
            seg.get("text"),
            speaker=seg.get("speaker"),
            person=seg.get("person_name"),
        )
    for line in tracks.get("ocr", []):
        add("ocr", line, line.get("text"))
    for span in tracks.get("nsfw", []):
        add(
            "nsfw",
            span,
            ", ".join(span.get("labels") or []) or "nsfw",
            confidence=span.get("score"),
        )
    rows.sort(key=lambda r: (float(r["start"] or 0), r["lane"]))
    return rows


def to_csv(timeline: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(timeline))
    return out.getvalue()


class ExportService:
    def __init__(self, db: Database, timelines: TimelineService) -> None:
        self.db = db
        self.timelines = timelines

    def export(
        self,
        principal: Principal,
        media_id: str,
        fmt: ExportFormat,
        *,
        case: CaseUse | None = None,
    ) -> ExportFile:
        principal.require(Permission.RESULTS_READ)
        timeline = self.timelines.timeline(principal, media_id)  # checks access to the media
        segments = timeline["tracks"].get("transcript", [])
        body: bytes
        if fmt == "json":
            body = json.dumps(timeline, ensure_ascii=False, indent=2).encode()
        elif fmt == "csv":
            body = to_csv(timeline).encode()
        elif fmt == "vtt":
            body = to_webvtt(segments).encode()
        elif fmt == "srt":
            body = to_srt(segments).encode()
        else:
            from aima.services.export_pdf import pdf_report  # reportlab loads only when asked

            body = pdf_report(timeline)
        with self.db.session() as s:
            audit.record(
                s,
                actor=principal.actor,
                action="media.export",
                object_type="media",
                object_id=media_id,
                details={
                    "format": fmt,
                    "bytes": len(body),
                    **(case.audit() if case is not None else {}),
                },
            )
        return ExportFile(body, MEDIA_TYPES[fmt], f"{media_id}.{fmt}")


def people_on_screen(timeline: dict[str, Any]) -> list[tuple[str, float, float, int]]:
    """(name or face id, first seen, seconds on screen, tracks) per person, longest first."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for face in timeline.get("tracks", {}).get("faces", []):
        groups[str(face.get("person_name") or face.get("id"))].append(face)
    out = [
        (
            name,
            min(float(f["start"]) for f in faces),
            sum(float(f["end"]) - float(f["start"]) for f in faces),
            len(faces),
        )
        for name, faces in groups.items()
    ]
    return sorted(out, key=lambda r: -r[2])
