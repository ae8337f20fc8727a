"""The restraint review queue: filled from accepted scenes results (idempotently), decided by
an Analyst only, audited, and the only way a restraint reaches a dossier.

Real pipeline (faces + scenes on a generated picture of a real face), the real LLM client
against the fake VLM server, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.analyzers import _scenes_calibration as calibration
from aima.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from aima.runtime import Runtime, build_runtime
from aima.services.access import Principal, cli_principal
from aima.store.models import AuditEvent, ReviewItem
from tests.analyzers import faces_fixtures as ff
from tests.analyzers.test_scenes import scene_picture, vlm_settings
from tests.conftest import make_settings
from tests.fakes.vlm_server import FakeVlm, running

ANALYST = Principal(user_id=None, username="ann", role="analyst")
AUDITOR = Principal(user_id=None, username="aud", role="auditor")
VIEWER = Principal(user_id=None, username="vic", role="viewer")
UPLOADER = Principal(user_id=None, username="upl", role="uploader")


@pytest.fixture
def fake() -> Iterator[FakeVlm]:
    with running() as server:
        yield server


@pytest.fixture
def rt(tmp_path: Path, db_url: str, fake: FakeVlm) -> Iterator[Runtime]:
    runtime = build_runtime(
        make_settings(
            tmp_path / "data",
            db_url,
            allow_sensitive_analyzers=True,
            llm={"vlm": vlm_settings(fake)},
        )
    )
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture
def flagged(rt: Runtime, tmp_path: Path) -> Any:
    """A picture of a real face with a red band: faces + scenes ran, the worker synced."""
    path = ff.save(scene_picture(sign=False), tmp_path / "flagged.jpg")
    job = ff.run_job(rt, path, ("faces", "scenes"))
    assert job.state == "succeeded", job.outcome
    return job


def _restraint_facts(rt: Runtime) -> list[dict[str, Any]]:
    page = rt.persons.list(cli_principal())
    facts: list[dict[str, Any]] = []
    for person in page.items:
        doc = rt.persons.dossier(cli_principal(), person["id"])
        assert isinstance(doc, dict)
        facts += [f for f in doc["facts"] if f["kind"] == "restraint"]
    return facts


def test_queue_is_filled_once_and_decisions_are_audited(rt: Runtime, flagged: Any) -> None:
    (item,) = rt.review.items(ANALYST)  # queued by the worker's after-job sync
    assert (item.kind, item.label, item.state) == ("restraint", "handcuffs", "unreviewed")
    assert item.media_id == flagged.media_id and item.evidence
    assert item.raw_confidence is not None
    assert item.confidence == calibration.apply(calibration.PRIOR, item.raw_confidence)
    assert rt.review.sync() == 0  # idempotent: unique (result_id, ref)
    with rt.db.session() as s:
        assert len(s.execute(select(ReviewItem)).scalars().all()) == 1
    assert rt.review.evidence(AUDITOR, item.id)[:2] == b"\xff\xd8"  # a JPEG

    for who in (VIEWER, UPLOADER):
        with pytest.raises(Forbidden):
            rt.review.items(who)
        with pytest.raises(Forbidden):
            rt.review.decide(who, item.id, "confirmed")
    with pytest.raises(Forbidden):
        rt.review.decide(AUDITOR, item.id, "confirmed")
    with pytest.raises(InvalidInput, match="needs a note"):
        rt.review.decide(ANALYST, item.id, "dismissed")
    with pytest.raises(NotFound):
        rt.review.decide(ANALYST, "rev_missing", "confirmed")

    assert _restraint_facts(rt) == []  # unreviewed: not in any dossier
    done = rt.review.decide(ANALYST, item.id, "confirmed", "cuffs on both wrists")
    assert (done.state, done.decided_by, done.note) == (
        "confirmed",
        "api:ann",
        "cuffs on both wrists",
    )
    with pytest.raises(Conflict):
        rt.review.decide(ANALYST, item.id, "confirmed")
    assert [v.id for v in rt.review.items(AUDITOR, state="confirmed")] == [item.id]
    assert rt.review.items(AUDITOR, state="unreviewed") == []
    assert rt.review.decisions() == [(item.raw_confidence, True)]

    (fact,) = _restraint_facts(rt)
    assert fact["data"]["label"] == "handcuffs" and fact["data"]["review_item_id"] == item.id
    assert {c["analyzer"] for c in fact["citations"]} == {"scenes", "faces"}

    rt.review.decide(ANALYST, item.id, "dismissed", "a red wristband after all")
    assert _restraint_facts(rt) == []  # a dismissed flag leaves the dossier
    with rt.db.session() as s:
        events = s.execute(
            select(AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.object_id == item.id)
            .order_by(AuditEvent.id)
        ).all()
    actions = [a for a, _ in events]
    assert actions == ["review.evidence", "review.confirm", "review.dismiss"]
    assert events[2][1]["from"] == "confirmed" and events[2][1]["note"].startswith("a red")


def test_unknown_state_is_refused(rt: Runtime) -> None:
    with pytest.raises(InvalidInput, match="unreviewed"):
        rt.review.items(ANALYST, state="maybe")


def test_decisions_feed_the_next_jobs_calibration(rt: Runtime, flagged: Any) -> None:
    """With enough decisions the analyzer's calibration is Platt-fitted, not the prior."""
    (item,) = rt.review.items(ANALYST)
    with rt.db.session() as s:
        for i in range(24):
            ok = i % 2 == 0
            s.add(
                ReviewItem(
                    id=f"rev_synthetic_{i}",
                    kind="restraint",
                    label="rope",
                    media_id=item.media_id,
                    result_id=item.result_id,
                    ref=f"synthetic:{i}",
                    confidence=0.5,
                    details={"raw_confidence": 0.9 if ok else 0.3},
                    state="confirmed" if ok else "dismissed",
                )
            )
    scenes = rt.registry.get("scenes")
    cal = scenes.calibration_for("another-job")  # type: ignore[attr-defined]
    assert cal.method == "platt" and cal.samples == 24
    assert calibration.apply(cal, 0.9) > 0.8 > 0.2 > calibration.apply(cal, 0.3)
