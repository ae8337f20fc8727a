from __future__ import annotations

from fastapi import APIRouter

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import error_responses
from aima.api.schemas_web import DashboardOut
from aima.compute.gpus import gpu_inventory
from aima.security.permissions import Permission
from aima.services.access import Principal

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get("/dashboard", responses=error_responses(401, 403))
def dashboard(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.SYSTEM_READ)
) -> DashboardOut:
    """The operator's overview in one call: jobs by state, running jobs (media, progress, stage,
    ETA), workers and their heartbeats, recent failures with reasons, storage used and the
    status of every model the installed analyzers declare (as ``aima models``), and the GPUs
    of this machine (NVML; none without an NVIDIA driver)."""
    overview = runtime.system.dashboard(principal, runtime.registry)
    overview["gpus"] = [gpu.to_dict() for gpu in gpu_inventory()]
    return DashboardOut.model_validate(overview)
