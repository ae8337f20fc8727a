"""Publishes the event outbox to an AMQP 0-9-1 exchange (RabbitMQ), at least once.

Each event goes to a durable topic exchange as a persistent message whose routing key
is its kind (``job.succeeded``, ``flag.raised``, ...) and whose ``message_id`` is its
outbox id, so consumers drop the duplicates that at-least-once delivery allows. The
channel runs in publisher-confirm mode: ``basic_publish`` returns only once the broker
has taken the message, and the cursor (``event_cursors`` row ``amqp:<exchange>``) moves
only after every message up to it was confirmed. A crash or a lost connection between
publish and cursor update republishes those events (same message ids), never skips
them; nothing is published that did not commit (the outbox row would not exist).
A lost connection is reopened on the next call.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from typing import Any

import pika  # type: ignore[import-untyped]
import pika.exceptions  # type: ignore[import-untyped]
from pika.adapters.blocking_connection import BlockingChannel  # type: ignore[import-untyped]

from aima.core.errors import ServiceUnavailable
from aima.store import events
from aima.store.db import Database

log = logging.getLogger(__name__)

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)


class AmqpPublisher:
    def __init__(self, db: Database, url: str, exchange: str, *, batch: int = 500) -> None:
        self.db = db
        self.url = url
        self.exchange = exchange
        self.batch = batch
        self.cursor_name = f"amqp:{exchange}"
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ connection
    def _open(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._drop()
        params = pika.URLParameters(self.url)
        params.connection_attempts = 1
        params.blocked_connection_timeout = 30
        try:
            self._connection = pika.BlockingConnection(params)
            channel = self._connection.channel()
            channel.confirm_delivery()
            channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        except _CONNECTION_ERRORS as exc:
            self._drop()
            raise ServiceUnavailable(
                f"AMQP broker unreachable for exchange {self.exchange!r}: "
                f"{type(exc).__name__}: {exc}; events stay in the outbox until it is back"
            ) from exc
        self._channel = channel
        return channel

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                connection.close()

    def close(self) -> None:
        with self._lock:
            self._drop()

    # ------------------------------------------------------------------ publishing
    def publish_pending(self, *, wait: bool = True) -> int:
        """Publish every event past the cursor; the number confirmed by the broker.

        A connection lost mid-batch is reopened once and the batch republished from the
        cursor (the broker may see some messages twice; their ids tell the consumer).
        Raises ServiceUnavailable when the broker cannot be reached. ``wait=False``: 0 at
        once when this process is already publishing (that round sees the new events or
        leaves them for the next).
        """
        if not self._lock.acquire(blocking=wait):
            return 0
        try:
            published = 0
            retried = False
            while True:
                cursor = events.read_cursor(self.db, self.cursor_name)
                with self.db.session() as s:
                    rows = [
                        (int(r.id), r.kind, events.envelope(r))
                        for r in events.pending(s, cursor, self.batch)
                    ]
                if not rows:
                    return published
                try:
                    channel = self._open()
                    for event_id, kind, doc in rows:
                        self._publish(channel, event_id, kind, doc)
                except _CONNECTION_ERRORS as exc:
                    self._drop()
                    if retried:
                        raise ServiceUnavailable(
                            f"AMQP connection lost while publishing to {self.exchange!r}: "
                            f"{type(exc).__name__}: {exc}"
                        ) from exc
                    log.warning("AMQP connection lost; reconnecting", extra={"error": str(exc)})
                    retried = True
                    continue
                self._advance(rows[-1][0])
                published += len(rows)
                if len(rows) < self.batch:
                    return published
        finally:
            self._lock.release()

    def _publish(
        self, channel: BlockingChannel, event_id: int, kind: str, doc: dict[str, Any]
    ) -> None:
        body = json.dumps(doc, separators=(",", ":")).encode()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=str(event_id),
            type=kind,
            headers={"x-aima-version": doc["version"]},
        )
        # confirm mode: returns once the broker confirmed; a nack raises NackError
        channel.basic_publish(self.exchange, kind, body, properties)

    def _advance(self, applied_id: int) -> None:
        """The cursor moves only after the broker confirmed everything up to ``applied_id``."""
        events.advance_cursor(self.db, self.cursor_name, applied_id)
