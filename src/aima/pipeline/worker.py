"""The worker loop: claim → run → repeat, with a heartbeat thread per claimed job.

The same code runs embedded in ``aima serve`` (threads) and as ``aima worker``
processes on this or other machines (PostgreSQL). A worker that dies simply
stops heartbeating: its lease expires and another worker resumes the job from
the last committed chunk.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from aima.core.clock import utcnow
from aima.core.errors import AnalyzerError, DiskFull, LeaseLost, is_disk_full
from aima.core.ids import new_id
from aima.core.logging import log_context
from aima.core.progress import ProgressHook, no_progress
from aima.core.settings import JobSettings, WorkerSettings
from aima.jobs.ledger import Ledger
from aima.jobs.states import Claim, JobState
from aima.pipeline.runner import JobRunner
from aima.store.db import Database, connection_lost
from aima.store.models import WorkerHeartbeat

log = logging.getLogger(__name__)

DISK_FULL = (
    "no space left on the data disk; nothing of the interrupted step was stored. The job "
    "resumes from its last committed chunk once space is freed"
)


class _Heartbeat(threading.Thread):
    def __init__(
        self, ledger: Ledger, claim: Claim, every_s: float, on_beat: Callable[[], None]
    ) -> None:
        super().__init__(name=f"heartbeat-{claim.job_id}", daemon=True)
        self.ledger, self.claim, self.every_s, self.on_beat = ledger, claim, every_s, on_beat
        self.stopped = threading.Event()
        self.lost = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                self.ledger.heartbeat(self.claim)
                self.on_beat()
            except LeaseLost:
                self.lost.set()
                return
            except Exception:
                log.exception("heartbeat failed", extra={"job_id": self.claim.job_id})


class Worker:
    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        runner: JobRunner,
        *,
        jobs: JobSettings,
        worker: WorkerSettings,
        worker_id: str | None = None,
        hook_factory: Callable[[str], ProgressHook] | None = None,
        after_job: Callable[[str | None, JobState | None], None] | None = None,
        tick: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.runner = runner
        self.jobs = jobs
        self.settings = worker
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"
        self.stop_event = threading.Event()
        self.hook_factory = hook_factory or (lambda _job_id: no_progress)
        self.after_job = after_job or (lambda _job_id, _state: None)
        # cheap periodic work (retention rules), once per loop turn; must not raise
        self.tick = tick or (lambda: None)

    def register(self) -> None:
        with self.db.session() as s:
            row = s.get(WorkerHeartbeat, self.id) or WorkerHeartbeat(
                id=self.id, hostname=socket.gethostname(), pid=os.getpid(), started_at=utcnow()
            )
            row.heartbeat_at = utcnow()
            row.state = "idle"
            s.add(row)

    def _beat(self, state: str, job_id: str | None) -> None:
        with self.db.session() as s:
            row = s.get(WorkerHeartbeat, self.id)
            if row is not None:
                row.heartbeat_at = utcnow()
                row.state = state
                row.current_job = job_id

    def run_once(self) -> bool:
        """Claim and run one job. Returns False when nothing was runnable."""
        claim = self.ledger.claim(self.id)
        if claim is None:
            return False
        log.info(
            "claimed job", extra={"job_id": claim.job_id, "token": claim.token, "worker": self.id}
        )
        self._beat("busy", claim.job_id)
        hb = _Heartbeat(
            self.ledger, claim, self.jobs.heartbeat_s, lambda: self._beat("busy", claim.job_id)
        )
        hb.start()
        try:
            with log_context(job_id=claim.job_id, media_id=claim.media_id, worker=self.id):
                state = self.runner.run(
                    claim,
                    self.hook_factory(claim.job_id),
                    should_stop=lambda: hb.lost.is_set() or self.stop_event.is_set(),
                )
            log.info("job finished", extra={"job_id": claim.job_id, "state": state.value})
            self.after_job(claim.job_id, state)
        except LeaseLost:
            log.warning(
                "lease lost; another worker owns the job now", extra={"job_id": claim.job_id}
            )
        except DiskFull as exc:
            self._wait_for_space(claim, exc.message)
        except AnalyzerError as exc:
            self._release(claim, exc.message, retryable=exc.retryable)
        except SQLAlchemyError as exc:
            if is_disk_full(exc):  # the database's own files could not grow (rolled back)
                self._wait_for_space(claim, DISK_FULL)
            elif not connection_lost(exc):
                log.exception("job run crashed", extra={"job_id": claim.job_id})
                self._release(claim, f"{type(exc).__name__}: {exc}", retryable=True)
            else:  # the database blinked: hand the job back without counting an attempt
                log.warning("database connection lost mid-job", extra={"job_id": claim.job_id})
                self._hand_back(claim)
        except Exception as exc:
            if is_disk_full(exc):  # e.g. decrypting the media for the run found no space
                self._wait_for_space(claim, DISK_FULL)
            else:
                log.exception("job run crashed", extra={"job_id": claim.job_id})
                self._release(claim, f"{type(exc).__name__}: {exc}", retryable=True)
        finally:
            hb.stopped.set()
            hb.join()
            self._beat("idle", None)
        return True

    def _release(self, claim: Claim, reason: str, *, retryable: bool) -> None:
        try:
            state = self.ledger.release_after_error(claim, reason, retryable=retryable)
            log.warning(
                "job released after error", extra={"job_id": claim.job_id, "state": state.value}
            )
        except LeaseLost:
            pass

    def _wait_for_space(self, claim: Claim, reason: str) -> None:
        """The data disk is full: requeue after a pause without counting an attempt (like a
        database blip, a full disk says nothing about the job); committed chunks stay."""
        delay = min(self.jobs.backoff_max_s, DiskFull.retry_after_s or 60.0)
        log.error("disk full mid-job; job requeued", extra={"job_id": claim.job_id})
        self._record(lambda: self.ledger.defer(claim, reason, delay))

    def _hand_back(self, claim: Claim) -> None:
        """Requeue untouched once the database answers again (committed chunks stay)."""
        self._record(lambda: self.ledger.release(claim))

    def _record(self, requeue: Callable[[], None]) -> None:
        """Write a job's requeue, retrying with backoff while the database cannot take it (its
        connection lost, or its own disk full: then no other worker can claim the job either)
        until it goes through or the worker stops. A lost lease means another worker has the
        job: nothing is left to record."""
        pause = max(0.5, self.settings.poll_interval_s)
        while True:
            try:
                requeue()
                return
            except LeaseLost:
                return
            except SQLAlchemyError as exc:
                if not (is_disk_full(exc) or connection_lost(exc)):
                    raise
            if self.stop_event.wait(pause):
                return  # stopping: the lease expires and the job is claimed again later
            pause = min(pause * 2, 30.0)

    def run_forever(self, *, idle_exit: bool = False) -> None:
        """Loop until ``stop()``; with ``idle_exit`` return once the queue is empty."""
        self.register()
        self.after_job(None, None)  # catch up on results a crashed worker left behind
        while not self.stop_event.is_set():
            try:
                ran = self.run_once()
            except SQLAlchemyError:
                # database unreachable or failing: keep the worker alive and try again
                log.exception("worker could not reach the database; retrying")
                self.stop_event.wait(max(1.0, self.settings.poll_interval_s))
                continue
            self.tick()
            if not ran:
                if idle_exit:
                    return
                self._beat("idle", None)
                self.stop_event.wait(self.settings.poll_interval_s)

    def stop(self) -> None:
        self.stop_event.set()


class WorkerPool:
    """``concurrency`` worker threads in this process (the embedded default)."""

    def __init__(
        self, make_worker: Callable[[int], Worker], concurrency: int, *, idle_exit: bool = False
    ) -> None:
        self.workers = [make_worker(i) for i in range(concurrency)]
        self.threads: list[threading.Thread] = []
        self.idle_exit = idle_exit

    def start(self) -> None:
        for w in self.workers:
            t = threading.Thread(
                target=w.run_forever,
                kwargs={"idle_exit": self.idle_exit},
                name=f"worker-{w.id}",
                daemon=True,
            )
            t.start()
            self.threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        for w in self.workers:
            w.stop()
        for t in self.threads:
            t.join(timeout)


__all__ = ["JobState", "Worker", "WorkerPool"]
