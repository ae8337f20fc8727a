"""Meta-test: every route of the app declares exactly one access rule, and every permission is used.

The routes come from the app itself, so a new route without ``Caller(Permission.X)``,
``authenticated`` or ``public`` fails here with its method and path.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI

from aima.api.app import create_app
from aima.api.deps import Caller, authenticated, public
from aima.runtime import Runtime
from aima.security.permissions import ROLE_PERMISSIONS, Permission, Role
from aima.services.access import Principal
from tests.api import test_role_matrix
from tests.api.helpers import (
    EXERCISED,
    NON_API_ALLOW_LIST,
    PUBLIC_ALLOW_LIST,
    access_problems,
    api_routes,
    other_routes,
)


@pytest.fixture
def app(sqlite_runtime: Runtime) -> FastAPI:
    return create_app(sqlite_runtime, start_workers=False)


def test_every_route_declares_exactly_one_access_rule(app: FastAPI) -> None:
    problems = access_problems(app)
    assert not problems, "routes with missing or wrong access rules:\n" + "\n".join(problems)


def test_public_routes_are_exactly_the_allow_list(app: FastAPI) -> None:
    public_routes = {(r.method, r.path) for r in api_routes(app) if r.rule == "public"}
    assert public_routes == PUBLIC_ALLOW_LIST


def test_route_walk_sees_the_whole_app(app: FastAPI) -> None:
    """Guards the walker itself: it must find every router's routes, with their full paths."""
    labels = {r.label for r in api_routes(app)}
    for expected in (
        "GET /healthz",
        "POST /api/v1/auth/login",
        "GET /api/v1/auth/me",
        "POST /api/v1/media",
        "GET /api/v1/media/{media_id}/content",
        "PATCH /api/v1/jobs/{job_id}",
        "GET /api/v1/jobs/{job_id}/events",
        "GET /api/v1/audit/verify",
    ):
        assert expected in labels
    assert len(labels) >= 28
    assert set(other_routes(app)) <= NON_API_ALLOW_LIST


def test_every_permission_is_required_by_a_route_or_checked_per_object(app: FastAPI) -> None:
    """Route-level permissions are exercised by the generated role matrix for every route that
    needs them; the ``*_ALL`` permissions widen object visibility (services/access.py) and no
    route requires them directly, so each must have an object-level test in test_role_matrix."""
    assert test_role_matrix.__name__  # importing it registers its object-level tests
    by_route = {r.permission for r in api_routes(app)} - {None}
    for permission in Permission:
        tests = EXERCISED.get(permission, set())
        assert permission in by_route or tests, (
            f"permission {permission.value!r} is required by no route and exercised by no "
            "object-level test: require it somewhere, test it, or remove it"
        )
    object_level = set(Permission) - by_route
    assert object_level == {
        Permission.MEDIA_READ_ALL,
        Permission.JOBS_READ_ALL,
        Permission.JOBS_MANAGE_ALL,
    }, "a permission moved between route level and object level; update the role matrix tests"


def test_the_matrix_can_tell_allowed_from_denied_for_every_permission() -> None:
    """Each permission is held by some role and missing from another, so the role matrix
    sees both the 403 and the allowed answer for every route."""
    assert set(ROLE_PERMISSIONS) == set(Role)
    for permission in Permission:
        holders = {role for role, perms in ROLE_PERMISSIONS.items() if permission in perms}
        assert holders, f"no role holds {permission.value!r}"
        assert holders != set(Role), f"every role holds {permission.value!r}; nothing is denied"


# --- the checker must be able to fail -------------------------------------------------------


def _app_with(router: APIRouter) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    return app


def test_checker_reports_a_route_without_a_rule() -> None:
    router = APIRouter(prefix="/api/v1/things")

    @router.get("/{thing_id}")
    def naked(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    problems = access_problems(_app_with(router))
    assert any(
        p.startswith("GET /api/v1/things/{thing_id}: declares no access rule") for p in problems
    )


def test_checker_reports_two_rules_and_unlisted_public_routes() -> None:
    router = APIRouter()

    @router.get("/both")
    def both(
        _a: Annotated[Principal, Depends(authenticated)],
        _b: Principal = Caller(Permission.AUDIT_READ),
    ) -> None:
        return None

    @router.post("/open", dependencies=[Depends(public)])
    def open_route() -> None:
        return None

    problems = access_problems(_app_with(router))
    assert any(p.startswith("GET /both: declares several access rules") for p in problems)
    assert "POST /open: is public but not on the public allow-list" in problems


def test_checker_reports_plain_routes_and_mounts_that_are_not_static_files() -> None:
    from starlette.responses import PlainTextResponse
    from starlette.routing import Router

    app = FastAPI()
    app.add_route("/export", lambda _request: PlainTextResponse("all the data"))
    app.mount("/ui", Router())  # on the allow-list, but not static files
    problems = access_problems(app)
    assert "/export: is not an APIRoute, so it cannot declare an access rule" in problems
    assert "/ui: mounts Router, not static files" in problems


def test_checker_sees_rules_added_by_include_router_and_nested_routers() -> None:
    inner = APIRouter(prefix="/inner")

    @inner.get("/x")
    def x() -> None:
        return None

    outer = APIRouter(prefix="/outer")
    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer, dependencies=[Caller(Permission.SYSTEM_READ)])
    (route,) = api_routes(app)
    assert route.label == "GET /outer/inner/x"
    assert route.permission is Permission.SYSTEM_READ
