"""Quotas are reserved, not only checked (SQLite and PostgreSQL): requests released together by
a ``threading.Barrier`` never get more than what is left, whether uploads (count and bytes) or
jobs (money); a reservation becomes usage without being counted twice or missed; a refused or
failed upload gives its share back; a reservation left behind by a crashed request stops
counting once it expires (the service's clock is injected, nothing sleeps)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.runtime import Runtime, build_runtime
from aima.services.access import Principal, cli_principal
from aima.services.quotas import RESERVATION_TTL_S, QuotaExceeded
from aima.store.models import Job, Media
from aima.store.models_trust import QuotaReservation
from tests.conftest import make_settings
from tests.mediagen import synth

PASSWORD = "correct-horse-battery-staple"
GPU = {"device_class": "cuda:test", "gpu_price_per_hour": 3600.0}  # 1 money unit per GPU second
CONCURRENT = 10


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


def _user(rt: Runtime, name: str) -> Principal:
    u = rt.users.create(cli_principal(), name, PASSWORD, "uploader")
    return Principal(u.id, u.username, u.role)


def _image(tmp_path: Path, seed: int) -> Path:
    return synth.make_image(tmp_path / f"img{seed}.jpg", 64, 48, seed=seed)


def _together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; what each returned or raised."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected, judged by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _upload(rt: Runtime, principal: Principal, path: Path) -> str:
    """What ``POST /api/v1/media`` does with one file: reserve, store, release."""
    held = rt.quotas.reserve_upload(principal.user_id, path.stat().st_size)
    try:
        outcome = rt.ingest.ingest_file(path, principal, analyze=False, reservation=held)
    finally:
        rt.quotas.release(held)
    return outcome.status


def _held(rt: Runtime) -> list[QuotaReservation]:
    with rt.db.session() as s:
        return list(s.execute(select(QuotaReservation)).scalars())


def _count(rt: Runtime, model: Any) -> int:
    with rt.db.session() as s:
        return len(s.execute(select(model)).scalars().all())


def test_concurrent_uploads_store_exactly_what_is_left(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(quotas={"uploads_per_day": 3})
    ann = _user(rt, "ann")
    assert _upload(rt, ann, _image(tmp_path, 100)) == "created"  # 2 left
    paths = [_image(tmp_path, i) for i in range(CONCURRENT)]
    results = _together(CONCURRENT, lambda i: _upload(rt, ann, paths[i]))
    assert results.count("created") == 2, results
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(refused) == CONCURRENT - 2, results
    assert all(r.details["quota"] == "uploads_per_day" for r in refused)
    assert _count(rt, Media) == 3 and rt.quotas.usage(str(ann.user_id)).uploads_today == 3
    assert _held(rt) == []  # every reservation converted or released


def test_concurrent_reservations_hold_exactly_the_bytes_left(
    make_rt: Callable[..., Runtime],
) -> None:
    rt = make_rt(quotas={"bytes_per_day": 350})
    ben = _user(rt, "ben")
    results = _together(CONCURRENT, lambda _i: rt.quotas.reserve_upload(ben.user_id, 100))
    held = [r for r in results if isinstance(r, str)]
    assert len(held) == 3, results
    assert all(isinstance(r, QuotaExceeded) for r in results if r not in held)
    assert rt.quotas.usage(str(ben.user_id)).bytes_today == 300  # in flight counts as used
    for reservation in held:
        rt.quotas.release(reservation)
    assert rt.quotas.usage(str(ben.user_id)).bytes_today == 0
    assert _held(rt) == []


def test_concurrent_jobs_queue_exactly_the_money_left(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(compute=GPU)
    cid = _user(rt, "cid")
    media_id = rt.ingest.ingest_file(_image(tmp_path, 1), cid, analyze=False).media_id
    assert media_id
    plan = rt.jobs.plan(cid, media_id, ["thumbnails"])
    assert plan.estimate is not None and plan.estimate.amount > 0
    amount = plan.estimate.amount
    rt.quotas.set(cli_principal(), "cid", {"money_per_month": amount * 3.5})  # room for 3

    def submit(i: int) -> str:
        job, created = rt.jobs.submit(cid, media_id, ["thumbnails"], idempotency_key=f"k{i}")
        assert created
        return job.id

    results = _together(CONCURRENT, submit)
    queued = [r for r in results if isinstance(r, str)]
    assert len(queued) == 3, results
    assert all(isinstance(r, QuotaExceeded) for r in results if r not in queued), results
    assert _count(rt, Job) == 3
    assert rt.quotas.usage(str(cid.user_id)).money_month == pytest.approx(3 * amount)
    assert _held(rt) == []


def test_concurrent_uploads_queue_analysis_for_exactly_the_money_left(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    """Jobs planned at upload time reserve too: every file is stored, only 3 are analysed."""
    rt = make_rt(compute=GPU)
    kim = _user(rt, "kim")
    media_id = rt.ingest.ingest_file(_image(tmp_path, 50), kim, analyze=False).media_id
    assert media_id
    plan = rt.jobs.plan(kim, media_id, ["thumbnails"])
    assert plan.estimate is not None and plan.estimate.amount > 0
    rt.quotas.set(cli_principal(), "kim", {"money_per_month": plan.estimate.amount * 3.5})
    paths = [_image(tmp_path, i) for i in range(CONCURRENT)]
    outcomes = _together(
        CONCURRENT, lambda i: rt.ingest.ingest_file(paths[i], kim, analyzers=["thumbnails"])
    )
    assert [o.status for o in outcomes] == ["created"] * CONCURRENT, outcomes
    analysed = [o for o in outcomes if o.job_id is not None]
    assert len(analysed) == 3, outcomes
    for o in outcomes:
        if o.job_id is None:
            assert o.error is not None and "money_per_month" in o.error["message"]
    assert _count(rt, Job) == 3 and _held(rt) == []
    usage = rt.quotas.usage(str(kim.user_id))
    assert usage.money_month == pytest.approx(3 * plan.estimate.amount)


def test_a_reservation_becomes_usage_without_double_counting(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(compute=GPU, quotas={"uploads_per_day": 5, "money_per_month": 100.0})
    dee = _user(rt, "dee")
    uid = str(dee.user_id)
    held = rt.quotas.reserve_upload(uid, 10)
    assert held is not None and rt.quotas.usage(uid).uploads_today == 1
    outcome = rt.ingest.ingest_file(_image(tmp_path, 3), dee, analyze=False, reservation=held)
    assert outcome.status == "created" and outcome.media_id
    # converted in the transaction that stored it: one upload, not two, before any release
    assert rt.quotas.usage(uid).uploads_today == 1 and _held(rt) == []
    rt.quotas.release(held)  # nothing left to release: a no-op
    assert rt.quotas.usage(uid).uploads_today == 1

    estimate = {"device": "cuda:test", "duration_s": 2.0, "amount": 2.0}
    job_held = rt.quotas.reserve_job(uid, estimate, job_id="job_reserved01")
    assert job_held is not None and rt.quotas.usage(uid).money_month == pytest.approx(2.0)
    rt.ledger.submit(
        outcome.media_id, ["thumbnails"], created_by=uid, estimate=estimate, job_id="job_reserved01"
    )
    usage = rt.quotas.usage(uid)  # the job counts through its reservation, once
    assert usage.money_month == pytest.approx(2.0) and usage.gpu_seconds_month == pytest.approx(2)
    rt.quotas.release(job_held)
    assert rt.quotas.usage(uid).money_month == pytest.approx(2.0)  # now by itself


def test_a_refused_or_failed_upload_gives_its_share_back(
    make_rt: Callable[..., Runtime], tmp_path: Path
) -> None:
    rt = make_rt(quotas={"uploads_per_day": 1})
    eve = _user(rt, "eve")
    uid = str(eve.user_id)
    not_media = tmp_path / "notes.jpg"
    not_media.write_bytes(b"this is not an image at all" * 10)
    held = rt.quotas.reserve_upload(uid, not_media.stat().st_size)
    with pytest.raises(QuotaExceeded, match="uploads_per_day"):  # the one upload is held
        rt.quotas.reserve_upload(uid, 1)
    try:
        outcome = rt.ingest.ingest_file(not_media, eve, analyze=False, reservation=held)
    finally:
        rt.quotas.release(held)
    assert outcome.status == "rejected"
    assert rt.quotas.usage(uid).uploads_today == 0 and _held(rt) == []
    assert _upload(rt, eve, _image(tmp_path, 4)) == "created"  # the share came back
    with pytest.raises(QuotaExceeded):
        rt.quotas.reserve_upload(uid, 1)

    # the request failing outright (here the file vanished) releases too
    rt.quotas.set(cli_principal(), "eve", {"uploads_per_day": 2})
    with pytest.raises(FileNotFoundError):
        _upload(rt, eve, tmp_path / "gone.jpg")
    assert _held(rt) == [] and rt.quotas.usage(uid).uploads_today == 1


def test_an_expired_reservation_stops_counting(make_rt: Callable[..., Runtime]) -> None:
    rt = make_rt(quotas={"uploads_per_day": 1, "money_per_month": 5.0})
    fin = _user(rt, "fin")
    uid = str(fin.user_id)
    now = [datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)]
    rt.quotas.now = lambda: now[0]
    crashed = rt.quotas.reserve_upload(uid, 10)  # its request dies: never released
    assert crashed is not None
    rt.quotas.reserve_job(uid, {"device": "cpu", "amount": 5.0}, job_id="job_neverqueued")
    with pytest.raises(QuotaExceeded, match="uploads_per_day"):
        rt.quotas.reserve_upload(uid, 10)
    with pytest.raises(QuotaExceeded, match="money_per_month"):
        rt.quotas.reserve_job(uid, {"device": "cpu", "amount": 1.0}, job_id="job_second")
    now[0] += timedelta(seconds=RESERVATION_TTL_S - 1)
    assert rt.quotas.upload_refusal(uid, 10) is not None  # still within its lifetime
    now[0] += timedelta(seconds=2)
    usage = rt.quotas.usage(uid)
    assert usage.uploads_today == 0 and usage.money_month == 0.0
    assert rt.quotas.reserve_upload(uid, 10) is not None
    assert rt.quotas.reserve_job(uid, {"device": "cpu", "amount": 5.0}, job_id="job_third")
    assert crashed not in {r.id for r in _held(rt)}  # expired rows are purged under the lock
    assert len(_held(rt)) == 2


def test_no_reservation_without_a_quota(make_rt: Callable[..., Runtime], tmp_path: Path) -> None:
    rt = make_rt()  # every default 0: unlimited
    gus = _user(rt, "gus")
    assert rt.quotas.reserve_upload(gus.user_id, 10**12) is None
    assert rt.quotas.reserve_job(gus.user_id, {"amount": 1e9}, job_id="job_x") is None
    assert rt.quotas.reserve_upload(None, 1) is None  # the operator has no account
    assert _upload(rt, gus, _image(tmp_path, 5)) == "created" and _held(rt) == []
