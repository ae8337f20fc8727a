"""Events on a real RabbitMQ: confirmed, persistent, keyed by kind, at least once, never invented.

Each test declares its own exchange (unique name) and a temporary queue bound to it.
The broker comes from ``AIMA_TEST_AMQP_URL`` (default: the local RabbitMQ); without
one the tests skip with the reason, except under CI, where they fail.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika  # type: ignore[import-untyped]
import pika.exceptions  # type: ignore[import-untyped]
import pytest

from aima.core.clock import utcnow
from aima.core.errors import ServiceUnavailable
from aima.jobs.ledger import Ledger
from aima.jobs.states import JobState
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.services.amqp_events import AmqpPublisher
from aima.store.models import Job
from tests.conftest import REQUIRE_PG, make_settings
from tests.mediagen import synth

AMQP_URL = os.environ.get("AIMA_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _broker_problem() -> str | None:
    try:
        pika.BlockingConnection(pika.URLParameters(AMQP_URL)).close()
    except pika.exceptions.AMQPError as exc:
        return f"RabbitMQ not reachable at {AMQP_URL}: {exc!r}"
    return None


Message = tuple[str, Any, dict[str, Any]]  # routing key, properties, body


class Consumer:
    """A temporary queue bound to the exchange with '#': sees every event published."""

    def __init__(self, exchange: str) -> None:
        self.connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, exchange, routing_key="#")

    def take(self, n: int, timeout_s: float = 60.0) -> list[Message]:
        """Wait until ``n`` messages arrived (generous timeout), then return them."""
        out: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while len(out) < n and time.monotonic() < deadline:
            method, props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            out.append((method.routing_key, props, json.loads(body)))
        return out

    def empty(self) -> bool:
        return int(self.channel.queue_declare(self.queue, passive=True).method.message_count) == 0

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()


@pytest.fixture
def exchange() -> Iterator[str]:
    problem = _broker_problem()
    if problem:
        if REQUIRE_PG:
            pytest.fail(problem)
        pytest.skip(problem)
    name = f"aima.test.{uuid.uuid4().hex[:12]}"
    yield name
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    conn.channel().exchange_delete(name)
    conn.close()


@pytest.fixture
def consumer(exchange: str) -> Iterator[Consumer]:
    c = Consumer(exchange)
    yield c
    c.close()


@pytest.fixture
def amqp_runtime(tmp_path: Path, db_url: str, exchange: str) -> Iterator[Runtime]:
    rt = build_runtime(
        make_settings(
            tmp_path / "data", db_url, events={"amqp_url": AMQP_URL, "amqp_exchange": exchange}
        )
    )
    yield rt
    rt.close()


def _queued_job(rt: Runtime, tmp_path: Path, seed: int = 1) -> str:
    path = synth.make_image(tmp_path / f"p{seed}.jpg", 160, 120, seed=seed)
    outcome = rt.ingest.ingest_file(path, cli_principal())
    assert outcome.job_id is not None
    return outcome.job_id


def test_finished_job_is_published_with_confirms(
    amqp_runtime: Runtime, consumer: Consumer, tmp_path: Path
) -> None:
    job_id = _queued_job(amqp_runtime, tmp_path)
    worker = amqp_runtime.make_worker("t")
    while worker.run_once():  # after_job publishes
        pass
    [(key, props, body)] = consumer.take(1)
    assert key == "job.succeeded"
    assert props.delivery_mode == 2 and props.content_type == "application/json"
    assert props.message_id == str(body["id"])
    assert body["event"] == "job.succeeded" and body["version"] == 1
    assert body["data"]["job_id"] == job_id
    amqp = amqp_runtime.events.amqp
    assert amqp is not None
    assert amqp.publish_pending() == 0  # the cursor moved: nothing is sent twice
    assert consumer.empty()


class CrashAfterPublish(AmqpPublisher):
    """Dies (connection gone) after the broker confirmed, before the cursor moved."""

    def _advance(self, applied_id: int) -> None:
        assert self._connection is not None
        self._connection.close()
        raise pika.exceptions.StreamLostError("killed between publish and cursor update")


def test_crash_between_publish_and_cursor_redelivers(
    amqp_runtime: Runtime, consumer: Consumer, exchange: str, tmp_path: Path
) -> None:
    job_id = _queued_job(amqp_runtime, tmp_path)
    amqp_runtime.ledger.cancel(job_id)

    crashing = CrashAfterPublish(amqp_runtime.db, AMQP_URL, exchange)
    with pytest.raises(pika.exceptions.StreamLostError):
        crashing.publish_pending()
    [(_, first_props, first)] = consumer.take(1)

    restarted = AmqpPublisher(amqp_runtime.db, AMQP_URL, exchange)
    try:
        assert restarted.publish_pending() == 1  # from the unmoved cursor: not lost
        [(key, props, again)] = consumer.take(1)
        assert key == "job.cancelled"
        assert props.message_id == first_props.message_id  # consumers de-duplicate on it
        assert again == first
        assert restarted.publish_pending() == 0
    finally:
        restarted.close()


def test_rolled_back_transaction_publishes_nothing(
    amqp_runtime: Runtime, consumer: Consumer, tmp_path: Path
) -> None:
    job_id = _queued_job(amqp_runtime, tmp_path)
    with pytest.raises(RuntimeError), amqp_runtime.db.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        Ledger._finish(job, JobState.FAILED, utcnow())
        s.flush()
        raise RuntimeError("crash before commit")
    amqp = amqp_runtime.events.amqp
    assert amqp is not None
    assert amqp.publish_pending() == 0
    assert consumer.empty()


def test_lost_connection_is_reopened(
    amqp_runtime: Runtime, consumer: Consumer, tmp_path: Path
) -> None:
    amqp = amqp_runtime.events.amqp
    assert amqp is not None
    first = _queued_job(amqp_runtime, tmp_path, seed=1)
    amqp_runtime.ledger.cancel(first)
    assert amqp.publish_pending() == 1
    assert amqp._connection is not None
    amqp._connection.close()  # the broker went away under the publisher
    second = _queued_job(amqp_runtime, tmp_path, seed=2)
    amqp_runtime.ledger.cancel(second)
    assert amqp.publish_pending() == 1
    got = consumer.take(2)
    assert [b["data"]["job_id"] for _, _, b in got] == [first, second]


def test_unreachable_broker_keeps_events_in_the_outbox(
    sqlite_runtime: Runtime, tmp_path: Path, exchange: str, consumer: Consumer
) -> None:
    rt = sqlite_runtime
    job_id = _queued_job(rt, tmp_path)
    rt.ledger.cancel(job_id)
    dead = AmqpPublisher(rt.db, "amqp://guest:guest@127.0.0.1:1/", exchange)
    with pytest.raises(ServiceUnavailable, match="unreachable"):
        dead.publish_pending()
    alive = AmqpPublisher(rt.db, AMQP_URL, exchange)
    try:
        assert alive.publish_pending() == 1
    finally:
        alive.close()
    assert [b["data"]["job_id"] for _, _, b in consumer.take(1)] == [job_id]
