"""Retention rules through the service layer on SQLite and PostgreSQL: real files, the real
thumbnails analyzer, real blobs, and a fake clock (``now`` is passed in: nothing sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from aima.core.errors import Gone, InvalidInput, NotFound
from aima.core.settings import RetentionSettings
from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.services.erase_media import MediaEraser
from aima.services.retention import RetentionService
from aima.store.models import AnalysisResult, AuditEvent, Job, Media
from aima.store.models_trust import RetentionRule
from tests.mediagen import synth

DAY = timedelta(days=1)
_seed = iter(range(100, 10_000))


def _ingest(
    rt: Runtime, tmp_path: Path, *, library: str = "default", analyze: bool = True
) -> dict[str, Any]:
    """A new image (distinct bytes each call) in ``library``, its thumbnails job run here."""
    seed = next(_seed)
    path = synth.make_image(tmp_path / f"img{seed}.jpg", 96, 64, seed=seed)
    outcome = rt.ingest.ingest_file(path, cli_principal(), analyze=analyze, library=library)
    assert outcome.status == "created", outcome
    if analyze:
        worker = rt.make_worker("t")
        while worker.run_once():
            pass
    with rt.db.session() as s:
        media = s.get(Media, outcome.media_id)
        assert media is not None
        return {"id": media.id, "sha256": media.sha256, "created_at": media.created_at}


def _rule(rt: Runtime, action: str, days: int, **kw: Any) -> RetentionRule:
    return rt.retention.create_rule(cli_principal(), action=action, after_days=days, **kw)


def _events(rt: Runtime, action: str) -> list[AuditEvent]:
    with rt.db.session() as s:
        return list(
            s.execute(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            ).scalars()
        )


def _media(rt: Runtime, media_id: str) -> Media | None:
    with rt.db.session() as s:
        return s.get(Media, media_id)


def _results(rt: Runtime, media_id: str) -> list[AnalysisResult]:
    with rt.db.session() as s:
        return list(
            s.execute(select(AnalysisResult).where(AnalysisResult.media_id == media_id)).scalars()
        )


def _thumbnail(rt: Runtime, media_id: str) -> str:
    data = next(r.data for r in _results(rt, media_id) if r.analyzer == "thumbnails")
    sha: str = data["thumbnail"]
    return sha


def test_delete_raw_after_n_days_keeps_results_and_is_idempotent(
    runtime: Runtime, tmp_path: Path
) -> None:
    old = _ingest(runtime, tmp_path, library="cams")
    other_library = _ingest(runtime, tmp_path, library="default")
    thumb = _thumbnail(runtime, old["id"])
    rule = _rule(runtime, "delete_raw", 30, library="cams")
    t0: datetime = old["created_at"]

    assert [r.count for r in runtime.retention.run_due(t0 + 29 * DAY)] == [0]  # too young
    assert runtime.blobs.exists(old["sha256"])

    now = t0 + 31 * DAY
    (run,) = runtime.retention.run_due(now)
    assert (run.rule_id, run.media, run.skipped, run.dry_run) == (rule.id, [old["id"]], [], False)
    assert not runtime.blobs.exists(old["sha256"])  # the original file is gone
    assert runtime.blobs.exists(other_library["sha256"])  # another library: untouched
    media = _media(runtime, old["id"])
    assert media is not None and media.raw_deleted_at == now
    # results, timeline and thumbnails stay; the raw file answers Gone
    assert {r.analyzer for r in _results(runtime, old["id"])} == {"thumbnails"}
    timeline = runtime.timelines.timeline(cli_principal(), old["id"])
    assert timeline["media"]["id"] == old["id"] and "thumbnails" in timeline["sources"]
    assert b"".join(runtime.media.artifact(cli_principal(), old["id"], thumb))
    with pytest.raises(Gone, match="retention rule"):
        runtime.media.content(cli_principal(), old["id"])
    with pytest.raises(Gone):
        runtime.media.download(cli_principal(), old["id"])

    (event,) = _events(runtime, "media.raw_delete")
    assert event.actor == f"retention:{rule.id}" and event.object_id == old["id"]
    assert event.details["rule_id"] == rule.id and event.details["sha256"] == old["sha256"]
    with runtime.db.session() as s:
        stored = s.get(RetentionRule, rule.id)
        assert stored is not None
        assert (stored.last_run_at, stored.last_run_count) == (now, 1)

    # running again (scheduled or by hand) deletes nothing more and records nothing more
    assert [r.count for r in runtime.retention.run_due(now + 2 * DAY)] == [0]
    assert [r.count for r in runtime.retention.run(cli_principal(), now=now + 3 * DAY)] == [0]
    assert len(_events(runtime, "media.raw_delete")) == 1
    assert runtime.blobs.exists(other_library["sha256"])
    # nothing more can be analysed on it, and storage verification does not call it missing
    with pytest.raises(Gone, match="cannot be analysed again"):
        runtime.jobs.submit(cli_principal(), old["id"], ["thumbnails"])
    assert runtime.system.verify_storage() == []


def test_kind_filter_and_disabled_rule(runtime: Runtime, tmp_path: Path) -> None:
    image = _ingest(runtime, tmp_path, analyze=False)
    now = image["created_at"] + 400 * DAY
    _rule(runtime, "delete_media", 1, media_kind="video")  # images do not match
    disabled = _rule(runtime, "delete_media", 1, enabled=False)

    runs = runtime.retention.run_due(now)
    assert [r.count for r in runs] == [0]  # only the enabled (video) rule ran
    assert _media(runtime, image["id"]) is not None
    with runtime.db.session() as s:
        stored = s.get(RetentionRule, disabled.id)
        assert stored is not None and stored.last_run_at is None

    runtime.retention.set_enabled(cli_principal(), disabled.id, True)
    (run,) = runtime.retention.run(cli_principal(), now=now, rule_id=disabled.id)
    assert run.media == [image["id"]]
    assert _media(runtime, image["id"]) is None


def test_delete_media_rule_erases_everything(runtime: Runtime, tmp_path: Path) -> None:
    doomed = _ingest(runtime, tmp_path, library="tmp")
    thumb = _thumbnail(runtime, doomed["id"])
    rule = _rule(runtime, "delete_media", 7, library="tmp")

    (run,) = runtime.retention.run(cli_principal(), now=doomed["created_at"] + 8 * DAY)

    assert run.media == [doomed["id"]]
    assert _media(runtime, doomed["id"]) is None
    assert _results(runtime, doomed["id"]) == []
    assert not runtime.blobs.exists(doomed["sha256"]) and not runtime.blobs.exists(thumb)
    (event,) = _events(runtime, "media.delete")
    assert event.actor == f"retention:{rule.id}" and event.object_id == doomed["id"]
    (summary,) = _events(runtime, "retention.run")
    assert summary.actor == cli_principal().actor
    assert summary.details == {"rules": [rule.id], "deleted": 1, "skipped": 0}


def test_dry_run_changes_nothing(runtime: Runtime, tmp_path: Path) -> None:
    a = _ingest(runtime, tmp_path, analyze=False)
    b = _ingest(runtime, tmp_path, analyze=False)
    raw = _rule(runtime, "delete_raw", 1)
    _rule(runtime, "delete_media", 2)
    events_before = _events(runtime, "media.raw_delete") + _events(runtime, "media.delete")

    runs = runtime.retention.run(cli_principal(), now=a["created_at"] + 5 * DAY, dry_run=True)

    assert [sorted(r.media) for r in runs] == [sorted([a["id"], b["id"]])] * 2
    assert all(r.dry_run for r in runs)
    for m in (a, b):
        media = _media(runtime, m["id"])
        assert media is not None and media.raw_deleted_at is None
        assert runtime.blobs.exists(m["sha256"])
    assert _events(runtime, "media.raw_delete") + _events(runtime, "media.delete") == events_before
    assert _events(runtime, "retention.run") == []
    with runtime.db.session() as s:
        stored = s.get(RetentionRule, raw.id)
        assert stored is not None and stored.last_run_at is None


def test_a_media_with_a_job_at_work_is_skipped_then_taken_next_run(
    runtime: Runtime, tmp_path: Path
) -> None:
    busy = _ingest(runtime, tmp_path)
    free = _ingest(runtime, tmp_path)
    with runtime.db.session() as s:
        job_id = s.execute(select(Job.id).where(Job.media_id == busy["id"])).scalar_one()
        s.execute(update(Job).where(Job.id == job_id).values(state=JobState.RUNNING.value))
    _rule(runtime, "delete_raw", 1)
    _rule(runtime, "delete_media", 10)
    now = busy["created_at"] + 2 * DAY

    raw_run, media_run = runtime.retention.run(cli_principal(), now=now)
    assert (raw_run.media, raw_run.skipped) == ([free["id"]], [busy["id"]])
    assert media_run.count == 0  # 10 days: too young yet
    assert runtime.blobs.exists(busy["sha256"]) and not runtime.blobs.exists(free["sha256"])

    later = now + 20 * DAY  # the whole-media rule is due too, but the job still runs
    raw_run, media_run = runtime.retention.run(cli_principal(), now=later)
    assert (raw_run.media, raw_run.skipped) == ([], [busy["id"]])
    assert (media_run.media, sorted(media_run.skipped)) == ([free["id"]], [busy["id"]])

    with runtime.db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(state=JobState.SUCCEEDED.value))
    raw_run, media_run = runtime.retention.run(cli_principal(), now=later)
    assert raw_run.media == [busy["id"]]  # its file first, then the media
    assert media_run.media == [busy["id"]]
    assert _media(runtime, busy["id"]) is None


def test_schedule_follows_the_interval_without_sleeping(runtime: Runtime, tmp_path: Path) -> None:
    first = _ingest(runtime, tmp_path, analyze=False)
    rule = _rule(runtime, "delete_raw", 0)
    service = RetentionService(
        runtime.db,
        runtime.blobs,
        MediaEraser(runtime.db, runtime.blobs, runtime.identity),
        RetentionSettings(interval_s=600),
    )
    t = first["created_at"] + timedelta(seconds=1)
    assert [r.media for r in service.run_due(t)] == [[first["id"]]]
    second = _ingest(runtime, tmp_path, analyze=False)
    t2 = max(t, second["created_at"]) + timedelta(seconds=1)
    assert service.run_due(t2) == []  # read the rules a moment ago
    assert service.run_due(t + timedelta(seconds=300)) == []  # the rule ran 5 minutes ago
    (run,) = service.run_due(t + timedelta(seconds=601))
    assert (run.rule_id, run.media) == (rule.id, [second["id"]])

    off = RetentionService(
        runtime.db,
        runtime.blobs,
        MediaEraser(runtime.db, runtime.blobs, runtime.identity),
        RetentionSettings(interval_s=0),
    )
    assert off.run_due(t + 100 * DAY) == []


def test_the_worker_loop_applies_due_rules(runtime: Runtime, tmp_path: Path) -> None:
    """The embedded worker's idle turn runs the scheduler (``Runtime.tick``) with the real
    clock; a rule of 0 days matches a media uploaded before now."""
    media = _ingest(runtime, tmp_path, library="scratch")
    rule = _rule(runtime, "delete_raw", 0, library="scratch")
    runtime.make_worker("idle").run_forever(idle_exit=True)
    stored = _media(runtime, media["id"])
    assert stored is not None and stored.raw_deleted_at is not None
    (event,) = _events(runtime, "media.raw_delete")
    assert event.actor == f"retention:{rule.id}"


def test_rules_are_validated_and_audited(runtime: Runtime, tmp_path: Path) -> None:
    admin = cli_principal()
    for bad in (
        {"library": "Not OK", "action": "delete_raw", "after_days": 1},
        {"library": "x", "action": "shred", "after_days": 1},
        {"library": "x", "action": "delete_raw", "after_days": -1},
        {"library": "x", "action": "delete_raw", "after_days": 1, "media_kind": "pdf"},
    ):
        with pytest.raises(InvalidInput):
            runtime.retention.create_rule(admin, **bad)
    with pytest.raises(InvalidInput, match="library"):
        _ingest(runtime, tmp_path, library="../etc", analyze=False)
    rule = _rule(runtime, "delete_raw", 3, library="x")
    runtime.retention.set_enabled(admin, rule.id, False)
    runtime.retention.delete_rule(admin, rule.id)
    with pytest.raises(NotFound):
        runtime.retention.delete_rule(admin, rule.id)
    assert runtime.retention.list_rules(admin) == []
    actions = [
        e.action
        for e in _events(runtime, "retention.rule_create")
        + _events(runtime, "retention.rule_disable")
        + _events(runtime, "retention.rule_delete")
    ]
    assert actions == ["retention.rule_create", "retention.rule_disable", "retention.rule_delete"]
    with runtime.db.session() as s:
        assert s.execute(select(func.count()).select_from(RetentionRule)).scalar_one() == 0


def test_cli_ingest_library_rules_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``aima ingest --library``, ``aima retention add|rules|run [--dry-run]|remove`` in process."""
    import json

    from typer.testing import CliRunner

    from aima.cli.main import app
    from tests.conftest import TEST_SECRET

    data, url = tmp_path / "data", f"sqlite:///{tmp_path / 'aima.db'}"
    for key, value in {
        "AIMA_DATA_DIR": str(data),
        "AIMA_DATABASE_URL": url,
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    photo = synth.make_image(tmp_path / "p.jpg", 96, 64, seed=7)

    bad = runner.invoke(app, ["ingest", str(photo), "--library", "No Good", "--no-analyze"])
    assert bad.exit_code != 0 and "library" in bad.output
    ok = runner.invoke(app, ["ingest", str(photo), "--library", "cams", "--no-analyze", "--json"])
    assert ok.exit_code == 0, ok.output
    (outcome,) = json.loads(ok.stdout)
    added = runner.invoke(
        app,
        ["retention", "add", "delete_raw", "--after-days", "0", "--library", "cams", "--json"],
    )
    assert added.exit_code == 0, added.output
    rule = json.loads(added.stdout)
    listed = json.loads(runner.invoke(app, ["retention", "rules", "--json"]).stdout)
    assert [r["id"] for r in listed] == [rule["id"]]

    dry = runner.invoke(app, ["retention", "run", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert [r["media"] for r in json.loads(dry.stdout)] == [[outcome["media_id"]]]
    done = runner.invoke(app, ["retention", "run"])
    assert done.exit_code == 0 and "deleted original files of 1 media" in done.stdout
    again = runner.invoke(app, ["retention", "run", "--json"])
    assert [r["count"] for r in json.loads(again.stdout)] == [0]
    removed = runner.invoke(app, ["retention", "remove", rule["id"]])
    assert removed.exit_code == 0
    assert runner.invoke(app, ["retention", "remove", rule["id"]]).exit_code == 1
    assert "no enabled retention rules" in runner.invoke(app, ["retention", "run"]).stdout
