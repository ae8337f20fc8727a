"""A bounded, deterministic schemathesis run over the whole OpenAPI document: no input may
produce a server error, and every answer must be one the document describes.

The engine behind ``st run`` runs in-process against the ASGI app (real SQLite database, real
files), authenticated as an Admin, with a fixed seed and deterministic generation: the same
requests every run. Its phases (examples, coverage, fuzzing) send schema-valid and
schema-violating requests, requests without the token and undeclared methods. Every check in
``REQUIRED`` must pass on every response.

``ADVISORY`` checks run too and are printed, not asserted: a schema-valid request that the
server refuses for a reason the schema cannot say (a password policy, an unreachable
webhook URL, a purpose-binding case) is an honest 4xx, and pydantic's lax coercion
(``0`` for ``false``) lets some schema-violating values through. ``pytest -s`` shows them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from schemathesis.engine import events  # noqa: E402
from schemathesis.engine import from_schema as engine_for  # noqa: E402

from aima.api.app import create_app  # noqa: E402
from aima.runtime import Runtime, build_runtime  # noqa: E402
from aima.services.access import cli_principal  # noqa: E402
from tests.api.helpers import PASSWORD, bearer  # noqa: E402
from tests.conftest import make_settings  # noqa: E402

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timeout(900)]

SEED = 20261203
MAX_EXAMPLES = 6  # per operation in the fuzzing phase: ~100 operations, ~2,500 requests in all
REQUIRED = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
)
ADVISORY = ("positive_data_acceptance", "negative_data_rejection")
# Never generated: the SSE stream runs until its job ends (it would hold the run open).
EXCLUDED_PATHS = ("/api/v1/jobs/{job_id}/events",)


@dataclass
class Outcome:
    requests: int = 0
    by_phase: Counter[str] = field(default_factory=Counter)
    checked: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    #: one example of each distinct problem, keyed by check, operation, status and title
    problems: dict[str, str] = field(default_factory=dict)

    def of(self, checks: tuple[str, ...]) -> list[str]:
        return sorted(k for k in self.problems if k.split(":", 1)[0] in checks)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        quotas={"requests_per_minute": 0},  # thousands of requests a minute: no 429 in the way
    )
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


def _config(token: str) -> Any:
    checks: dict[str, Any] = {"enabled": False}
    checks.update({name: {"enabled": True} for name in REQUIRED + ADVISORY})
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": bearer(token),
            "request-timeout": 120,  # the first text search loads the embedding model
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            "checks": checks,
            "phases": {"stateful": {"enabled": False}},
            "operations": [{"include-path": path, "enabled": False} for path in EXCLUDED_PATHS],
        }
    )


def _describe(sent: Any) -> str:
    if sent is None:
        return "?"
    request = sent.request
    text = f"{request.method} {request.uri} {request.headers.get('content-type', '')}"
    if request.body:
        text += f" body={request.body[:200]!r}"
    if sent.response is not None:
        text += f" -> {sent.response.content[:200]!r}"
    return text


def _run(app: Any, token: str) -> Outcome:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(token))
    out = Outcome()
    for event in engine_for(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            out.requests += len(recorder.interactions)
            out.by_phase[event.phase.value] += len(recorder.interactions)
            for case_id, nodes in recorder.checks.items():
                for node in nodes:
                    out.checked[node.name] += 1
                    if node.failure_info is None:
                        continue
                    out.failed[node.name] += 1
                    failure = node.failure_info.failure
                    sent = recorder.interactions.get(case_id)
                    status = sent.response.status_code if sent and sent.response else None
                    key = f"{node.name}: {recorder.label} -> {status}: {failure.title}"
                    out.problems.setdefault(key, f"{_describe(sent)}\n    {failure.message[:300]}")
        elif isinstance(event, events.NonFatalError):
            key = f"not_a_server_error: {event.label} -> error: {event.info.title}"
            out.failed["not_a_server_error"] += 1
            out.problems.setdefault(key, event.info.message)
        elif isinstance(event, events.FatalError):
            raise event.exception
    return out


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(runtime: Runtime) -> None:
    admin = runtime.users.create(cli_principal(), "admin", PASSWORD, "admin")
    token = runtime.users.codec.issue_access(admin.id, admin.role)
    out = _run(create_app(runtime, start_workers=False), token)
    required = out.of(REQUIRED)
    print(
        f"\nschemathesis: {out.requests} requests ({dict(out.by_phase)}), "
        f"{out.failed['not_a_server_error']} server errors, "
        f"{sum(out.failed[c] for c in REQUIRED)} failed required checks "
        f"({sum(out.checked[c] for c in REQUIRED)} run), advisory: "
        + ", ".join(f"{c} {out.failed[c]}/{out.checked[c]}" for c in ADVISORY)
    )
    for key in required + out.of(ADVISORY):
        print(f"{key}\n    {out.problems[key]}")
    assert 1_000 <= out.requests <= 5_000, out.requests
    assert all(out.checked[c] > 0 for c in ("not_a_server_error", "unsupported_method"))
    assert required == []
