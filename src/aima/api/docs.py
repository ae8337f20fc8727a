"""Swagger UI (/docs) and ReDoc (/redoc) from files shipped in the package: no CDN, no fonts;
and the error responses of every operation in the OpenAPI document, declared in one place.

Vendored from npm ``swagger-ui-dist`` 5.35.0 and ``redoc`` 2.5.4 (their licences sit beside
them in ``static/``); update by replacing those files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from aima.api.deps import access_rule_of
from aima.api.ratelimit_mw import EXEMPT_PATHS, LIMITED_PREFIX
from aima.api.schemas import ErrorOut

STATIC = Path(__file__).with_name("static")
ASSETS = "/docs/assets"


def install_docs(app: FastAPI, *, title: str, openapi_url: str = "/openapi.json") -> None:
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="docs-assets")
    oauth2_redirect = "/docs/oauth2-redirect"

    async def swagger(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - API",
            swagger_js_url=f"{ASSETS}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
            oauth2_redirect_url=oauth2_redirect,
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
        )

    async def redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(_: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - API",
            redoc_js_url=f"{ASSETS}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )

    app.add_route("/docs", swagger, include_in_schema=False)
    app.add_route(oauth2_redirect, redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
    install_error_responses(app)


# ------------------------------------------------------------------ error responses, centrally
ERROR_SCHEMA_REF = "#/components/schemas/ErrorOut"
#: what each automatically declared status means (a route's own description wins)
COMMON_ERRORS: dict[int, str] = {
    400: "bad request: the body could not be parsed as its content type",
    401: "not authenticated: no or an invalid token or session cookie",
    403: "forbidden: the role lacks the permission, or a cookie request lacks X-CSRF-Token",
    404: "not found (or not visible to the caller)",
    413: "payload too large: the upload passes AIMA_LIMITS__MAX_BYTES",
    422: "invalid request: a parameter or body field is missing, out of range or malformed",
    429: "too many requests: the caller's requests_per_minute quota is used up (Retry-After)",
    503: "the database is not reachable right now (Retry-After says when to retry)",
    507: "the server's disk is full; nothing was stored (Retry-After says when to retry)",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
    507: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
}
_UNSAFE = frozenset({"post", "put", "patch", "delete"})
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def install_error_responses(app: FastAPI) -> None:
    """Declare in the OpenAPI document every error status a route can answer, each with the
    shared error body (:class:`ErrorOut`), derived from the route itself so that new routes
    get them without declaring anything:

    * 401 and 403 on every route that is not ``public`` (authentication, permission, CSRF);
    * 422 on every route with a parameter or a body, 400 (unparsable) on every route with a
      body, 404 on every route with a path parameter, 413 on every multipart upload;
    * 429 on every rate-limited route (``/api/...``), 503 (database unreachable) on every
      route, 507 (disk full) on every unsafe method.

    A public route that reads a token when one is sent (``/metrics``) declares its security
    optional.

    Statuses a route declares itself (``responses=``) keep their description; a declared
    error without a body, and FastAPI's own 422 body, get the shared error body.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_errors(build(), access_rules(app))
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented override


def access_rules(app: FastAPI) -> dict[tuple[str, str], str | None]:
    """(method, path) → the route's access rule (``public``, ``authenticated``, a permission),
    from its dependency tree including the dependencies of the routers it was included by."""
    rules: dict[tuple[str, str], str | None] = {}
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        found = list(_rules(context.dependant))
        for method in context.methods or ():
            rules[(method.lower(), str(context.path_format))] = found[0] if found else None
    return rules


def describe_errors(
    spec: dict[str, Any], rules: dict[tuple[str, str], str | None]
) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    _add_error_schema(schemas)
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in ("parameters", "summary", "description", "servers"):
                continue
            _describe(method, op, rules.get((method, path)), rate_limited=_rate_limited(path))
    for name in _FASTAPI_VALIDATION:  # replaced by ErrorOut everywhere
        if f'"#/components/schemas/{name}"' not in json.dumps(spec["paths"]):
            schemas.pop(name, None)
    return spec


def _rate_limited(path: str) -> bool:
    return path.startswith(LIMITED_PREFIX) and path not in EXEMPT_PATHS


def _describe(method: str, op: dict[str, Any], rule: str | None, *, rate_limited: bool) -> None:
    params = op.get("parameters", [])
    body = op.get("requestBody", {}).get("content", {})
    codes: set[int] = {503}
    if rule != "public":
        codes |= {401, 403}
    elif op.get("security") and {} not in op["security"]:
        op["security"] = [{}, *op["security"]]  # public: a token is read when sent
    if rate_limited:
        codes.add(429)
    if params or body:
        codes.add(422)
    if body:
        codes.add(400)
    if any(p.get("in") == "path" for p in params):
        codes.add(404)
    if any(t.startswith("multipart/") for t in body):
        codes.add(413)
    if method in _UNSAFE:
        codes.add(507)
    responses: dict[str, Any] = op.setdefault("responses", {})
    for code in codes:
        responses.setdefault(str(code), {"description": COMMON_ERRORS[code]})
    for key, response in responses.items():
        if not key.isdigit() or int(key) < 400:
            continue
        content = response.get("content")
        if content and _is_fastapi_validation(content):
            response["description"] = COMMON_ERRORS[422]
        if not content or _is_fastapi_validation(content):
            response["content"] = {"application/json": {"schema": {"$ref": ERROR_SCHEMA_REF}}}
        if int(key) in _HEADERS:
            response.setdefault("headers", _HEADERS[int(key)])
    op["responses"] = dict(sorted(responses.items()))


def _is_fastapi_validation(content: dict[str, Any]) -> bool:
    ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return isinstance(ref, str) and ref.rsplit("/", 1)[-1] in _FASTAPI_VALIDATION


def _add_error_schema(schemas: dict[str, Any]) -> None:
    generated = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in generated.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas.setdefault("ErrorOut", generated)


def _rules(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        rule = access_rule_of(dep.call)
        if rule is not None:
            yield rule
        yield from _rules(dep)
