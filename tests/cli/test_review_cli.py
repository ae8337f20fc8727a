"""``aima review list / confirm / dismiss`` in process (typer's CliRunner), on the database a
scenes job filled through the real client and the fake VLM server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aima.cli.main import app
from aima.runtime import Runtime, build_runtime
from aima.store.models import AuditEvent
from tests.analyzers import faces_fixtures as ff
from tests.analyzers.test_scenes import scene_picture, vlm_settings
from tests.conftest import TEST_SECRET, make_settings
from tests.fakes.vlm_server import running


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    data, url = tmp_path / "data", f"sqlite:///{tmp_path / 'aima.db'}"
    with running() as fake:
        for key, value in {
            "AIMA_DATA_DIR": str(data),
            "AIMA_DATABASE_URL": url,
            "AIMA_ENV": "test",
            "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
            "AIMA_ALLOW_SENSITIVE_ANALYZERS": "true",
            "AIMA_LLM__VLM__BASE_URL": fake.base_url,
            "AIMA_LLM__VLM__API_KEY": fake.api_key,
        }.items():
            monkeypatch.setenv(key, value)
        runtime = build_runtime(
            make_settings(
                data, url, allow_sensitive_analyzers=True, llm={"vlm": vlm_settings(fake)}
            )
        )
        try:
            job = ff.run_job(runtime, ff.save(scene_picture(), tmp_path / "s.jpg"), ("scenes",))
            assert job.state == "succeeded", job.outcome
            yield runtime
        finally:
            runtime.close()


def test_list_confirm_dismiss(rt: Runtime) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["review", "list", "--state", "unreviewed", "--json"])
    assert listed.exit_code == 0, listed.output
    (item,) = json.loads(listed.stdout)
    assert item["label"] == "handcuffs"

    no_note = runner.invoke(app, ["review", "dismiss", item["id"]])
    assert no_note.exit_code != 0  # --note is required to dismiss
    ok = runner.invoke(app, ["review", "confirm", item["id"], "--note", "cuffs"])
    assert ok.exit_code == 0 and "confirmed" in ok.stdout
    again = runner.invoke(app, ["review", "confirm", item["id"]])
    assert again.exit_code != 0 and "already confirmed" in again.stderr
    ok = runner.invoke(app, ["review", "dismiss", item["id"], "--note", "a bracelet"])
    assert ok.exit_code == 0, ok.output
    shown = json.loads(runner.invoke(app, ["review", "list", "--json"]).stdout)
    assert [(i["state"], i["note"]) for i in shown] == [("dismissed", "a bracelet")]
    with rt.db.session() as s:
        actions = s.execute(
            select(AuditEvent.action).where(AuditEvent.object_id == item["id"])
        ).scalars()
        assert list(actions) == ["review.confirm", "review.dismiss"]
