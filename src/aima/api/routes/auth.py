from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from aima.api.deps import RuntimeDep, authenticated, public
from aima.api.schemas import LoginIn, RefreshIn, TokenOut
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


@router.post("/login", dependencies=[Depends(public)])
def login(body: LoginIn, request: Request, runtime: RuntimeDep) -> TokenOut:
    return _out(runtime.users.login(body.username, body.password, client=_client(request)))


@router.post("/token", dependencies=[Depends(public)])
def token_form(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, runtime: RuntimeDep
) -> TokenOut:
    """OAuth2 password form (the "Authorize" button of /docs)."""
    return _out(runtime.users.login(form.username, form.password, client=_client(request)))


@router.post("/refresh", dependencies=[Depends(public)])
def refresh(body: RefreshIn, runtime: RuntimeDep) -> TokenOut:
    return _out(runtime.users.refresh(body.refresh_token))


@router.post("/logout", status_code=204, dependencies=[Depends(public)])
def logout(body: RefreshIn, runtime: RuntimeDep) -> None:
    runtime.users.logout(body.refresh_token)


@router.get("/me")
def me(principal: Annotated[Principal, Depends(authenticated)]) -> dict[str, str | None]:
    return {"user_id": principal.user_id, "username": principal.username, "role": principal.role}
