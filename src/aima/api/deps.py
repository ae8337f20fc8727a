"""Request-scoped dependencies: the runtime, the caller, and the permission each route needs.

Every route declares exactly one access rule: ``require(Permission.X)``,
``authenticated`` or ``public``. A meta-test walks the app and fails on any
route that declares none.

The caller is identified by a bearer token (API clients) or by the session cookie set by
``POST /api/v1/auth/session`` (the browser: ``<video>``, ``<img>`` and EventSource send it
themselves). Cookie-authenticated unsafe methods must echo the CSRF cookie in ``X-CSRF-Token``
(double submit). Tokens are never read from the query string: URLs end up in logs.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aima.api.reads import read
from aima.api.sessions import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, CsrfFailed
from aima.core.errors import Unauthorized
from aima.runtime import Runtime
from aima.security.permissions import Permission
from aima.services.access import Principal

_bearer = HTTPBearer(auto_error=False, description="access token from /api/v1/auth/login")

ACCESS_RULE = "__aima_access_rule__"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Dependencies that neither block nor touch the database are ``async def``: FastAPI runs a
# plain ``def`` dependency in the thread pool, a hop per dependency per request.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _token(request: Request, creds: HTTPAuthorizationCredentials | None) -> str:
    if creds is not None and creds.scheme.lower() == "bearer":
        return creds.credentials
    cookie = request.cookies.get(ACCESS_COOKIE)
    if cookie:
        check_csrf(request)
        return cookie
    raise Unauthorized(
        "missing bearer token or session cookie; log in at /api/v1/auth/login "
        "(or /api/v1/auth/session in a browser)"
    )


def check_csrf(request: Request) -> None:
    """Double submit: an unsafe request riding on cookies must echo the CSRF cookie in a header,
    which another site's page can neither read nor set."""
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not sent:
        raise CsrfFailed(
            f"{request.method} with a session cookie needs the {CSRF_HEADER} header "
            f"(the value of the {CSRF_COOKIE} cookie)"
        )
    if not secrets.compare_digest(expected.encode(), sent.encode()):
        raise CsrfFailed(f"{CSRF_HEADER} does not match the {CSRF_COOKIE} cookie")


def principal_of(
    request: Request, runtime: Runtime, creds: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller (blocking: reads their account)."""
    principal = runtime.users.principal_for(_token(request, creds))
    request.state.principal = principal
    return principal


async def current_principal(
    request: Request,
    runtime: RuntimeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await read(request, principal_of, request, runtime, creds)


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        principal.require(permission)
        return principal

    setattr(dependency, ACCESS_RULE, permission.value)
    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


async def authenticated(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return principal


async def public() -> None:
    """Marks a route as deliberately open (health, metrics, login)."""


setattr(authenticated, ACCESS_RULE, "authenticated")
setattr(public, ACCESS_RULE, "public")


def access_rule_of(dependency: Any) -> str | None:
    return getattr(dependency, ACCESS_RULE, None)


def Caller(permission: Permission) -> Any:
    """``principal: Principal = Caller(Permission.MEDIA_READ)``"""
    return Depends(require(permission))
