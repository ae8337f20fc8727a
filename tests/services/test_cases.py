"""Cases (purpose binding) and the jurisdiction policy, at the service level: the real
services over the real database (SQLite and PostgreSQL), the real analyzer registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.analyzers.registry import AnalyzerRegistry, forbidden_reason
from aima.core.errors import BadRequest, ConfigError, Conflict, Forbidden, InvalidInput, NotFound
from aima.runtime import Runtime, build_runtime
from aima.services.access import Principal, cli_principal
from aima.services.cases import LEGAL_BASES, CaseUse
from aima.store.models import AuditEvent
from tests.conftest import make_settings

PASSWORD = "correct-horse-battery-staple"
WHY = "fraud investigation 2026-17, ordered by the board"


@pytest.fixture
def people(runtime: Runtime) -> dict[str, Principal]:
    """One user per role that matters here, as the principals the API would build."""
    out = {}
    for name, role in (("ana", "analyst"), ("vic", "viewer"), ("ada", "admin"), ("aud", "auditor")):
        user = runtime.users.create(cli_principal(), name, PASSWORD, role)
        out[name] = Principal(user_id=user.id, username=name, role=role)
    return out


def _actions(rt: Runtime, prefix: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    with rt.db.session() as s:
        rows = s.execute(
            select(AuditEvent).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id)
        ).scalars()
        return [(e.action, e.outcome, dict(e.details)) for e in rows]


def test_create_validates_and_makes_the_creator_a_member(
    runtime: Runtime, people: dict[str, Principal]
) -> None:
    cases = runtime.cases
    ana, vic = people["ana"], people["vic"]
    with pytest.raises(InvalidInput, match="legal basis 'curiosity'"):
        cases.create(ana, title="t", legal_basis="curiosity", justification=WHY)
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        cases.create(ana, title="t", legal_basis="consent", justification="  because  ")
    with pytest.raises(InvalidInput, match="title"):
        cases.create(ana, title="  ", legal_basis="consent", justification=WHY)
    with pytest.raises(Forbidden, match="cases:manage"):
        cases.create(vic, title="t", legal_basis="consent", justification=WHY)
    with pytest.raises(NotFound, match="nobody"):
        cases.create(ana, title="t", legal_basis="consent", justification=WHY, members=["nobody"])

    case = cases.create(
        ana, title="Fraud 17", legal_basis="law_enforcement", justification=WHY, members=["vic"]
    )
    assert case["state"] == "open" and case["created_by"] == ana.user_id
    assert {m["username"] for m in case["members"]} == {"ana", "vic"}
    assert case["legal_basis"] in LEGAL_BASES and case["closed_at"] is None
    assert _actions(runtime, "case.") == [
        (
            "case.create",
            "ok",
            {"title": "Fraud 17", "legal_basis": "law_enforcement", "members": 2},
        )
    ]


def test_members_see_their_cases_only_and_admins_see_all(
    runtime: Runtime, people: dict[str, Principal]
) -> None:
    cases = runtime.cases
    ana, vic, ada, aud = people["ana"], people["vic"], people["ada"], people["aud"]
    mine = cases.create(ana, title="A", legal_basis="consent", justification=WHY)["id"]
    theirs = cases.create(ada, title="B", legal_basis="public_task", justification=WHY)["id"]

    assert [c["id"] for c in cases.list(ana)] == [mine]
    assert cases.list(vic) == []
    assert {c["id"] for c in cases.list(ada)} == {mine, theirs}
    assert {c["id"] for c in cases.list(cli_principal())} == {mine, theirs}
    with pytest.raises(Forbidden, match="cases:read"):
        cases.list(aud)
    with pytest.raises(Forbidden, match="not a member"):
        cases.get(vic, mine)
    with pytest.raises(NotFound):
        cases.get(ana, "case_missing")

    cases.add_member(ana, mine, "vic")
    cases.add_member(ana, mine, vic.user_id or "")  # by id, and twice: a no-op
    assert [c["id"] for c in cases.list(vic)] == [mine]
    assert [m["username"] for m in cases.get(vic, mine)["members"]] == ["ana", "vic"]
    with pytest.raises(Forbidden, match="cases:manage"):
        cases.add_member(vic, mine, "ada")  # a viewer reads, never manages
    with pytest.raises(Forbidden, match="not a member"):
        cases.add_member(ana, theirs, "ana")  # an analyst manages their own cases only

    cases.remove_member(ana, mine, "vic")
    assert cases.list(vic) == []
    with pytest.raises(NotFound, match="not a member"):
        cases.remove_member(ana, mine, "vic")

    closed = cases.close(ana, mine)
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    assert [c["id"] for c in cases.list(ada, state="open")] == [theirs]
    with pytest.raises(Conflict, match="closed"):
        cases.add_member(ana, mine, "vic")
    with pytest.raises(Conflict, match="closed"):
        cases.close(ana, mine)
    assert [a for a, _, _ in _actions(runtime, "case.")] == [
        "case.create",
        "case.create",
        "case.member_add",
        "case.member_remove",
        "case.close",
    ]


def test_authorize_binds_an_action_to_an_open_case_of_the_caller(
    runtime: Runtime, people: dict[str, Principal]
) -> None:
    cases = runtime.cases
    ana, vic, ada = people["ana"], people["vic"], people["ada"]
    case = cases.create(ana, title="A", legal_basis="consent", justification=WHY)["id"]

    with pytest.raises(BadRequest, match="face search needs an open case") as no_case:
        cases.authorize(ana, None, "face_search")
    assert "X-AIMA-Case" in no_case.value.message and "--case" in no_case.value.message
    with pytest.raises(BadRequest):
        cases.authorize(ana, "  ", "face_search")
    with pytest.raises(NotFound):
        cases.authorize(ana, "case_missing", "dossier")
    with pytest.raises(Forbidden, match="not a member"):
        cases.authorize(vic, case, "dossier")

    assert cases.authorize(ana, case, "face_search") == CaseUse(case, "face_search")
    assert cases.authorize(ada, case, "dossier").audit() == {"case": case, "purpose": "dossier"}
    assert cases.authorize(cli_principal(), case, "seen_before").case_id == case

    cases.close(ana, case)
    for who in (ana, ada):
        with pytest.raises(Conflict, match="closed"):
            cases.authorize(who, case, "face_search")
    refused = [(o, d) for a, o, d in _actions(runtime, "case.refused")]
    assert refused == [
        ("denied", {"purpose": "dossier", "reason": "notfound"}),
        ("denied", {"purpose": "dossier", "reason": "forbidden"}),
        ("denied", {"purpose": "face_search", "reason": "conflict"}),
        ("denied", {"purpose": "face_search", "reason": "conflict"}),
    ]


def test_cases_can_be_optional(tmp_path: Path, db_url: str) -> None:
    rt = build_runtime(make_settings(tmp_path / "data", db_url, privacy={"cases_required": False}))
    try:
        assert rt.cases.authorize(cli_principal(), None, "dossier") == CaseUse(None, "dossier")
        with pytest.raises(NotFound):  # a case that is named is still checked
            rt.cases.authorize(cli_principal(), "case_missing", "dossier")
    finally:
        rt.close()


# --------------------------------------------------------------------------- jurisdiction
POLICY = {"jurisdiction": "EU AI Act, workplace", "forbidden_analyzers": ["emotion", "speakers"]}


@pytest.fixture
def forbidding(tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(
        make_settings(
            tmp_path / "data",
            f"sqlite:///{tmp_path / 'aima.db'}",
            privacy=POLICY,
            jobs={"default_analyzers": ["thumbnails", "speakers"]},
        )
    )
    try:
        yield rt
    finally:
        rt.close()


def test_forbidden_analyzers_are_disabled_with_the_jurisdiction_as_reason(
    forbidding: Runtime,
) -> None:
    registry = forbidding.registry
    reason = "forbidden by jurisdiction policy (EU AI Act, workplace)"
    assert forbidden_reason("EU AI Act, workplace") == reason
    assert registry.disabled_reason("emotion") == reason and "emotion" in registry.disabled
    assert registry.disabled_reason("faces") is None

    with pytest.raises(Forbidden, match=r"emotion is forbidden by jurisdiction policy \(EU AI"):
        registry.resolve(["faces", "emotion"])
    with pytest.raises(Forbidden):
        registry.resolve(["emotion"])
    # one left in the configured defaults is not refused: it is planned as disabled
    assert registry.disabled_reason("speakers") == reason
    assert registry.resolve(["thumbnails", "speakers"])[-1] == "speakers"
    assert registry.order(["emotion"]) == ["emotion"]  # queued jobs run it as disabled


def test_a_job_naming_a_forbidden_analyzer_is_refused(forbidding: Runtime, tmp_path: Path) -> None:
    from tests.mediagen import synth

    photo = synth.make_image(tmp_path / "p.jpg", 64, 48, seed=1)
    outcome = forbidding.ingest.ingest_file(photo, cli_principal())  # the defaults: fine
    assert outcome.media_id and outcome.job_id
    plan = forbidding.jobs.plan(cli_principal(), outcome.media_id, ["thumbnails"])
    assert [a.status for a in plan.analyzers] == ["run"]
    with pytest.raises(Forbidden, match="forbidden by jurisdiction policy") as refused:
        forbidding.jobs.submit(cli_principal(), outcome.media_id, ["emotion"])
    assert refused.value.details == {
        "forbidden": ["emotion"],
        "jurisdiction": "EU AI Act, workplace",
    }
    with pytest.raises(Forbidden):
        forbidding.jobs.plan(cli_principal(), outcome.media_id, ["faces", "emotion"])
    default = forbidding.jobs.plan(
        cli_principal(), outcome.media_id, forbidding.settings.jobs.default_analyzers
    )
    by_name = {a.name: a for a in default.analyzers}
    assert by_name["speakers"].status == "disabled"
    assert by_name["speakers"].reason == forbidden_reason("EU AI Act, workplace")


def test_an_unknown_forbidden_analyzer_stops_start_up(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        privacy={"forbidden_analyzers": ["mind_reading"]},
    )
    with pytest.raises(ConfigError, match="mind_reading"):
        AnalyzerRegistry(settings)
