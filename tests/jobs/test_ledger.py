"""The job ledger on SQLite and PostgreSQL: order, idempotency, fencing, cancel/retry, failures."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from aima.core.clock import utcnow
from aima.core.errors import Conflict, LeaseLost
from aima.core.progress import Progress
from aima.jobs.ledger import Ledger
from aima.jobs.states import Claim, JobState
from aima.pipeline.runner import JobRunner
from aima.pipeline.worker import Worker
from aima.runtime import Runtime
from tests.jobs.conftest import RuntimeFactory, done_chunks, executions, ingest, wait_for


def _claim(rt: Runtime, owner: str) -> Claim:
    claim = rt.ledger.claim(owner)
    assert claim is not None, "expected a runnable job"
    return claim


def _future_worker(rt: Runtime, ahead_s: float) -> Worker:
    """A worker whose ledger clock runs ``ahead_s`` ahead: it sees backoffs as elapsed."""
    ledger = Ledger(rt.db, rt.settings.jobs, clock=lambda: utcnow() + timedelta(seconds=ahead_s))
    runner = JobRunner(rt.db, ledger, rt.registry, rt.blobs)
    return Worker(
        rt.db, ledger, runner, jobs=rt.settings.jobs, worker=rt.settings.worker, worker_id="w-f"
    )


# ------------------------------------------------------------------- submit & claim
def test_claim_order_is_priority_then_age(runtime: Runtime, image: Path) -> None:
    media = ingest(runtime, image)
    old_low = runtime.ledger.submit(media, ["thumbnails"], priority=0)[0]
    old_high = runtime.ledger.submit(media, ["thumbnails"], priority=5)[0]
    new_low = runtime.ledger.submit(media, ["thumbnails"], priority=0)[0]
    new_high = runtime.ledger.submit(media, ["thumbnails"], priority=5)[0]
    top = runtime.ledger.submit(media, ["thumbnails"], priority=9)[0]

    order = [_claim(runtime, f"w{i}").job_id for i in range(5)]

    assert order == [top.id, old_high.id, new_high.id, old_low.id, new_low.id]
    assert runtime.ledger.claim("w-late") is None  # all running, leases fresh
    assert runtime.ledger.counts_by_state() == {"running": 5}


def test_idempotency_key_returns_same_job_and_rejects_other_request(
    runtime: Runtime, image: Path, tmp_path: Path
) -> None:
    media = ingest(runtime, image)
    first, created = runtime.ledger.submit(media, ["thumbnails"], idempotency_key="k-1")
    again, created_again = runtime.ledger.submit(media, ["thumbnails"], idempotency_key="k-1")
    assert created and not created_again
    assert again.id == first.id

    with pytest.raises(Conflict) as info:
        runtime.ledger.submit(media, ["thumbnails", "thumbnails"], idempotency_key="k-1")
    assert info.value.details == {"job_id": first.id}

    other = ingest(runtime, Path(_other_image(tmp_path)))
    with pytest.raises(Conflict):
        runtime.ledger.submit(other, ["thumbnails"], idempotency_key="k-1")

    assert runtime.ledger.counts_by_state() == {"queued": 1}


def test_concurrent_submits_with_one_key_create_one_job(runtime: Runtime, image: Path) -> None:
    media = ingest(runtime, image)
    barrier = threading.Barrier(6)
    outcomes: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def submit() -> None:
        barrier.wait()
        try:
            job, created = runtime.ledger.submit(media, ["thumbnails"], idempotency_key="race")
            outcomes.append((job.id, created))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert len({job_id for job_id, _ in outcomes}) == 1
    assert sum(created for _, created in outcomes) == 1
    assert runtime.ledger.counts_by_state() == {"queued": 1}


def _other_image(tmp_path: Path) -> Path:
    from tests.mediagen import synth

    return synth.make_image(tmp_path / "other.png", width=64, height=48, fmt="PNG", seed=7)


# ------------------------------------------------------------------------ fencing
def test_fencing_stale_worker_cannot_write(make_rt: RuntimeFactory, image: Path) -> None:
    rt = make_rt({"chunks": 3})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])

    first = _claim(rt, "w1")
    assert first.token == 1
    rt.ledger.ensure_chunks(first, "counting", [(0, 1), (1, 2), (2, 3)])
    rt.ledger.commit_chunk(first, "counting", 0, {"index": 0}, duration_s=0.1)

    rt.ledger.expire_lease_now(job.id)
    second = _claim(rt, "w2")
    assert (second.job_id, second.token, second.attempt) == (job.id, 2, 2)
    assert rt.ledger.get(job.id).lease_owner == "w2"

    with pytest.raises(LeaseLost):
        rt.ledger.commit_chunk(first, "counting", 1, {"index": "stale"}, duration_s=0.1)
    with pytest.raises(LeaseLost):
        rt.ledger.save_result(
            first,
            "counting",
            version="1.0.0",
            model_id="none",
            config={},
            config_hash="x",
            data={"stale": True},
        )
    with pytest.raises(LeaseLost):
        rt.ledger.heartbeat(first)
    with pytest.raises(LeaseLost):
        rt.ledger.complete(first)

    chunks = {c.chunk_index: c for c in rt.ledger.chunks(job.id)}
    assert chunks[1].status == "pending" and chunks[1].result is None
    assert chunks[1].committed_token is None
    assert chunks[0].committed_token == 1 and chunks[0].status == "done"
    assert rt.ledger.results(job.id) == []
    job_now = rt.ledger.get(job.id)
    assert (job_now.state, job_now.fencing_token, job_now.outcome) == ("running", 2, {})

    # the new owner's writes go through
    rt.ledger.commit_chunk(second, "counting", 1, {"index": 1}, duration_s=0.1)
    assert {c.chunk_index: c.committed_token for c in rt.ledger.chunks(job.id)}[1] == 2


def test_expired_lease_is_dead_lettered_after_max_attempts(
    make_rt: RuntimeFactory, image: Path
) -> None:
    rt = make_rt({"chunks": 1}, jobs={"max_attempts": 1})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    _claim(rt, "w1")
    rt.ledger.expire_lease_now(job.id)

    assert rt.ledger.claim("w2") is None
    job = rt.ledger.get(job.id)
    assert job.state == "failed" and job.dead_letter
    assert "worker lost 1 times" in (job.error or "")


def test_expired_lease_job_taken_over_by_second_worker(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    """A stalled worker's job is finished by another, with exactly one result row."""
    log = tmp_path / "exec.log"
    # heartbeat far apart: the first worker does not renew the lease we expire below
    rt = make_rt({"chunks": 6, "sleep_s": 0.2, "log_path": str(log)}, jobs={"heartbeat_s": 60})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    stale = rt.make_worker("w-stale")
    thread = threading.Thread(target=stale.run_once)
    thread.start()
    try:
        wait_for(lambda: done_chunks(rt, job.id) >= 2, 20, "two committed chunks")
        rt.ledger.expire_lease_now(job.id)
        assert rt.make_worker("w-new").run_once()
    finally:
        thread.join(20)
    assert not thread.is_alive()

    final = rt.ledger.get(job.id)
    assert final.state == "succeeded" and final.fencing_token == 2
    results = rt.ledger.results(job.id)
    assert len(results) == 1
    assert results[0].data == {"chunks": 6, "sum": 15}
    chunks = rt.ledger.chunks(job.id)
    assert [c.chunk_index for c in chunks] == list(range(6))
    assert all(c.status == "done" for c in chunks)
    by_stale = [c.chunk_index for c in chunks if c.committed_token == 1]
    assert len(by_stale) >= 2
    assert {c.committed_token for c in chunks} <= {1, 2}
    counts = executions(log, job.id)
    assert all(counts[i] == 1 for i in by_stale), counts  # committed work is never redone
    assert all(1 <= counts[i] <= 2 for i in range(6)), counts


# ---------------------------------------------------------------- cancel & retry
def test_cancel_queued_job_is_immediate(runtime: Runtime, image: Path) -> None:
    job, _ = runtime.ledger.submit(ingest(runtime, image), ["thumbnails"])
    cancelled = runtime.ledger.cancel(job.id)
    assert cancelled.state == "cancelled" and cancelled.finished_at is not None
    assert runtime.ledger.get(job.id).state == "cancelled"
    assert runtime.ledger.claim("w1") is None
    with pytest.raises(Conflict):
        runtime.ledger.cancel(job.id)


def test_cancel_running_stops_at_chunk_boundary_and_retry_resumes(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    rt = make_rt({"chunks": 6, "log_path": str(log)})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    claim = _claim(rt, "w1")

    def cancel_after_third(event: Progress) -> None:
        # the hook runs after a chunk is analysed, before its commit: a user cancels now
        if event.step == "counting" and event.completed == 3:
            assert rt.ledger.cancel(job.id).state == "running"

    assert rt.runner.run(claim, cancel_after_third) == JobState.CANCELLED

    job_now = rt.ledger.get(job.id)
    assert job_now.state == "cancelled" and job_now.cancel_requested
    chunks = rt.ledger.chunks(job.id)
    assert [c.status for c in chunks] == ["done"] * 3 + ["pending"] * 3
    assert rt.ledger.results(job.id) == []
    assert executions(log, job.id) == {0: 1, 1: 1, 2: 1}

    retried = rt.ledger.retry(job.id)
    assert (retried.state, retried.cancel_requested, retried.attempts) == ("queued", False, 0)
    assert rt.make_worker("w2").run_once()

    final = rt.ledger.get(job.id)
    assert final.state == "succeeded" and final.progress == 1.0
    assert executions(log, job.id) == {i: 1 for i in range(6)}  # committed chunks not redone
    assert [c.committed_token for c in rt.ledger.chunks(job.id)] == [1, 1, 1, 2, 2, 2]
    (result,) = rt.ledger.results(job.id)
    assert result.data == {"chunks": 6, "sum": 15}


def test_retry_only_from_failed_partial_or_cancelled(runtime: Runtime, image: Path) -> None:
    job, _ = runtime.ledger.submit(ingest(runtime, image), ["thumbnails"])
    with pytest.raises(Conflict):
        runtime.ledger.retry(job.id)
    _claim(runtime, "w1")
    with pytest.raises(Conflict):
        runtime.ledger.retry(job.id)


# ------------------------------------------------------------------- priorities
def test_set_priority_only_while_queued(runtime: Runtime, image: Path) -> None:
    media = ingest(runtime, image)
    a = runtime.ledger.submit(media, ["thumbnails"], priority=1)[0]
    b = runtime.ledger.submit(media, ["thumbnails"], priority=0)[0]

    assert runtime.ledger.set_priority(b.id, 10).priority == 10
    first = _claim(runtime, "w1")
    assert first.job_id == b.id  # re-prioritised job goes first

    with pytest.raises(Conflict):
        runtime.ledger.set_priority(b.id, 0)  # running
    runtime.ledger.cancel(a.id)
    with pytest.raises(Conflict):
        runtime.ledger.set_priority(a.id, 3)  # cancelled
    assert runtime.ledger.get(a.id).priority == 1


# ------------------------------------------------------------------ failures
def test_retryable_failure_requeues_with_backoff_then_succeeds(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    rt = make_rt(
        {"chunks": 2, "log_path": str(log), "retryable_fail_times": 1},
        jobs={"backoff_base_s": 30},
    )
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    before = utcnow()

    assert rt.make_worker("w1").run_once()

    queued = rt.ledger.get(job.id)
    assert queued.state == "queued" and queued.attempts == 1
    assert queued.not_before >= before + timedelta(seconds=29)
    assert queued.lease_owner is None and queued.lease_expires_at is None
    assert "transient failure" in (queued.error or "")
    assert rt.ledger.claim("w-now") is None  # backoff not elapsed

    assert _future_worker(rt, 60).run_once()

    final = rt.ledger.get(job.id)
    assert (final.state, final.attempts, final.dead_letter) == ("succeeded", 2, False)
    assert executions(log, job.id) == {0: 2, 1: 1}
    (result,) = rt.ledger.results(job.id)
    assert result.data == {"chunks": 2, "sum": 1}


def test_exceeding_max_attempts_dead_letters(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    rt = make_rt(
        {"chunks": 2, "log_path": str(log), "retryable_fail_times": 100},
        jobs={"max_attempts": 2, "backoff_base_s": 0},
    )
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    worker = rt.make_worker("w1")

    assert worker.run_once()
    assert rt.ledger.get(job.id).state == "queued"
    assert worker.run_once()

    failed = rt.ledger.get(job.id)
    assert (failed.state, failed.dead_letter, failed.attempts) == ("failed", True, 2)
    assert "dead-lettered after 2 attempt(s)" in (failed.error or "")
    assert "transient failure 2/100" in (failed.error or "")
    assert failed.finished_at is not None
    assert not worker.run_once()  # nothing left to run
    assert rt.ledger.results(job.id) == []


def test_analyzer_failure_degrades_job_to_partial(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    rt = make_rt({"chunks": 3, "log_path": str(log), "fail_on_chunk": 1})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting", "thumbnails"])

    assert rt.make_worker("w1").run_once()

    final = rt.ledger.get(job.id)
    assert final.state == "partial"
    assert final.outcome["counting"]["status"] == "failed"
    assert "ValueError" in final.outcome["counting"]["reason"]
    assert "broken on purpose" in final.outcome["counting"]["reason"]
    assert final.outcome["thumbnails"]["status"] == "succeeded"
    assert final.error is not None and final.error.startswith("counting:")
    results = rt.ledger.results(job.id)
    assert [r.analyzer for r in results] == ["thumbnails"]
    assert results[0].id == final.outcome["thumbnails"]["result_id"]
    chunks = {(c.analyzer, c.chunk_index): c for c in rt.ledger.chunks(job.id)}
    assert chunks[("counting", 0)].status == "done"
    assert chunks[("counting", 1)].status == "failed"
    assert "broken on purpose" in (chunks[("counting", 1)].error or "")
    assert chunks[("counting", 2)].status == "pending"
    assert executions(log, job.id) == {0: 1, 1: 1}


def test_retry_of_partial_job_reruns_only_the_failed_analyzer(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    log = tmp_path / "exec.log"
    broken = make_rt({"chunks": 3, "log_path": str(log), "fail_on_chunk": 1})
    job, _ = broken.ledger.submit(ingest(broken, image), ["counting", "thumbnails"])
    assert broken.make_worker("w1").run_once()
    partial = broken.ledger.get(job.id)
    assert partial.state == "partial"
    thumbs_id = partial.outcome["thumbnails"]["result_id"]

    fixed = make_rt({"chunks": 3, "log_path": str(log)})  # the analyzer got fixed
    fixed.ledger.retry(job.id)
    assert fixed.make_worker("w2").run_once()

    final = fixed.ledger.get(job.id)
    assert final.state == "succeeded" and final.error is None
    assert final.outcome["thumbnails"]["result_id"] == thumbs_id  # not redone
    results = {r.analyzer: r for r in fixed.ledger.results(job.id)}
    assert set(results) == {"counting", "thumbnails"}
    assert results["thumbnails"].id == thumbs_id
    assert results["counting"].data == {"chunks": 3, "sum": 3}
    assert executions(log, job.id) == {0: 1, 1: 2, 2: 1}


def test_cancel_of_job_whose_worker_died_is_settled_by_next_claim(
    runtime: Runtime, image: Path
) -> None:
    job, _ = runtime.ledger.submit(ingest(runtime, image), ["thumbnails"])
    _claim(runtime, "w-dead")
    assert runtime.ledger.cancel(job.id).state == "running"  # the worker would stop at a boundary
    runtime.ledger.expire_lease_now(job.id)  # ... but it is gone

    assert runtime.ledger.claim("w2") is None
    gone = runtime.ledger.get(job.id)
    assert gone.state == "cancelled" and gone.lease_owner is None


def test_heartbeat_keeps_lease_through_a_chunk_longer_than_the_lease(
    make_rt: RuntimeFactory, image: Path, tmp_path: Path
) -> None:
    rt = make_rt({"chunks": 2, "sleep_s": 1.3}, jobs={"lease_s": 1.0, "heartbeat_s": 0.2})
    job, _ = rt.ledger.submit(ingest(rt, image), ["counting"])
    worker = rt.make_worker("w-slow")
    thread = threading.Thread(target=worker.run_once)
    thread.start()
    stolen = []
    try:
        wait_for(lambda: rt.ledger.get(job.id).state == "running", 10, "the job to start")
        while thread.is_alive():
            claim = rt.ledger.claim("w-thief")
            if claim is not None:
                stolen.append(claim)
                break
            thread.join(0.1)
    finally:
        thread.join(20)
    assert stolen == []
    final = rt.ledger.get(job.id)
    assert (final.state, final.fencing_token, final.attempts) == ("succeeded", 1, 1)
