"""Per-user quotas in the service layer, on SQLite and PostgreSQL: usage counted from real rows,
overrides beating defaults, 0 = unlimited, jobs refused past GPU-seconds / money with the quota,
what is left and when it resets; every change audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.jobs.states import JobState
from aima.runtime import Runtime, build_runtime
from aima.services.access import Principal, cli_principal
from aima.services.quotas import QuotaExceeded, is_gpu_device
from aima.store.models import AuditEvent, Job, JobChunk, Media, MediaGrant
from aima.store.models_trust import UserQuota
from tests.conftest import TEST_SECRET, make_settings
from tests.mediagen import synth

PASSWORD = "correct-horse-battery-staple"
GPU = {"device_class": "cuda:test", "gpu_price_per_hour": 3600.0}  # 1 money unit per GPU second


@pytest.fixture
def make_rt(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Runtime]]:
    built: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        rt = build_runtime(make_settings(tmp_path / f"data{len(built)}", db_url, **overrides))
        built.append(rt)
        return rt

    yield make
    for rt in built:
        rt.close()


def _user(rt: Runtime, name: str, role: str = "uploader") -> Principal:
    u = rt.users.create(cli_principal(), name, PASSWORD, role)
    return Principal(u.id, u.username, u.role)


def _image(tmp_path: Path, seed: int) -> Path:
    return synth.make_image(tmp_path / f"img{seed}.jpg", 64, 48, seed=seed)


def _job(rt: Runtime, media_id: str, user_id: str, **fields: Any) -> str:
    job_id = f"job_{media_id[-8:]}{len(fields)}{fields.get('state', '')[:3]}"
    now = datetime.now(UTC)
    with rt.db.session() as s:
        s.add(
            Job(
                id=job_id,
                media_id=media_id,
                analyzers=["thumbnails"],
                options={},
                created_by=user_id,
                created_at=fields.pop("created_at", now),
                updated_at=now,
                not_before=now,
                outcome={},
                **fields,
            )
        )
    return job_id


def test_defaults_of_zero_mean_unlimited(make_rt: Callable[..., Runtime], tmp_path: Path) -> None:
    rt = make_rt()
    alice = _user(rt, "alice")
    for seed in range(3):
        rt.ingest.ingest_file(_image(tmp_path, seed), alice, analyze=False)
    assert rt.quotas.upload_refusal(alice.user_id, 10**12) is None
    assert rt.quotas.job_refusal(alice.user_id, {"device": "cuda:x", "amount": 1e9}) is None
    report = rt.quotas.report(alice, "alice")
    assert report.usage.uploads_today == 3
    assert report.remaining == dict.fromkeys(report.remaining)  # every quota unlimited
    assert report.limits.requests_per_minute == 600  # the one default that is not 0


def test_overrides_beat_defaults_and_are_audited(make_rt: Callable[..., Runtime]) -> None:
    rt = make_rt(quotas={"uploads_per_day": 5, "requests_per_minute": 100})
    _user(rt, "bob")
    admin = cli_principal()
    assert rt.quotas.report(admin, "bob").limits.uploads_per_day == 5
    report = rt.quotas.set(admin, "bob", {"uploads_per_day": 1, "requests_per_minute": 0})
    assert report.limits.uploads_per_day == 1 and report.limits.requests_per_minute == 0
    assert set(report.limits.overridden) == {"uploads_per_day", "requests_per_minute"}
    assert rt.quotas.requests_per_minute(report.user_id) == 0  # 0 = unlimited, not the default
    report = rt.quotas.set(admin, "bob", {"uploads_per_day": None})  # back to the default
    assert report.limits.uploads_per_day == 5 and report.limits.overridden == (
        "requests_per_minute",
    )
    with rt.db.session() as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "quota.set")).scalars()
        details = [e.details for e in events]
    assert [d["after"]["uploads_per_day"] for d in details] == [1, None]
    assert details[0]["before"] == {} and details[1]["before"]["uploads_per_day"] == 1


def test_only_admins_manage_and_users_see_their_own(make_rt: Callable[..., Runtime]) -> None:
    rt = make_rt()
    carol, _dave = _user(rt, "carol"), _user(rt, "dave")
    assert rt.quotas.report(carol, "carol").username == "carol"
    with pytest.raises(Exception, match="quotas:manage"):
        rt.quotas.report(carol, "dave")
    with pytest.raises(Exception, match="quotas:manage"):
        rt.quotas.set(carol, "carol", {"uploads_per_day": 0})
    with pytest.raises(Exception, match="cannot be negative"):
        rt.quotas.set(cli_principal(), "carol", {"bytes_per_day": -1})
    with pytest.raises(Exception, match="not found"):
        rt.quotas.report(cli_principal(), "nobody")


def test_upload_usage_counts_today_only(make_rt: Callable[..., Runtime], tmp_path: Path) -> None:
    rt = make_rt(quotas={"uploads_per_day": 3, "bytes_per_day": 10**9})
    erin = _user(rt, "erin")
    ids = [rt.ingest.ingest_file(_image(tmp_path, s), erin, analyze=False).media_id for s in (1, 2)]
    assert all(ids)
    with rt.db.session() as s:  # yesterday's upload does not count today
        grant = s.get(MediaGrant, (ids[0], erin.user_id))
        assert grant is not None and grant.via == "upload"
        grant.created_at = datetime.now(UTC) - timedelta(days=1, hours=1)
        sizes = {m.id: m.size for m in s.execute(select(Media)).scalars()}
    usage = rt.quotas.usage(str(erin.user_id))
    assert usage.uploads_today == 1 and usage.bytes_today == sizes[ids[1]]
    assert usage.day_resets_at - datetime.now(UTC) <= timedelta(days=1)
    assert rt.quotas.upload_refusal(erin.user_id, 100) is None
    rt.quotas.set(cli_principal(), "erin", {"uploads_per_day": 1})
    over = rt.quotas.upload_refusal(erin.user_id, 100)
    assert isinstance(over, QuotaExceeded) and over.status == 429
    assert "uploads_per_day" in over.message and "0 remaining" in over.message
    assert over.details["resets_at"] == usage.day_resets_at.isoformat()
    assert over.retry_after_s is not None and 0 < over.retry_after_s <= 86400
    rt.quotas.set(cli_principal(), "erin", {"uploads_per_day": 0, "bytes_per_day": 1000})
    over = rt.quotas.upload_refusal(erin.user_id, 5000)
    assert over is not None and over.details["quota"] == "bytes_per_day"
    assert over.details["remaining"] == 0  # already past 1000 bytes today


def test_job_usage_counts_gpu_seconds_and_money_this_month(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(compute=GPU)
    fay = _user(rt, "fay")
    media_id = rt.ingest.ingest_file(_image(tmp_path, 7), fay, analyze=False).media_id
    assert media_id and fay.user_id
    done = _job(
        rt,
        media_id,
        fay.user_id,
        state=JobState.SUCCEEDED,
        estimate={"device": "cuda:test", "duration_s": 9.0, "amount": 9.0},
        cost_actual=4.0,
    )
    with rt.db.session() as s:
        for i, seconds in enumerate((1.5, 2.5)):
            s.add(JobChunk(job_id=done, analyzer="thumbnails", chunk_index=i, duration_s=seconds))
    _job(  # queued: counts its estimate until it has used more
        rt,
        media_id,
        fay.user_id,
        state=JobState.QUEUED,
        estimate={"device": "cuda:test", "duration_s": 6.0, "amount": 6.0},
    )
    _job(  # CPU job: money, no GPU seconds
        rt,
        media_id,
        fay.user_id,
        state=JobState.FAILED,
        estimate={"device": "cpu", "duration_s": 50.0, "amount": 0.5},
        cost_actual=0.5,
    )
    _job(  # last month: nothing
        rt,
        media_id,
        fay.user_id,
        state=JobState.SUCCEEDED,
        estimate={"device": "cuda:test", "duration_s": 99.0, "amount": 99.0},
        cost_actual=99.0,
        created_at=datetime.now(UTC).replace(day=1) - timedelta(days=2),
    )
    usage = rt.quotas.usage(fay.user_id)
    assert usage.gpu_seconds_month == pytest.approx(4.0 + 6.0)
    assert usage.money_month == pytest.approx(4.0 + 6.0 + 0.5)
    assert usage.month_resets_at.day == 1 and usage.month_resets_at > datetime.now(UTC)

    rt.quotas.set(cli_principal(), "fay", {"gpu_seconds_per_month": 12})
    assert rt.quotas.job_refusal(fay.user_id, {"device": "cuda:test", "duration_s": 2}) is None
    over = rt.quotas.job_refusal(fay.user_id, {"device": "cuda:test", "duration_s": 2.5})
    assert over is not None and over.details["quota"] == "gpu_seconds_per_month"
    assert "2 remaining" in over.message and "resets at" in over.message
    assert rt.quotas.job_refusal(fay.user_id, {"device": "cpu", "duration_s": 100}) is None
    rt.quotas.set(cli_principal(), "fay", {"gpu_seconds_per_month": 0, "money_per_month": 11})
    over = rt.quotas.job_refusal(fay.user_id, {"device": "cpu", "amount": 0.6})
    assert over is not None and over.details["quota"] == "money_per_month"
    assert over.details["remaining"] == pytest.approx(0.5)


def test_submit_and_confirm_refused_over_the_quota(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(compute={**GPU, "confirm_above": 0.1}, quotas={"money_per_month": 0.3})
    gil = _user(rt, "gil")
    media_id = rt.ingest.ingest_file(_image(tmp_path, 11), gil, analyze=False).media_id
    assert media_id
    plan = rt.jobs.plan(gil, media_id, ["thumbnails"])
    assert plan.estimate is not None and is_gpu_device(plan.estimate.device)
    amount = plan.estimate.amount
    assert 0.1 < amount <= 0.3 < 2 * amount  # one such job fits the month, two do not
    first, created = rt.jobs.submit(gil, media_id, ["thumbnails"])
    assert created and first.state == JobState.AWAITING_CONFIRMATION
    before = _count(rt, Job)
    with pytest.raises(QuotaExceeded) as refused:
        rt.jobs.submit(gil, media_id, ["thumbnails"], idempotency_key="second")
    assert refused.value.details["quota"] == "money_per_month"
    assert _count(rt, Job) == before  # nothing queued
    # the first job's own reservation does not count against its confirmation
    assert rt.jobs.confirm(gil, first.id).state == JobState.QUEUED
    rt.quotas.set(cli_principal(), "gil", {"money_per_month": 0.01})
    second = _job(
        rt,
        media_id,
        str(gil.user_id),
        state=JobState.AWAITING_CONFIRMATION,
        estimate={"device": "cuda:test", "duration_s": amount, "amount": amount},
    )
    with pytest.raises(QuotaExceeded, match="money_per_month"):
        rt.jobs.confirm(gil, second)
    with rt.db.session() as s:
        job = s.get(Job, second)
        assert job is not None and job.state == JobState.AWAITING_CONFIRMATION
        actions = list(
            s.execute(select(AuditEvent.action).where(AuditEvent.action == "job.refused"))
            .scalars()
            .all()
        )
    assert len(actions) == 2


def test_uploads_past_the_gpu_quota_are_stored_not_analysed(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(compute=GPU, quotas={"gpu_seconds_per_month": 0.001})
    hal = _user(rt, "hal")
    outcome = rt.ingest.ingest_file(_image(tmp_path, 12), hal, analyzers=["thumbnails"])
    assert outcome.status == "created" and outcome.job_id is None
    assert outcome.error is not None and "gpu_seconds_per_month" in outcome.error["message"]


def test_request_limit_overrides_are_cached(make_rt: Callable[..., Runtime]) -> None:
    rt = make_rt(quotas={"requests_per_minute": 50})
    ivy = _user(rt, "ivy")
    now = [1000.0]
    rt.quotas.clock = lambda: now[0]
    assert rt.quotas.requests_per_minute(ivy.user_id) == 50
    with rt.db.session() as s:  # another process changes the override
        s.add(UserQuota(user_id=ivy.user_id, requests_per_minute=5))
    assert rt.quotas.requests_per_minute(ivy.user_id) == 50  # cached: no query per request
    now[0] += 31
    assert rt.quotas.requests_per_minute(ivy.user_id) == 5
    assert rt.quotas.requests_per_minute(None) == 50  # anonymous: the default


def _count(rt: Runtime, model: Any) -> int:
    with rt.db.session() as s:
        return len(s.execute(select(model)).scalars().all())


def test_cli_shows_and_sets_a_users_quotas(tmp_path: Path) -> None:
    """``aima quotas show|set`` in a subprocess on the embedded default (SQLite + files)."""
    env = {
        **os.environ,
        "AIMA_DATA_DIR": str(tmp_path / "data"),
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
        "AIMA_QUOTAS__UPLOADS_PER_DAY": "10",
        "COLUMNS": "200",
    }
    env.pop("AIMA_DATABASE_URL", None)

    def aima(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "aima", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == code, proc.stdout + proc.stderr
        return proc

    aima("users", "create", "jo", "--role", "uploader", "--password", PASSWORD)
    shown = json.loads(aima("quotas", "show", "jo", "--json").stdout)
    assert shown["limits"]["uploads_per_day"] == 10 and shown["overridden"] == []
    changed = aima(
        "quotas", "set", "jo", "--bytes-per-day", "5000", "--requests-per-minute", "0", "--json"
    )
    data = json.loads(changed.stdout)
    assert data["limits"]["bytes_per_day"] == 5000 and data["limits"]["requests_per_minute"] == 0
    assert data["updated_by"].startswith("cli:")
    table = aima("quotas", "show", "jo").stdout
    assert "bytes_per_day" in table and "override" in table and "unlimited" in table
    data = json.loads(aima("quotas", "set", "jo", "--default", "bytes-per-day", "--json").stdout)
    assert data["overridden"] == ["requests_per_minute"]
    assert "nothing to change" in aima("quotas", "set", "jo", code=1).stderr
    assert "not found" in aima("quotas", "show", "nobody", code=1).stderr
