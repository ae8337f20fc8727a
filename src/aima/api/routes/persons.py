"""Persons across the library: browse, correct (merge, split, reject, rename, undo), export.

Reading needs ``persons:read``; every change needs ``persons:manage`` and is audited by
the service. A merged person's id keeps working: it answers with the person it joined
(``requested_id`` tells the two apart).

Undo is ``POST /api/v1/persons/corrections/{correction_id}/undo``: a correction id is
unique on its own (a face-voice link decision belongs to no single person in the URL),
and ``GET /api/v1/persons/{person_id}/corrections`` lists the ids to undo.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from aima.api.case_guard import CASE_RESPONSES, CaseFor, CaseUse
from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import Page, Strict
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.subject_export import SubjectExporter

router = APIRouter(prefix="/api/v1/persons", tags=["persons"])

MAX_ITEMS = 10_000
PersonId = Annotated[str, Field(min_length=1, max_length=64)]
ObservationIds = Annotated[list[int], Field(min_length=1, max_length=MAX_ITEMS)]
Name = Annotated[str, Field(max_length=256)]
LinkState = Literal["suggested", "linked", "confirmed", "rejected"]


# --------------------------------------------------------------------------- bodies
class MergeIn(Strict):
    persons: list[PersonId] = Field(
        min_length=1, max_length=MAX_ITEMS, description="persons merged INTO the one in the path"
    )


class SplitIn(Strict):
    observations: ObservationIds = Field(description="observations that move to a new person")
    name: Name | None = Field(default=None, description="the new person's name")


class RejectIn(Strict):
    observations: ObservationIds = Field(description="observations that are not this person")


class PersonPatch(Strict):
    name: Name | None = Field(description="the new name; null or blank clears it")


# --------------------------------------------------------------------------- responses
class _Open(BaseModel):
    """Documents the fields clients rely on; fields the service adds later pass through."""

    model_config = ConfigDict(extra="allow")


class PersonSummaryOut(_Open):
    id: str
    name: str | None
    faces: int
    voices: int
    media: int
    on_screen_s: float
    speaking_s: float
    crops: list[str | None] = Field(description="sha256 of the best face crops (artifacts)")
    crop_media: list[str] = Field(
        default_factory=list,
        description="the media of each crop: GET /api/v1/media/{media_id}/artifacts/{sha256}",
    )
    created_at: datetime
    updated_at: datetime


class ObservationOut(_Open):
    id: int
    kind: str
    media_id: str
    ref: str
    start: float
    end: float
    spans: list[list[float]]
    duration_s: float
    count: int
    usable: bool
    confidence: float
    crop: str | None
    quality: dict[str, Any]
    pinned: bool
    assigned_by: str | None
    distance: float | None
    model_id: str


class LinkOut(_Open):
    id: str
    face_person_id: str
    voice_person_id: str
    confidence: float
    state: str
    coverage: float | None = None
    media: dict[str, Any] = Field(default_factory=dict)
    decided_by: str | None = None


class PersonOut(PersonSummaryOut):
    requested_id: str = Field(description="the id asked for (differs when it was merged)")
    merged_ids: list[str]
    observations: list[ObservationOut]
    links: list[LinkOut]


class CorrectionOut(_Open):
    id: str
    kind: str
    person_id: str | None
    actor: str
    created_at: datetime
    undone_at: datetime | None
    observations: int


class CorrectedOut(_Open):
    correction_id: str = Field(description="undo it with POST /corrections/{id}/undo")
    person_id: str | None
    new_person_id: str | None = None


class UndoOut(_Open):
    correction: str
    restored: list[int]
    skipped: list[int] = Field(description="changed again since; undo the later correction first")


class SyncOut(_Open):
    media: int
    sources: int
    retired: int
    observations: int
    assigned: int
    new_persons: int
    unassigned: int
    text_segments: int
    links: dict[str, int]


# --------------------------------------------------------------------------- reading
@router.get("")
def list_persons(
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_READ),
    name: Annotated[str | None, Query(max_length=256, description="name contains")] = None,
    named: Annotated[bool | None, Query(description="only named / only unnamed")] = None,
    kind: Annotated[Literal["face", "voice"] | None, Query(description="seen by")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Page[PersonSummaryOut]:
    """Persons (unknown ones included), those in the most media first."""
    page = runtime.persons.list(
        principal, name=name, named=named, kind=kind, limit=limit, offset=offset
    )
    return Page[PersonSummaryOut](
        items=[PersonSummaryOut.model_validate(p) for p in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get("/links")
def list_links(
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_READ),
    state: LinkState | None = None,
) -> list[LinkOut]:
    """Face person <-> voice identity links, most confident first."""
    return [LinkOut.model_validate(lk) for lk in runtime.persons.links(principal, state)]


@router.post("/links/{link_id}/confirm")
def confirm_link(
    link_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.PERSONS_MANAGE)
) -> CorrectedOut:
    """The voice is this face's: it joins the face person and stays there."""
    return CorrectedOut.model_validate(runtime.persons.decide_link(principal, link_id, True))


@router.post("/links/{link_id}/reject")
def reject_link(
    link_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.PERSONS_MANAGE)
) -> CorrectedOut:
    """Not this face's voice: a linked voice moves back to its own identity."""
    return CorrectedOut.model_validate(runtime.persons.decide_link(principal, link_id, False))


@router.post("/corrections/{correction_id}/undo")
def undo(
    correction_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_MANAGE),
) -> UndoOut:
    """Put back what one correction changed (observations changed again since are skipped)."""
    return UndoOut.model_validate(runtime.persons.undo(principal, correction_id))


