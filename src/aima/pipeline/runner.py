"""Run one claimed job: each analyzer chunk by chunk, every chunk committed (= checkpoint).

A resumed job skips chunks already committed. An analyzer that fails is
recorded as failed with its reason and the job goes on (``partial``). Cancel is
honoured at chunk boundaries and keeps what was committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aima.analyzers.base import AnalysisContext, Analyzer
from aima.analyzers.registry import AnalyzerRegistry
from aima.core.errors import AimaError, AnalyzerError, LeaseLost
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.jobs.ledger import Ledger
from aima.jobs.states import AnalyzerStatus, Claim, JobState
from aima.media.types import MediaInfo
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import Media

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside the runner when a cancel request is seen at a chunk boundary."""


class Interrupted(Exception):
    """The worker is shutting down: hand the job back at the chunk boundary, uncancelled."""


@dataclass
class _Counter:
    done: int
    total: int


class JobRunner:
    def __init__(
        self, db: Database, ledger: Ledger, registry: AnalyzerRegistry, blobs: BlobStore
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.registry = registry
        self.blobs = blobs

    def run(
        self,
        claim: Claim,
        hook: ProgressHook = no_progress,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> JobState:
        with self.db.session() as s:
            media = s.get(Media, claim.media_id)
            if media is None:
                self.ledger.release_after_error(claim, "media was deleted", retryable=False)
                return JobState.FAILED
            sha, info = media.sha256, MediaInfo.from_dict(media.info)
        job = self.ledger.get(claim.job_id)
        done_before = {a for a, o in job.outcome.items() if o.get("status") == "succeeded"}
        names = self.registry.resolve(list(claim.analyzers))
        analyzers = [self.registry.get(n) for n in names]
        plans = {a.name: a.plan(info) if a.applies_to(info) else [] for a in analyzers}
        counter = _Counter(0, sum(len(p) for p in plans.values()) or 1)

        def report(step: str, message: str) -> float:
            fraction = counter.done / counter.total
            hook(Progress(step, counter.done, counter.total, message, claim.job_id))
            return fraction

        try:
            with self.blobs.local_path(sha) as path:
                for analyzer in analyzers:
                    if analyzer.name in done_before:
                        counter.done += len(plans[analyzer.name])
                        continue
                    ctx = AnalysisContext(
                        claim.media_id, claim.job_id, path, info, self.blobs, hook
                    )
                    self._run_analyzer(
                        claim, analyzer, ctx, plans[analyzer.name], counter, report, should_stop
                    )
        except Cancelled:
            self.ledger.mark_cancelled(claim)
            log.info("job cancelled at a chunk boundary", extra={"job_id": claim.job_id})
            return JobState.CANCELLED
        except Interrupted:
            self.ledger.release(claim)
            log.info("worker stopping; job handed back", extra={"job_id": claim.job_id})
            return JobState.QUEUED
        state = self.ledger.complete(claim)
        report("done", state.value)
        return state

    def _run_analyzer(
        self,
        claim: Claim,
        analyzer: Analyzer,
        ctx: AnalysisContext,
        plan: list[Any],
        counter: _Counter,
        report: Callable[[str, str], float],
        should_stop: Callable[[], bool],
    ) -> None:
        name = analyzer.name
        if name in self.registry.disabled:
            self.ledger.record_outcome(claim, name, AnalyzerStatus.DISABLED, "disabled by policy")
            counter.done += len(plan)
            return
        if not plan:
            self.ledger.record_outcome(
                claim, name, AnalyzerStatus.SKIPPED, f"does not apply to {ctx.info.kind} media"
            )
            return
        if self.ledger.heartbeat(claim).cancel_requested:
            raise Cancelled
        committed = self.ledger.ensure_chunks(claim, name, [(c.start_s, c.end_s) for c in plan])
        counter.done += len(committed)
        results: dict[int, dict[str, Any]] = dict(committed)
        try:
            for chunk in plan:
                if chunk.index in committed:
                    continue
                if should_stop():
                    raise Interrupted
                started = time.perf_counter()
                try:
                    out = analyzer.run(ctx, chunk)
                except LeaseLost:
                    raise
                except AnalyzerError as exc:
                    if exc.retryable:
                        raise
                    self.ledger.fail_chunk(claim, name, chunk.index, exc.message)
                    raise
                except AimaError as exc:
                    self.ledger.fail_chunk(claim, name, chunk.index, exc.message)
                    raise AnalyzerError(exc.message) from exc
                except Exception as exc:
                    self.ledger.fail_chunk(claim, name, chunk.index, repr(exc))
                    log.exception(
                        "analyzer crashed", extra={"job_id": claim.job_id, "analyzer": name}
                    )
                    raise AnalyzerError(f"{type(exc).__name__}: {exc}") from exc
                results[chunk.index] = out
                counter.done += 1
                fraction = report(name, f"{name} chunk {chunk.index + 1}/{len(plan)}")
                control = self.ledger.commit_chunk(
                    claim,
                    name,
                    chunk.index,
                    out,
                    duration_s=time.perf_counter() - started,
                    progress=fraction,
                    message=f"{name} {chunk.index + 1}/{len(plan)}",
                )
                if control.cancel_requested and counter.done < counter.total:
                    raise Cancelled
            final = analyzer.finalize(ctx, [results[c.index] for c in plan])
        except (Cancelled, Interrupted, LeaseLost):
            raise
        except AnalyzerError as exc:
            if exc.retryable:
                raise
            self.ledger.record_outcome(claim, name, AnalyzerStatus.FAILED, exc.message)
            return
        except Exception as exc:
            log.exception(
                "analyzer finalize crashed", extra={"job_id": claim.job_id, "analyzer": name}
            )
            self.ledger.record_outcome(
                claim, name, AnalyzerStatus.FAILED, f"{type(exc).__name__}: {exc}"
            )
            return
        self.ledger.save_result(
            claim,
            name,
            version=analyzer.version,
            model_id=analyzer.model_id,
            config=analyzer.config.model_dump(mode="json"),
            config_hash=analyzer.config_hash,
            data=final,
        )
