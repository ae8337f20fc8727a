"""Cited summaries: ``GET /api/v1/persons/{id}/summary`` and ``GET /api/v1/media/{id}/summary``.

A summary is rewritten when read if the facts it was written from changed (``?refresh=true``
forces it). Access is the dossier's for persons (``persons:read``) and the timeline's for
media (``results:read`` plus access to that media); every read is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from aima.api.deps import Caller, RuntimeDep
from aima.security.permissions import Permission
from aima.services.access import Principal

router = APIRouter(tags=["summaries"])

Refresh = Annotated[bool, Query(description="write a new summary even if the stored one is fresh")]


class SentenceOut(BaseModel):
    text: str = Field(description="the sentence, ending with the fact ids it cites")
    cites: list[str] = Field(description="fact ids (F<n> in the dossier, M<n> for media)")


class SummaryOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    subject_type: str = Field(description="person or media")
    subject_id: str
    method: str = Field(description="llm, or extractive (fact statements, no model)")
    label: str = Field(description="how to show it: the model and prompt, or why extractive")
    text: str
    sentences: list[SentenceOut]
    model: str | None
    prompt_version: str | None = Field(description="the prompt's id@version (llm only)")
    facts_hash: str = Field(description="sha256 of the fact set it was written from")
    generated_at: datetime
    regenerated: bool = Field(description="written by this request (it was missing or stale)")
    details: dict[str, Any] = Field(
        description="rejected/dropped sentence counts, tokens, the extractive reason"
    )


@router.get("/api/v1/persons/{person_id}/summary")
def person_summary(
    person_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.PERSONS_READ),
    refresh: Refresh = False,
) -> SummaryOut:
    """The person's summary; each sentence cites dossier facts (a merged id answers for the
    person it joined)."""
    return SummaryOut.model_validate(
        runtime.summaries.person(principal, person_id, refresh=refresh)
    )


@router.get("/api/v1/media/{media_id}/summary")
def media_summary(
    media_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.RESULTS_READ),
    refresh: Refresh = False,
) -> SummaryOut:
    """The media's summary from its fused timeline; each sentence cites timeline facts."""
    return SummaryOut.model_validate(runtime.summaries.media(principal, media_id, refresh=refresh))