@router.post("/sync")
def sync(runtime: RuntimeDep, principal: Principal = Caller(Permission.PERSONS_MANAGE)) -> SyncOut:
    """Bring persons up to date with the accepted face/voice/text results (idempotent)."""
    return SyncOut.model_validate(asdict(runtime.persons.sync(principal)))


@router.post("/recluster")
def recluster(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.PERSONS_MANAGE)
) -> dict[str, dict[str, int]]:
    """Re-cluster every collection from scratch, honouring the corrections; per collection:
    observations, changed, new_persons."""
    return runtime.persons.recluster(principal)


@router.get("/{person_id}")
def get_person(
    person_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.PERSONS_READ)
) -> PersonOut:
    """A person with every observation; a merged id answers with the person it joined."""
    return PersonOut.model_validate(runtime.persons.get(principal, person_id))


@router.get("/{person_id}/corrections")
def corrections(
    person_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.PERSONS_READ)
) -> list[CorrectionOut]:
    """Corrections of this person and of those merged into it, newest first."""
    return [
        CorrectionOut.model_validate(c) for c in runtime.persons.corrections(principal, person_id)
    ]


@router.get(
    "/{person_id}/dossier",
    response_model=None,
    responses={
        200: {
            "description": "the dossier as JSON, or as Markdown with ?format=md",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        },
        **CASE_RESPONSES,
    },
)
def dossier(
    person_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_READ),
    case: CaseUse = CaseFor("dossier"),
    format: Annotated[Literal["json", "md"], Query(description="json or Markdown")] = "json",
) -> dict[str, Any] | Response:
    """Everything known about the person, each fact citing media and time (audited export,
    under a case: ``X-AIMA-Case``)."""
    doc = runtime.persons.dossier(principal, person_id, format, case=case)
    if isinstance(doc, str):
        filename = "dossier-" + re.sub(r"[^A-Za-z0-9_-]", "_", person_id)[:64] + ".md"
        return Response(
            doc,
            media_type="text/markdown; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return doc


@router.get("/{person_id}/seen-before", responses=CASE_RESPONSES)
def seen_before(
    person_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_READ),
    case: CaseUse = CaseFor("seen_before"),
    min_score: Annotated[
        float | None, Query(ge=0, le=1, description="default AIMA_IDENTITY__SEARCH_MIN_SCORE")
    ] = None,
    k: Annotated[int, Query(ge=1, le=500, description="neighbours per observation")] = 50,
) -> dict[str, Any]:
    """Observations close to this person's that are not theirs (unknown people included);
    runs under a case (``X-AIMA-Case``)."""
    return runtime.persons.seen_before(principal, person_id, min_score=min_score, k=k, case=case)


# --------------------------------------------------------------------------- corrections
@router.post("/{person_id}/merge")
def merge(
    person_id: str,
    body: MergeIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_MANAGE),
) -> CorrectedOut:
    """Merge ``persons`` into this person; their ids redirect here from now on."""
    return CorrectedOut.model_validate(runtime.persons.merge(principal, person_id, body.persons))


@router.post("/{person_id}/split")
def split(
    person_id: str,
    body: SplitIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_MANAGE),
) -> CorrectedOut:
    """Move observations to a new person (``new_person_id``), never to be re-joined here."""
    return CorrectedOut.model_validate(
        runtime.persons.split(principal, person_id, body.observations, body.name)
    )


@router.post("/{person_id}/reject")
def reject(
    person_id: str,
    body: RejectIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_MANAGE),
) -> CorrectedOut:
    """Not this person: the observations are re-assigned elsewhere (or left unknown)."""
    return CorrectedOut.model_validate(
        runtime.persons.reject(principal, person_id, body.observations)
    )


@router.patch("/{person_id}")
def rename(
    person_id: str,
    body: PersonPatch,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_MANAGE),
) -> CorrectedOut:
    """Name (or, with null, un-name) a person."""
    return CorrectedOut.model_validate(runtime.persons.rename(principal, person_id, body.name))


# --------------------------------------------------------------------------- data subject rights
class EraseIn(Strict):
    reason: str = Field(
        min_length=3,
        max_length=1000,
        description="why (kept in the audit trail: must not contain the person's name)",
    )
    with_media: bool = Field(
        default=False, description="also delete every media the person appears in"
    )


@router.post("/{person_id}/erase", responses=CASE_RESPONSES)
def erase(
    person_id: str,
    body: EraseIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_ERASE),
    case: CaseUse = CaseFor("erasure"),
) -> dict[str, Any]:
    """Erase the person from every store; answers the signed receipt (``GET
    /api/v1/receipts/{id}`` verifies it). Runs under a case (``X-AIMA-Case``)."""
    return runtime.erasure.erase(
        principal, person_id, reason=body.reason, with_media=body.with_media, case=case
    )


@router.get(
    "/{person_id}/subject-export",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the subject access ZIP"},
        **CASE_RESPONSES,
    },
)
def subject_export(
    person_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_ERASE),
    case: CaseUse = CaseFor("subject_export"),
) -> Response:
    """Everything held about the person as a ZIP: dossier, observations (no embeddings), their
    transcript segments, face crops and a readable report (audited; under a case)."""
    data = SubjectExporter(runtime.db, runtime.blobs).export(principal, person_id, case=case)
    filename = "subject-" + re.sub(r"[^A-Za-z0-9_-]", "_", person_id)[:64] + ".zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
