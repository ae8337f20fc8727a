"""Hands the event outbox on: webhooks always, an AMQP exchange when one is configured.

``pump`` runs both publishers once and never raises (each is idempotent and resumes
from its cursor), so the worker can call it after every job without risking the job.
In the embedded deployment a small thread pumps every ``events.poll_interval_s`` too,
so retries come due without a job finishing and without another process.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from aima.services.amqp_events import AmqpPublisher
from aima.services.webhooks import DispatchReport, WebhookService

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PumpReport:
    webhooks: DispatchReport
    published: int  # AMQP messages confirmed by the broker (0 when not configured)


class EventPump:
    def __init__(
        self, webhooks: WebhookService, amqp: AmqpPublisher | None, *, interval_s: float
    ) -> None:
        self.webhooks = webhooks
        self.amqp = amqp
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def pump(self, *, wait: bool = True) -> PumpReport:
        """Both publishers once; ``wait=False`` skips one that this process is running."""
        report = DispatchReport()
        published = 0
        try:
            report = self.webhooks.deliver_due(wait=wait)
        except Exception:
            log.exception("webhook dispatch failed; it resumes from its cursor next time")
        if self.amqp is not None:
            try:
                published = self.amqp.publish_pending(wait=wait)
            except Exception:
                log.exception("AMQP publishing failed; events stay in the outbox until it works")
        return PumpReport(report, published)

    def nudge(self) -> None:
        """New events were committed (a job ended): wake the pump thread, or pump here.

        Never blocks behind a round already running in this process, so a worker does not
        wait for slow webhook receivers before taking its next job.
        """
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._wake.set()
        else:
            self.pump(wait=False)

    def start(self) -> None:
        """Pump in the background until :meth:`stop` (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="aima-events", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            self.pump()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join(timeout=30)
        if self.amqp is not None:
            self.amqp.close()
