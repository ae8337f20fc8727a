"""Search the library by face photo, by voice clip (``search:biometric``) and by text.

A query file is untrusted like any upload: it is copied to a private temporary
directory under the data dir with the size limit enforced while copying, checked and
analysed by the service, and deleted when the request ends. Only the audit event
(who, the query's sha256 and size, how many results) outlives the request.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from pydantic import BaseModel

from aima.api.case_guard import CASE_RESPONSES, CaseFor, CaseUse
from aima.api.deps import Caller, RuntimeDep
from aima.api.uploads import copy_limited
from aima.runtime import Runtime
from aima.security.permissions import Permission
from aima.services.access import Principal

router = APIRouter(prefix="/api/v1/search", tags=["search"])

QueryFile = Annotated[UploadFile, File(description="the query file (analysed, never stored)")]
K = Annotated[int, Form(ge=1, le=100, description="persons per query face/voice")]
MinScore = Annotated[
    float | None,
    Form(ge=0, le=1, description="lowest calibrated score; AIMA_IDENTITY__SEARCH_MIN_SCORE"),
]


@contextmanager
def spooled(runtime: Runtime, upload: UploadFile) -> Iterator[tuple[Path, str]]:
    """The upload as a file (path, display name), size-limited while copying, then deleted."""
    name = (upload.filename or "query")[:255]
    limit = runtime.settings.limits.max_bytes
    spool = runtime.settings.data_dir / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=spool, prefix="query-") as tmp:
        path = Path(tmp) / "query"
        copy_limited(upload, path, limit, name)
        yield path, name


@router.post("/face", responses=CASE_RESPONSES)
def by_face(
    runtime: RuntimeDep,
    file: QueryFile,
    principal: Principal = Caller(Permission.SEARCH_BIOMETRIC),
    case: CaseUse = CaseFor("face_search"),
    k: K = 10,
    min_score: MinScore = None,
) -> dict[str, Any]:
    """Every face in the photo -> the nearest persons and their appearances, best first.

    ``results[i]`` belongs to the i-th face found (``face.box``); a photo without a face
    answers with ``query.faces == 0`` and no results. Runs under a case (``X-AIMA-Case``).
    """
    with spooled(runtime, file) as (path, name):
        return runtime.search.face(principal, path, name=name, k=k, min_score=min_score, case=case)


@router.post("/voice", responses=CASE_RESPONSES)
def by_voice(
    runtime: RuntimeDep,
    file: QueryFile,
    principal: Principal = Caller(Permission.SEARCH_BIOMETRIC),
    case: CaseUse = CaseFor("voice_search"),
    k: K = 10,
    min_score: MinScore = None,
) -> dict[str, Any]:
    """Every speaker in the clip (audio, or video with sound) -> the nearest voice identities.

    Runs under a case (``X-AIMA-Case``)."""
    with spooled(runtime, file) as (path, name):
        return runtime.search.voice(principal, path, name=name, k=k, min_score=min_score, case=case)


class TextHitOut(BaseModel):
    segment_id: int
    media_id: str
    media_name: str | None
    source: str
    start: float
    end: float
    text: str
    snippet: str
    speaker: str | None
    person_id: str | None = None  # the speaker as a person (merges followed), when known
    person_name: str | None = None
    score: float  # fulltext: rank score; semantic: cosine similarity; hybrid: fused RRF score
    matched_by: list[Literal["fulltext", "semantic"]] = ["fulltext"]
    similarity: float | None = None  # cosine similarity to the query, when semantic found it
    jump: str


class TextSearchOut(BaseModel):
    query: str
    mode: Literal["fulltext", "semantic", "hybrid"]
    semantic: bool  # whether semantic search is on for this server
    limit: int
    offset: int
    results: list[TextHitOut]


@router.get("/text")
def by_text(
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description='words, "a phrase", pre*')],
    principal: Principal = Caller(Permission.SEARCH_TEXT),
    source: Annotated[
        list[Literal["transcript", "ocr", "scene", "object"]] | None,
        Query(description="repeatable; default all"),
    ] = None,
    media_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    mode: Annotated[
        Literal["fulltext", "semantic", "hybrid"] | None,
        Query(
            description="fulltext: words (stemmed per language); semantic: meaning "
            "(embeddings, English); hybrid: both, reciprocal rank fusion. Default: hybrid "
            "when semantic search is on, else fulltext"
        ),
    ] = None,
) -> TextSearchOut:
    """Transcripts, on-screen text, objects and scene descriptions of the media the caller may
    see, best match first; each hit says which ranking(s) found it."""
    found = runtime.search.text(
        principal, q, sources=source, media_id=media_id, limit=limit, offset=offset, mode=mode
    )
    return TextSearchOut(
        query=found["query"],
        mode=found["mode"],
        semantic=found["semantic"],
        limit=limit,
        offset=offset,
        results=[TextHitOut.model_validate(h) for h in found["results"]],
    )
