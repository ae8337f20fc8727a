"""The person dossier: everything the library knows about one person, every fact cited.

A dossier is a list of :class:`Fact` s, each one plain sentence plus the data behind
it and at least one :class:`Citation` (media, time range, analyzer, result row,
confidence). Sections (appearances, faces, voice, emotions, what they said, text
seen near them, flags, company, face-voice links) list fact ids, so a later LLM
summary can cite exactly the same ``F<n>`` ids a reviewer sees here. Ids are stable
within one dossier: sections are built in a fixed order, each sorted
deterministically (media by upload time then id, items by time).

Nothing is inferred beyond what the rows say: a missing analyzer becomes a note
("not analysed"), never an empty = negative finding.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.identity.dossier_company import appears_with, speaks_with, voice_links
from aima.identity.dossier_content import flags, restraints, said, text_seen
from aima.identity.dossier_parts import SCHEMA, DossierLimits, _live_person
from aima.identity.dossier_presence import (
    appearances,
    emotions,
    representative_faces,
    voice_samples,
)
from aima.identity.dossier_rows import DossierRows


def build_dossier(
    session: Session,
    person_id: str,
    *,
    now: datetime | None = None,
    limits: DossierLimits | None = None,
) -> dict[str, Any]:
    """Everything known about a person (merged ids followed), as JSON-ready facts with citations.

    Raises :class:`NotFound` for an unknown id.
    """
    person = _live_person(session, person_id)
    d = DossierRows(session, person, limits or DossierLimits())
    # the order of the sections is the order of the fact ids (F1, F2, ...)
    summary = appearances(d)
    representative_faces(d)
    voice_samples(d)
    emotions(d)
    said(d)
    text_seen(d)
    flags(d)
    restraints(d)
    appears_with(d)
    speaks_with(d)
    voice_links(d)
    return {
        "schema": SCHEMA,
        "generated_at": (now or utcnow()).isoformat(),
        "person": {"id": person.id, "name": person.name, "merged_ids": d.merged},
        "summary": summary,
        "sections": d.sections,
        "facts": [asdict(f) for f in d.facts],
        "notes": d.notes,
        "sources": d.sources(),
    }
