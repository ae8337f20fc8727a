"""Shared helpers for the API tests: route discovery, users, tokens, uploads."""

from __future__ import annotations

import base64
import json
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from aima.api.deps import access_rule_of
from aima.runtime import Runtime
from aima.security.permissions import Permission
from aima.services.access import cli_principal
from aima.services.cases import CASE_HEADER

with warnings.catch_warnings():  # starlette warns once, at import, that httpx is deprecated
    warnings.filterwarnings("ignore", message=".*httpx.*")
    from fastapi.testclient import TestClient

__all__ = ["TestClient"]

PASSWORD = "correct-horse-battery-staple"

PUBLIC_ALLOW_LIST: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/session"),
        ("POST", "/api/v1/auth/session/refresh"),
    }
)
# Plain Starlette routes that serve no data: FastAPI's interactive documentation, the static
# browser UI (a StaticFiles mount; all its data comes from the API) and the redirect to it.
# The web app is a StaticFiles mount at "/", which the route walk reports as "".
NON_API_ALLOW_LIST: frozenset[str] = frozenset(
    {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/assets", "/redoc", "/ui", "/", ""}
)


# --------------------------------------------------------------------------- routes
@dataclass(frozen=True)
class RouteAccess:
    """One (method, path) of the app and the access rules found in its dependency tree."""

    method: str
    path: str
    route: APIRoute
    rules: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def rule(self) -> str:
        if len(set(self.rules)) != 1:
            raise AssertionError(
                f"{self.label}: expected exactly one access rule, found {self.rules}"
            )
        return self.rules[0]

    @property
    def permission(self) -> Permission | None:
        rule = self.rule
        return None if rule in ("public", "authenticated") else Permission(rule)


def _rules(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        rule = access_rule_of(dep.call)
        if rule is not None:
            yield rule
        yield from _rules(dep)


def _walk(
    routes: Iterable[BaseRoute], prefix: str = "", extra: tuple[Any, ...] = ()
) -> Iterator[tuple[str, BaseRoute, tuple[Any, ...]]]:
    """Leaves of the routing tree: (full path, route, dependencies added by include_router)."""
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI >= 0.165: an included router keeps its own routes
            ctx = getattr(route, "include_context", None)
            yield from _walk(
                original.routes,
                prefix + getattr(ctx, "prefix", ""),
                extra + tuple(getattr(ctx, "dependencies", ())),
            )
        elif isinstance(route, Mount) and route.routes:
            yield from _walk(route.routes, prefix + route.path, extra)
        else:
            yield prefix + getattr(route, "path", repr(route)), route, extra


def api_routes(app: FastAPI) -> list[RouteAccess]:
    found: list[RouteAccess] = []
    for path, route, extra in _walk(app.routes):
        if not isinstance(route, APIRoute):
            continue
        rules = list(_rules(route.dependant))
        for depends in extra:
            call = depends.dependency
            if access_rule_of(call) is not None:
                rules.append(str(access_rule_of(call)))
            rules.extend(_rules(get_dependant(path=path, call=call)))
        for method in sorted(route.methods or ()):
            found.append(RouteAccess(method, path, route, tuple(rules)))
    return found


def other_routes(app: FastAPI) -> dict[str, BaseRoute]:
    """Routes that are not APIRoutes (they carry no access rule), by path."""
    return {path: route for path, route, _ in _walk(app.routes) if not isinstance(route, APIRoute)}


def access_problems(app: FastAPI) -> list[str]:
    """Everything wrong with the app's access declarations, one line each."""
    problems: list[str] = []
    for r in api_routes(app):
        distinct = sorted(set(r.rules))
        if not distinct:
            problems.append(
                f"{r.label}: declares no access rule (use Caller(Permission.X), authenticated or public)"
            )
            continue
        if len(distinct) > 1:
            problems.append(f"{r.label}: declares several access rules {distinct}")
            continue
        rule = distinct[0]
        if rule == "public" and (r.method, r.path) not in PUBLIC_ALLOW_LIST:
            problems.append(f"{r.label}: is public but not on the public allow-list")
        if rule != "public" and (r.method, r.path) in PUBLIC_ALLOW_LIST:
            problems.append(f"{r.label}: is on the public allow-list but declares {rule!r}")
        if rule not in ("public", "authenticated") and rule not in {p.value for p in Permission}:
            problems.append(f"{r.label}: unknown permission {rule!r}")
    for path, route in other_routes(app).items():
        if path not in NON_API_ALLOW_LIST:
            problems.append(f"{path}: is not an APIRoute, so it cannot declare an access rule")
        elif isinstance(route, Mount) and not isinstance(route.app, StaticFiles):
            problems.append(f"{path}: mounts {type(route.app).__name__}, not static files")
    return problems


# ------------------------------------------------------- permissions exercised elsewhere
EXERCISED: dict[Permission, set[str]] = defaultdict(set)


def exercises(*permissions: Permission) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Marks a test that checks an object-level permission (one no route requires directly)."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        for p in permissions:
            EXERCISED[p].add(f"{fn.__module__}.{fn.__qualname__}")
        return fn

    return mark


# --------------------------------------------------------------------------- callers
@dataclass
class Account:
    username: str
    role: str
    user_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    runtime: Runtime
    client: TestClient
    callers: dict[str, Account] = field(default_factory=dict)
    cases: dict[str, str] = field(default_factory=dict)  # username -> an open case of theirs

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        r = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def user(self, role: str, username: str | None = None, *, login: bool = False) -> Account:
        """A user with ``role``, created once per name. Its access token comes from the token
        codec (no argon2 verify); ``login=True`` logs in through the API for a refresh token."""
        name = username or role
        if name not in self.callers:
            user = self.runtime.users.create(cli_principal(), name, PASSWORD, role)
            if login:
                tokens = self.login(name)
                access, refresh = tokens["access_token"], tokens["refresh_token"]
            else:
                access, refresh = self.runtime.users.codec.issue_access(user.id, user.role), ""
            self.callers[name] = Account(name, role, user.id, access, refresh)
        return self.callers[name]

    def open_case(self, *members: Account, title: str = "test investigation") -> str:
        """An open case (opened by the local admin) whose members are ``members``; its id."""
        return open_case(self.runtime, *(m.username for m in members), title=title)

    def case_headers(self, caller: Account) -> dict[str, str]:
        """``caller``'s headers plus ``X-AIMA-Case`` naming an open case they are a member of
        (one per caller, opened on first use): what face/voice search, seen-before, dossiers
        and exports need while ``privacy.cases_required`` is on."""
        if caller.username not in self.cases:
            self.cases[caller.username] = self.open_case(caller)
        return {**caller.headers, CASE_HEADER: self.cases[caller.username]}

    def upload(
        self,
        caller: Account,
        files: Sequence[tuple[str, bytes]],
        **form: str,
    ) -> Any:
        parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
        return self.client.post(
            "/api/v1/media", files=parts, data=form or None, headers=caller.headers
        )

    def run_jobs(self) -> int:
        worker = self.runtime.make_worker("t")
        ran = 0
        while worker.run_once():
            ran += 1
        return ran

    def count(self, model: Any) -> int:
        with self.runtime.db.session() as s:
            return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def open_case(runtime: Runtime, *usernames: str, title: str = "test investigation") -> str:
    """Open a case as the local admin with ``usernames`` as members; returns its id."""
    case = runtime.cases.create(
        cli_principal(),
        title=title,
        legal_basis="legitimate_interests",
        justification="integration test of purpose-bound biometric search",
        members=list(usernames),
    )
    return str(case["id"])


def b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()
