"""Response bodies shaped for the web application: media cards, job plans, the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from aima.api.schemas import ACCESS_DESCRIPTION, NAME_DESCRIPTION, Strict
from aima.api.schemas_compute import EstimateOut
from aima.services.jobs import JobPlan, PlannedAnalyzer
from aima.services.media import MediaCard


def artifact_url(media_id: str, sha256: str | None) -> str | None:
    return f"/api/v1/media/{media_id}/artifacts/{sha256}" if sha256 else None


class LatestJobOut(BaseModel):
    id: str
    state: str
    progress: float
    progress_message: str
    analyzers: list[str]
    error: str | None


class CardCountsOut(BaseModel):
    faces: int = Field(description="face tracks")
    persons: int = Field(description="distinct persons seen (faces and voices)")
    speakers: int
    words: int = Field(description="words of the transcript")
    flags: int = Field(description="nsfw spans")


class MediaCardOut(BaseModel):
    """Everything a grid shows for one media, in the listing itself (no call per card)."""

    id: str
    kind: str
    format: str
    mime: str
    size: int
    sha256: str
    original_name: str = Field(description=NAME_DESCRIPTION)
    uploaded_by: str | None = Field(description="None where the caller may not know it")
    access: str = Field(default="all", description=ACCESS_DESCRIPTION)
    created_at: datetime
    duration_s: float | None
    width: int | None
    height: int | None
    content_url: str = Field(description="streams the media (Range, ETag); session cookie works")
    thumbnail_url: str | None = Field(description="representative frame (images, video)")
    waveform_url: str | None = Field(description="waveform picture (audio)")
    flagged: bool = Field(description="an accepted nsfw result flagged this media")
    job: LatestJobOut | None = Field(description="the media's latest job")
    counts: CardCountsOut
    info: dict[str, Any]

    @classmethod
    def of(cls, c: MediaCard) -> MediaCardOut:
        m, view = c.media, c.view
        info = m.info or {}
        return cls(
            id=m.id,
            kind=m.kind,
            format=m.format,
            mime=m.mime,
            size=m.size,
            sha256=m.sha256,
            original_name=view.name if view else m.original_name,
            uploaded_by=view.uploaded_by if view else m.uploaded_by,
            access=view.access if view else "all",
            created_at=m.created_at,
            duration_s=info.get("duration_s"),
            width=info.get("width"),
            height=info.get("height"),
            content_url=f"/api/v1/media/{m.id}/content",
            thumbnail_url=artifact_url(m.id, c.thumbnail),
            waveform_url=artifact_url(m.id, c.waveform),
            flagged=c.flagged,
            job=LatestJobOut(
                id=c.job.id,
                state=c.job.state,
                progress=c.job.progress,
                progress_message=c.job.progress_message,
                analyzers=c.job.analyzers,
                error=c.job.error,
            )
            if c.job
            else None,
            counts=CardCountsOut(
                faces=c.counts.faces,
                persons=c.counts.persons,
                speakers=c.counts.speakers,
                words=c.counts.words,
                flags=c.counts.flags,
            ),
            info=info,
        )


# --------------------------------------------------------------------------------- plans
class PlanIn(Strict):
    media_id: str = Field(max_length=64)
    analyzers: list[str] | None = Field(
        default=None, max_length=64, description="default: AIMA_JOBS__DEFAULT_ANALYZERS"
    )
    project: str | None = Field(
        default=None, min_length=1, max_length=64, description="whose budget would pay"
    )


class PlannedAnalyzerOut(BaseModel):
    name: str
    status: str = Field(description="run | reused | disabled | skipped")
    reason: str = Field(description="why it does not run (empty when it runs)")
    requested: bool = Field(description="false: added as a requirement of another analyzer")
    chunks: int
    estimate_s: float = Field(description="estimated compute seconds")
    basis: str = Field(description="prior (the documented table) | measured | none")
    measured_chunks: int = Field(description="finished chunks the estimate learnt from")

    @classmethod
    def of(cls, a: PlannedAnalyzer) -> PlannedAnalyzerOut:
        return cls(
            name=a.name,
            status=a.status,
            reason=a.reason,
            requested=a.requested,
            chunks=a.chunks,
            estimate_s=a.estimate_s,
            basis=a.basis,
            measured_chunks=a.measured_chunks,
        )


class CostOut(BaseModel):
    amount: float = Field(description="money this job would cost; 0 on local hardware")
    currency: str
    executor: str
    confirmation_required: bool


class PlanOut(BaseModel):
    media_id: str
    kind: str
    duration_s: float | None
    analyzers: list[PlannedAnalyzerOut]
    chunks: int
    estimate_s: float
    cost: CostOut
    estimate: EstimateOut | None = Field(
        default=None, description="duration, device, money per offer, budget warnings"
    )

    @classmethod
    def of(cls, p: JobPlan, executor: str = "inprocess") -> PlanOut:
        amount = p.estimate.amount if p.estimate else 0.0
        return cls(
            media_id=p.media_id,
            kind=p.kind,
            duration_s=p.duration_s,
            analyzers=[PlannedAnalyzerOut.of(a) for a in p.analyzers],
            chunks=p.chunks,
            estimate_s=p.estimate_s,
            cost=CostOut(
                amount=amount,
                currency=p.estimate.currency if p.estimate else "USD",
                executor=executor,
                confirmation_required=bool(p.estimate and p.estimate.confirmation_required),
            ),
            estimate=EstimateOut.of(p.estimate) if p.estimate else None,
        )


# ----------------------------------------------------------------------------- dashboard
class RunningJobOut(BaseModel):
    id: str
    media_id: str
    media_name: str
    analyzers: list[str]
    progress: float
    stage: str
    started_at: datetime | None
    eta_s: float | None = Field(description="extrapolated from the progress so far")
    worker: str | None


class FailureOut(BaseModel):
    id: str
    media_id: str
    media_name: str
    state: str
    finished_at: datetime | None
    error: str | None
    analyzers: dict[str, str] = Field(description="failed analyzer -> reason")


class WorkerOut(BaseModel):
    id: str
    hostname: str
    pid: int
    state: str
    current_job: str | None
    started_at: datetime
    heartbeat_at: datetime
    alive: bool


class JobCountsOut(BaseModel):
    by_state: dict[str, int]


class StorageOut(BaseModel):
    media: int
    media_bytes: int


class ModelOut(BaseModel):
    analyzer: str
    model: str
    required: bool
    status: str
    location: str
    sha256: str
    version: str
    licence: str
    how_to_get: str
    detail: str


class GpuOut(BaseModel):
    """One NVIDIA GPU of the API's machine as NVML reports it (None: not supported there)."""

    index: int
    name: str
    uuid: str
    memory_total_bytes: int
    memory_used_bytes: int
    utilization_pct: float | None
    memory_utilization_pct: float | None
    temperature_c: float | None
    power_w: float | None
    power_limit_w: float | None


class DashboardOut(BaseModel):
    jobs: JobCountsOut
    running: list[RunningJobOut]
    recent_failures: list[FailureOut]
    workers: list[WorkerOut]
    storage: StorageOut
    models: list[ModelOut]
    gpus: list[GpuOut] = Field(default_factory=list, description="empty without an NVIDIA GPU")
