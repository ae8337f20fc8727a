"""Retention rules (Admin): delete original files, or whole media, of a library after N days."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import Strict, error_responses
from aima.core.errors import InvalidInput
from aima.media.types import MediaKind
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.services.retention import LIBRARY_PATTERN, RuleRun
from aima.store.models_trust import RetentionRule

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])

ActionName = Literal["delete_raw", "delete_media"]


class RuleIn(Strict):
    library: str = Field(
        default="default", pattern=LIBRARY_PATTERN, description="the library (set at upload)"
    )
    media_kind: MediaKind | None = Field(default=None, description="only this kind; none: all")
    action: ActionName = Field(
        description="delete_raw: the original file only (results stay, downloads answer 410); "
        "delete_media: the media and everything derived from it"
    )
    after_days: int = Field(ge=0, le=36500, description="age of the media (since upload)")
    enabled: bool = True


class RulePatch(Strict):
    """The fields to change; those left out keep their value (``media_kind: null``: all kinds)."""

    library: str | None = Field(default=None, pattern=LIBRARY_PATTERN)
    media_kind: MediaKind | None = None
    action: ActionName | None = None
    after_days: int | None = Field(default=None, ge=0, le=36500)
    enabled: bool | None = None


class RuleOut(BaseModel):
    id: str
    library: str
    media_kind: str | None
    action: str
    after_days: int
    enabled: bool
    created_by: str | None
    created_at: datetime
    last_run_at: datetime | None
    last_run_count: int = Field(description="media the last run deleted")

    @classmethod
    def of(cls, r: RetentionRule) -> RuleOut:
        return cls(
            id=r.id,
            library=r.library,
            media_kind=r.media_kind,
            action=r.action,
            after_days=r.after_days,
            enabled=r.enabled,
            created_by=r.created_by,
            created_at=r.created_at,
            last_run_at=r.last_run_at,
            last_run_count=r.last_run_count or 0,
        )


class RunIn(Strict):
    dry_run: bool = Field(default=True, description="list what would go; delete nothing")
    rule_id: str | None = Field(
        default=None, max_length=40, description="only this rule (even if disabled); none: all"
    )


class RunOut(BaseModel):
    rule_id: str
    library: str
    media_kind: str | None
    action: str
    after_days: int
    dry_run: bool
    cutoff: datetime = Field(description="media uploaded before this instant matched")
    count: int
    media: list[str] = Field(description="media ids deleted (dry run: that would be)")
    skipped: list[str] = Field(description="a job works on them: the next run takes them")

    @classmethod
    def of(cls, r: RuleRun) -> RunOut:
        return cls(
            rule_id=r.rule_id,
            library=r.library,
            media_kind=r.media_kind,
            action=r.action,
            after_days=r.after_days,
            dry_run=r.dry_run,
            cutoff=r.cutoff,
            count=r.count,
            media=r.media,
            skipped=r.skipped,
        )


@router.get("/rules", responses=error_responses(401, 403))
def list_rules(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.RETENTION_MANAGE)
) -> list[RuleOut]:
    return [RuleOut.of(r) for r in runtime.retention.list_rules(principal)]


@router.post("/rules", status_code=201, responses=error_responses(401, 403, 422))
def create_rule(
    body: RuleIn, runtime: RuntimeDep, principal: Principal = Caller(Permission.RETENTION_MANAGE)
) -> RuleOut:
    """A new rule (audited); the embedded worker applies it within a minute, then every
    ``AIMA_RETENTION__INTERVAL_S`` seconds. Try ``POST /run`` with ``dry_run`` first."""
    rule = runtime.retention.create_rule(
        principal,
        library=body.library,
        media_kind=body.media_kind.value if body.media_kind else None,
        action=body.action,
        after_days=body.after_days,
        enabled=body.enabled,
    )
    return RuleOut.of(rule)


@router.patch("/rules/{rule_id}", responses=error_responses(401, 403, 404, 422))
def update_rule(
    rule_id: str,
    body: RulePatch,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.RETENTION_MANAGE),
) -> RuleOut:
    """Enable or disable a rule (``{"enabled": false}``: a disabled rule deletes nothing), or
    change its library, kind, action or age; the rule keeps its id and last run (audited)."""
    given = body.model_fields_set
    if given == {"enabled"} and body.enabled is not None:
        return RuleOut.of(runtime.retention.set_enabled(principal, rule_id, body.enabled))
    changes = body.model_dump(include=given, mode="json")
    for name in ("library", "action", "after_days", "enabled"):
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{name} cannot be null; leave it out to keep it")
    return RuleOut.of(runtime.retention.update_rule(principal, rule_id, changes))


@router.delete("/rules/{rule_id}", status_code=204, responses=error_responses(401, 403, 404))
def delete_rule(
    rule_id: str, runtime: RuntimeDep, principal: Principal = Caller(Permission.RETENTION_MANAGE)
) -> Response:
    runtime.retention.delete_rule(principal, rule_id)
    return Response(status_code=204)


@router.post("/run", responses=error_responses(401, 403, 404, 422))
def run_rules(
    body: RunIn, runtime: RuntimeDep, principal: Principal = Caller(Permission.RETENTION_MANAGE)
) -> list[RunOut]:
    """Apply the enabled rules now (or one rule). ``dry_run`` (the default) only lists the
    media that would go; otherwise each deletion is audited with its rule."""
    runs = runtime.retention.run(principal, dry_run=body.dry_run, rule_id=body.rule_id)
    return [RunOut.of(r) for r in runs]
