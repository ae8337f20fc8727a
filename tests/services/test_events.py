"""The event outbox: written in the transaction of the change, exactly once, never invented."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from aima.core.clock import utcnow
from aima.core.errors import InvalidInput
from aima.jobs.ledger import Ledger
from aima.jobs.states import JobState
from aima.runtime import Runtime
from aima.services.access import cli_principal
from aima.store import events
from aima.store.models import EventOutbox, Job, Person
from tests.mediagen import synth
from tests.services import test_review as _review

# the review tests' real faces + scenes job (fake VLM over HTTP), reused as fixtures here
fake, rt, flagged = _review.fake, _review.rt, _review.flagged


def _events(rt: Runtime) -> list[EventOutbox]:
    with rt.db.session() as s:
        return list(s.execute(select(EventOutbox).order_by(EventOutbox.id)).scalars())


def _queued_job(rt: Runtime, tmp_path: Path, name: str = "photo.jpg", seed: int = 1) -> str:
    path = synth.make_image(tmp_path / name, 160, 120, seed=seed)
    outcome = rt.ingest.ingest_file(path, cli_principal())
    assert outcome.job_id is not None
    return outcome.job_id


def test_rolled_back_change_writes_no_event(runtime: Runtime, tmp_path: Path) -> None:
    job_id = _queued_job(runtime, tmp_path)

    with pytest.raises(RuntimeError, match="crash"), runtime.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        Ledger._finish(job, JobState.CANCELLED, utcnow())
        s.flush()  # the event and the state change are both sent to the database ...
        raise RuntimeError("crash before commit")  # ... and neither commits

    assert _events(runtime) == []
    assert runtime.ledger.get(job_id).state == JobState.QUEUED

    runtime.ledger.cancel(job_id)
    [event] = _events(runtime)
    assert event.kind == "job.cancelled"
    assert event.subject == f"job:{job_id}"
    assert event.payload["job_id"] == job_id and event.payload["state"] == "cancelled"


def test_job_reaching_succeeded_emits_exactly_one_event(runtime: Runtime, tmp_path: Path) -> None:
    job_id = _queued_job(runtime, tmp_path, name="holiday-with-alice.jpg")
    worker = runtime.make_worker("t")
    while worker.run_once():
        pass
    assert runtime.ledger.get(job_id).state == JobState.SUCCEEDED
    runtime.events.pump()  # publishing twice invents nothing
    runtime.events.pump()

    found = _events(runtime)
    assert [e.kind for e in found] == ["job.succeeded"]
    doc = events.envelope(found[0])
    assert doc["version"] == 1
    assert doc["data"] == {
        "job_id": job_id,
        "media_id": runtime.ledger.get(job_id).media_id,
        "state": "succeeded",
        "analyzers": {"thumbnails": "succeeded"},
        "attempts": 1,
        "dead_letter": False,
    }
    assert "holiday" not in json.dumps(doc)  # file names never leave in an event


def test_unknown_kinds_and_undocumented_fields_are_refused(runtime: Runtime) -> None:
    with runtime.db.session() as s:
        with pytest.raises(InvalidInput, match="unknown event kind"):
            events.emit(s, "job.exploded", payload={})
        with pytest.raises(InvalidInput, match="undocumented payload fields"):
            events.emit(s, "job.failed", payload={"job_id": "j", "file_name": "secret.mp4"})
    assert _events(runtime) == []


def test_concurrent_writers_commit_outbox_ids_in_order(runtime: Runtime, tmp_path: Path) -> None:
    """A reader past a cursor must never see id n+1 before id n commits (it would skip n)."""
    if runtime.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time (BEGIN IMMEDIATE) already")
    first = _queued_job(runtime, tmp_path, "a.jpg", seed=1)
    second = _queued_job(runtime, tmp_path, "b.jpg", seed=2)
    emitted = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def slow_writer() -> None:
        try:
            with runtime.db.session() as s:
                job = s.get(Job, first)
                assert job is not None
                Ledger._finish(job, JobState.CANCELLED, utcnow())
                s.flush()
                emitted.set()
                assert release.wait(60)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            emitted.set()

    t = threading.Thread(target=slow_writer)
    t.start()
    assert emitted.wait(60)
    other = threading.Thread(target=lambda: runtime.ledger.cancel(second))
    other.start()
    other.join(timeout=2)
    assert other.is_alive()  # it waits for the first writer's commit, however long that takes
    seen_while_open = _events(runtime)
    release.set()
    t.join(60)
    other.join(60)
    assert not errors
    assert seen_while_open == []  # nothing visible, so no cursor could move past a gap
    found = _events(runtime)
    assert [e.payload["job_id"] for e in found] == [first, second]


def test_flag_raised_and_person_matched_carry_ids_only(rt: Runtime, flagged: Job) -> None:
    """A real faces + scenes job (a face wearing a restraint): the worker's syncs emit
    ``flag.raised`` and ``person.matched`` in their own transactions, once each."""
    rt.review.sync()  # a second sync queues nothing and so emits nothing
    rt.identity.sync()
    found = _events(rt)
    kinds = [e.kind for e in found]
    assert kinds.count("job.succeeded") == 1
    [flag] = [e for e in found if e.kind == "flag.raised"]
    (item,) = rt.review.items(cli_principal())
    assert flag.subject == f"flag:{item.id}"
    assert flag.payload["label"] == "handcuffs" and flag.payload["media_id"] == flagged.media_id
    [matched] = [e for e in found if e.kind == "person.matched"]
    assert matched.payload["media_id"] == flagged.media_id
    assert matched.payload["modalities"] == ["face"] and matched.payload["new_person"] is True
    assert matched.payload["observations"] >= 1
    # what the events say is what the library says
    with rt.db.session() as s:
        person = s.get(Person, matched.payload["person_id"])
        assert person is not None
        person.name = "Alice Example"
    for e in found:
        text = json.dumps(events.envelope(e))
        assert "flagged.jpg" not in text and "Alice" not in text
        assert e.payload["v"] == events.SCHEMAS[e.kind][0]


def test_erasing_a_subject_removes_its_events(runtime: Runtime, tmp_path: Path) -> None:
    job_id = _queued_job(runtime, tmp_path)
    with runtime.db.session() as s:
        events.emit_persons_matched(
            s, runtime.ledger.get(job_id).media_id, {"per_x": (2, {"face"}, True)}
        )
    runtime.ledger.cancel(job_id)
    with runtime.db.session() as s:
        assert events.erase_subject(s, "person:per_x") == 1
    assert [e.kind for e in _events(runtime)] == ["job.cancelled"]
