"""Users, audit trail, analyzers and workers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from aima.api.deps import Caller, RuntimeDep, authenticated
from aima.api.schemas import AuditOut, UserIn, UserOut, UserPatch
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.models import WorkerHeartbeat

router = APIRouter(prefix="/api/v1", tags=["admin"])


@router.get("/users")
def list_users(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.USERS_MANAGE)
) -> list[UserOut]:
    return [UserOut.of(u) for u in runtime.users.list(principal)]


@router.post("/users", status_code=201)
def create_user(
    body: UserIn, runtime: RuntimeDep, principal: Principal = Caller(Permission.USERS_MANAGE)
) -> UserOut:
    return UserOut.of(runtime.users.create(principal, body.username, body.password, body.role))


@router.patch("/users/{username}")
def update_user(
    username: str,
    body: UserPatch,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.USERS_MANAGE),
) -> UserOut:
    return UserOut.of(
        runtime.users.update(
            principal, username, role=body.role, password=body.password, active=body.is_active
        )
    )


@router.get("/audit")
def audit_events(
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.AUDIT_READ),
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[AuditOut]:
    events = runtime.system.audit_events(principal, limit=limit, offset=offset, action=action)
    return [AuditOut.model_validate(e, from_attributes=True) for e in events]


@router.get("/audit/verify")
def verify_audit(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.AUDIT_READ)
) -> dict[str, Any]:
    report = runtime.system.verify_audit(principal)
    return {
        "events": report.events,
        "ok": report.ok,
        "first_bad_id": report.first_bad_id,
        "first_bad_seq": report.first_bad_seq,
        "problem": report.problem,
        "legacy": report.legacy,
        "anchored_seq": report.anchored_seq,
    }


@router.post("/audit/anchor")
def anchor_audit(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.AUDIT_ANCHOR)
) -> dict[str, Any]:
    """Export the signed chain head outside the database (Admin)."""
    record = runtime.system.anchor_audit(principal)
    if record is None:
        return {"anchored": False, "seq": None, "location": runtime.system.anchor_location}
    return {"anchored": True, "seq": record["seq"], "location": runtime.system.anchor_location}


@router.get("/analyzers")
def analyzers(
    runtime: RuntimeDep, _: Annotated[Principal, Depends(authenticated)]
) -> list[dict[str, Any]]:
    out = []
    for name in runtime.registry.names():
        cls = runtime.registry.classes[name]
        out.append(
            {
                "name": name,
                "version": cls.version,
                "modality": cls.modality.value,
                "requires": list(cls.requires),
                "kinds": sorted(k.value for k in cls.kinds),
                "description": cls.description,
                "disabled": name in runtime.registry.disabled,
                "disabled_reason": runtime.registry.disabled_reason(name),
                "default": name in runtime.settings.jobs.default_analyzers,
                "config": runtime.registry.configs[name].model_dump(mode="json"),
            }
        )
    return out


@router.get("/workers")
def workers(
    runtime: RuntimeDep, _: Principal = Caller(Permission.SYSTEM_READ)
) -> list[dict[str, Any]]:
    with runtime.db.session() as s:
        rows = s.execute(
            select(WorkerHeartbeat).order_by(WorkerHeartbeat.heartbeat_at.desc())
        ).scalars()
        return [
            {
                "id": w.id,
                "hostname": w.hostname,
                "pid": w.pid,
                "state": w.state,
                "current_job": w.current_job,
                "started_at": w.started_at.isoformat(),
                "heartbeat_at": w.heartbeat_at.isoformat(),
            }
            for w in rows
        ]
