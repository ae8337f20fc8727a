"""Subject access export: everything held about one person, in one ZIP a person can read.

``person.json``        the dossier: every fact with its citations (media, time, model)
``observations.json``  each appearance: media id, kind, times, confidence, model (no embeddings)
``transcripts.json``   the transcript segments they said
``crops/<id>.jpg``     the face crops kept of them
``report.md``          the dossier as readable text

Built in memory (crops are small JPEGs) and audited as ``person.subject_export``.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from sqlalchemy import select

from aima.core.errors import NotFound, StorageError
from aima.identity.dossier import build_dossier
from aima.identity.dossier_markdown import dossier_markdown
from aima.identity.engine import live_person
from aima.security import audit
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.cases import CaseUse
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import Observation, Person, TextSegment

FORMAT = 1


def _observation(o: Observation) -> dict[str, Any]:
    return {
        "id": o.id,
        "kind": o.kind,
        "media_id": o.media_id,
        "ref": o.ref,
        "start": o.start,
        "end": o.end,
        "spans": o.spans,
        "duration_s": o.duration_s,
        "confidence": o.confidence,
        "usable": o.usable,
        "model_id": o.model_id,
        "assigned_by": o.assigned_by,
        "crop": f"crops/{o.id}.jpg" if o.crop else None,
        "created_at": o.created_at.isoformat(),
    }


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


class SubjectExporter:
    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def export(self, principal: Principal, person_id: str, case: CaseUse | None = None) -> bytes:
        """The ZIP's bytes (a merged id exports the person it joined)."""
        principal.require(Permission.PERSONS_ERASE)
        with self.db.session() as s:
            person = live_person(s, person_id)
            if person is None:
                raise NotFound(f"person {person_id} not found")
            ids = [person.id]
            frontier = [person.id]
            while frontier:
                frontier = [
                    p
                    for p in s.execute(
                        select(Person.id).where(Person.merged_into.in_(frontier))
                    ).scalars()
                    if p not in ids
                ]
                ids += frontier
            doc = build_dossier(s, person.id)
            obs = list(
                s.execute(
                    select(Observation)
                    .where(Observation.person_id.in_(ids))
                    .order_by(Observation.media_id, Observation.start, Observation.id)
                ).scalars()
            )
            transcripts: list[dict[str, Any]] = []
            for o in obs:
                if o.kind != "voice" or not o.ref.startswith("speaker:"):
                    continue
                segs = s.execute(
                    select(TextSegment)
                    .where(
                        TextSegment.media_id == o.media_id,
                        TextSegment.source == "transcript",
                        TextSegment.speaker == o.ref.removeprefix("speaker:"),
                    )
                    .order_by(TextSegment.start)
                ).scalars()
                transcripts += [
                    {
                        "media_id": g.media_id,
                        "start": g.start,
                        "end": g.end,
                        "speaker": g.speaker,
                        "language": g.language,
                        "confidence": g.confidence,
                        "text": g.text,
                    }
                    for g in segs
                ]
            crops = {o.id: o.crop for o in obs if o.crop}
            audit.record(
                s,
                actor=principal.actor,
                action="person.subject_export",
                object_type="person",
                object_id=person.id,
                details={
                    "observations": len(obs),
                    "segments": len(transcripts),
                    "crops": len(crops),
                    **(case.audit() if case is not None else {}),
                },
            )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("person.json", _json({"format": FORMAT, "person_ids": ids, **doc}))
            z.writestr("observations.json", _json([_observation(o) for o in obs]))
            z.writestr("transcripts.json", _json(transcripts))
            for oid, key in crops.items():
                try:
                    z.writestr(f"crops/{oid}.jpg", self.blobs.get_bytes(key))
                except StorageError:  # listed in observations.json; the file is gone
                    continue
            z.writestr("report.md", _report(doc, len(obs), len(transcripts), len(crops)))
        return buffer.getvalue()


def _report(doc: dict[str, Any], observations: int, segments: int, crops: int) -> str:
    head = (
        "# Subject access export\n\n"
        "This archive holds everything this library stores about one person:\n\n"
        f"- `person.json`: the dossier, every fact citing the media and time it comes from\n"
        f"- `observations.json`: {observations} appearances (face tracks and voices)\n"
        f"- `transcripts.json`: {segments} transcript segments attributed to them\n"
        f"- `crops/`: {crops} face images\n\n"
        "Embeddings (the numeric face and voice signatures) are derived from these images "
        "and recordings and are not included.\n\n---\n\n"
    )
    return head + dossier_markdown(doc)
