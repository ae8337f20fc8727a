"""Exports of one media's analysis: the timeline as JSON or CSV, the transcript as WebVTT or
SubRip, a readable PDF report. Every export is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from aima.api.case_guard import CASE_RESPONSES, CaseFor, CaseUse
from aima.api.deps import Caller, RuntimeDep
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.exports import ExportFormat, ExportService

router = APIRouter(prefix="/api/v1/media", tags=["media"])


@router.get(
    "/{media_id}/export",
    response_class=Response,
    responses={
        200: {
            "description": "the export as a file (attachment)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **CASE_RESPONSES,
    },
)
def export(
    media_id: str,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.RESULTS_READ),
    case: CaseUse = CaseFor("media_export"),
    format: Annotated[
        ExportFormat, Query(description="json (timeline), csv (one row per item), vtt, srt, pdf")
    ] = "json",
) -> Response:
    """The media's analysis as a download: timeline JSON/CSV, transcript VTT/SRT, PDF report."""
    file = ExportService(runtime.db, runtime.timelines).export(
        principal, media_id, format, case=case
    )
    return Response(
        file.body,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )
