from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from aima.api.deps import RuntimeDep, authenticated, check_csrf, public
from aima.api.schemas import LoginIn, RefreshIn, SessionOut, TokenOut, error_responses
from aima.api.sessions import REFRESH_COOKIE, clear_session, set_session
from aima.core.errors import Unauthorized
from aima.runtime import Runtime
from aima.services.access import Principal
from aima.services.users import TokenPair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _out(pair: TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


_BAD_LOGIN: dict[int | str, dict[str, Any]] = {
    401: {"description": "unknown user or wrong password"}
}


@router.post("/login", dependencies=[Depends(public)], responses=_BAD_LOGIN)
def login(body: LoginIn, request: Request, runtime: RuntimeDep) -> TokenOut:
    return _out(runtime.users.login(body.username, body.password, client=_client(request)))


@router.post("/token", dependencies=[Depends(public)], responses=_BAD_LOGIN)
def token_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, runtime: RuntimeDep
) -> TokenOut:
    """OAuth2 password form (the "Authorize" button of /docs)."""
    return _out(runtime.users.login(form.username, form.password, client=_client(request)))


@router.post(
    "/refresh",
    dependencies=[Depends(public)],
    responses={401: {"description": "the refresh token is unknown, expired or revoked"}},
)
def refresh(body: RefreshIn, runtime: RuntimeDep) -> TokenOut:
    return _out(runtime.users.refresh(body.refresh_token))


def _session(request: Request, response: Response, runtime: Runtime, pair: TokenPair) -> SessionOut:
    principal = runtime.users.principal_for(pair.access_token)
    csrf = set_session(
        request,
        response,
        access_token=pair.access_token,
        access_ttl_s=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_ttl_s=runtime.settings.auth.refresh_ttl_s,
    )
    return SessionOut(
        user_id=principal.user_id or "",
        username=principal.username,
        role=principal.role,
        csrf_token=csrf,
        expires_in=pair.expires_in,
    )


@router.post("/session", dependencies=[Depends(public)], responses=error_responses(401, 422))
def session(body: LoginIn, request: Request, response: Response, runtime: RuntimeDep) -> SessionOut:
    """Browser login: sets the HttpOnly session cookie (the access token, short-lived), the
    refresh cookie (sent to /api/v1/auth only) and the readable CSRF cookie. Echo ``csrf_token``
    in ``X-CSRF-Token`` on every POST/PUT/PATCH/DELETE; call ``/session/refresh`` before
    ``expires_in`` seconds pass (or on a 401)."""
    pair = runtime.users.login(body.username, body.password, client=_client(request))
    return _session(request, response, runtime, pair)


@router.post(
    "/session/refresh", dependencies=[Depends(public)], responses=error_responses(401, 403)
)
def session_refresh(request: Request, response: Response, runtime: RuntimeDep) -> SessionOut:
    """Rotate the browser session from its refresh cookie (needs ``X-CSRF-Token``): new access,
    refresh and CSRF cookies; the old refresh token is revoked."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthorized("no session to refresh; log in at /api/v1/auth/session")
    check_csrf(request)
    return _session(request, response, runtime, runtime.users.refresh(token))


@router.post(
    "/logout", status_code=204, dependencies=[Depends(public)], responses=error_responses(403, 422)
)
def logout(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    body: Annotated[RefreshIn | None, Body()] = None,
) -> None:
    """Revoke a refresh token (API clients: in the body) and clear the session cookies
    (browsers: the refresh cookie is revoked; needs ``X-CSRF-Token``)."""
    token = body.refresh_token if body is not None else request.cookies.get(REFRESH_COOKIE)
    if body is None and token:
        check_csrf(request)
    if token:
        runtime.users.logout(token)
    clear_session(request, response)


@router.get("/me")
def me(principal: Annotated[Principal, Depends(authenticated)]) -> dict[str, str | None]:
    return {"user_id": principal.user_id, "username": principal.username, "role": principal.role}
