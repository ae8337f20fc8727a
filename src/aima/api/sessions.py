"""Browser sessions: the access token in an HttpOnly cookie, plus a readable CSRF cookie.

* ``aima_access``: the short-lived JWT (HttpOnly, SameSite=Strict, Path=/, Secure over https);
  ``<video>``, ``<img>`` and EventSource send it without any script involvement.
* ``aima_refresh``: the refresh token (HttpOnly, SameSite=Strict, Path=/api/v1/auth only).
* ``aima_csrf``: a random value scripts can read and must echo in ``X-CSRF-Token`` on every
  POST/PUT/PATCH/DELETE that is authenticated by the cookie (double submit).
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response

from aima.core.errors import Forbidden

ACCESS_COOKIE = "aima_access"
REFRESH_COOKIE = "aima_refresh"
CSRF_COOKIE = "aima_csrf"
CSRF_HEADER = "X-CSRF-Token"
AUTH_PATH = "/api/v1/auth"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(
    request: Request,
    response: Response,
    *,
    access_token: str,
    access_ttl_s: int,
    refresh_token: str,
    refresh_ttl_s: int,
) -> str:
    """Set the three session cookies; returns the new CSRF token (also in its cookie)."""
    csrf = secrets.token_urlsafe(32)
    secure = _secure(request)
    response.set_cookie(
        ACCESS_COOKIE,
        access_token,
        max_age=access_ttl_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=refresh_ttl_s,
        path=AUTH_PATH,
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=refresh_ttl_s,
        path="/",
        httponly=False,
        samesite="strict",
        secure=secure,
    )
    return csrf


def clear_session(request: Request, response: Response) -> None:
    secure = _secure(request)
    for name, path, httponly in (
        (ACCESS_COOKIE, "/", True),
        (REFRESH_COOKIE, AUTH_PATH, True),
        (CSRF_COOKIE, "/", False),
    ):
        response.delete_cookie(name, path=path, httponly=httponly, samesite="strict", secure=secure)
