"""Request-scoped dependencies: the runtime, the caller, and the permission each route needs.

Every route declares exactly one access rule: ``require(Permission.X)``,
``authenticated`` or ``public``. A meta-test walks the app and fails on any
route that declares none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aima.core.errors import Unauthorized
from aima.runtime import Runtime
from aima.security.permissions import Permission
from aima.services.access import Principal

_bearer = HTTPBearer(auto_error=False, description="access token from /api/v1/auth/login")

ACCESS_RULE = "__aima_access_rule__"
QUERY_TOKEN_ROUTES = frozenset({"/api/v1/jobs/{job_id}/events"})


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _token(request: Request, creds: HTTPAuthorizationCredentials | None) -> str:
    if creds is not None and creds.scheme.lower() == "bearer":
        return creds.credentials
    # EventSource (SSE) cannot send headers: accept ?access_token= on event streams only.
    route_path = getattr(request.scope.get("route"), "path", None)
    if route_path in QUERY_TOKEN_ROUTES and "access_token" in request.query_params:
        return request.query_params["access_token"]
    raise Unauthorized("missing bearer token; log in at /api/v1/auth/login")


def current_principal(
    request: Request,
    runtime: RuntimeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    principal = runtime.users.principal_for(_token(request, creds))
    request.state.principal = principal
    return principal


def require(permission: Permission) -> Callable[..., Principal]:
    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        principal.require(permission)
        return principal

    setattr(dependency, ACCESS_RULE, permission.value)
    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


def authenticated(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return principal


def public() -> None:
    """Marks a route as deliberately open (health, metrics, login)."""


setattr(authenticated, ACCESS_RULE, "authenticated")
setattr(public, ACCESS_RULE, "public")


def access_rule_of(dependency: Any) -> str | None:
    return getattr(dependency, ACCESS_RULE, None)


def Caller(permission: Permission) -> Any:
    """``principal: Principal = Caller(Permission.MEDIA_READ)``"""
    return Depends(require(permission))
