"""Run one claimed job: chunk by chunk, every analyzer per chunk, each result committed.

Analyzers with the same chunk plan form a group; the group walks its chunks in
order and decodes each chunk once (keyframes and audio, lazily) for all of its
analyzers. Each (analyzer, chunk) result is committed on its own: that is the
checkpoint a resumed job continues from. An analyzer that fails is recorded as
failed with its reason (its dependents too) and the others go on: the job ends
``partial``. Cancel is honoured at those boundaries and keeps what was committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aima.analyzers.base import AnalysisContext, Analyzer, Chunk, ChunkData
from aima.analyzers.registry import AnalyzerRegistry
from aima.compute.budgets import JobMeter, OverBudget, SpendMeter
from aima.compute.executors import EXECUTOR_ATTEMPTS, ChunkRun, Executor, ExecutorLost
from aima.compute.inprocess import InProcessExecutor
from aima.core.errors import AimaError, AnalyzerError, DiskFull, LeaseLost, is_disk_full
from aima.core.progress import Progress, ProgressHook, no_progress
from aima.core.settings import DecodeSettings
from aima.core.tracing import span
from aima.jobs.ledger import Ledger
from aima.jobs.states import AnalyzerStatus, Claim, JobState
from aima.media.decoder import ChunkDecoder
from aima.media.types import MediaInfo
from aima.results import InvalidResult
from aima.store.blobs import BlobStore
from aima.store.db import Database
from aima.store.models import Media

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside the runner when a cancel request is seen at a chunk boundary."""


class Interrupted(Exception):
    """The worker is shutting down: hand the job back at the chunk boundary, uncancelled."""


@dataclass
class _Run:
    """One analyzer's progress inside a job."""

    analyzer: Analyzer
    plan: list[Chunk]
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: str | None = None
    borrowed: bool = False  # a requirement's accepted results, read from an earlier job


@dataclass
class _Progress:
    hook: ProgressHook
    job_id: str
    total: int
    done: int = 0

    def report(self, step: str, message: str) -> float:
        self.hook(Progress(step, self.done, self.total, message, self.job_id))
        return self.done / self.total if self.total else 1.0


class JobRunner:
    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        registry: AnalyzerRegistry,
        blobs: BlobStore,
        decode: DecodeSettings | None = None,
        executor: Executor | None = None,
        spend: SpendMeter | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.registry = registry
        self.blobs = blobs
        self.decode = decode or DecodeSettings()
        # computes chunks (here or on Ray); this runner, holding the lease, commits them
        self.executor: Executor = executor or InProcessExecutor()
        # prices each chunk, learns the cost model, stops a job past a hard budget
        self.spend = spend
        self._meters: dict[str, JobMeter] = {}

    def run(
        self,
        claim: Claim,
        hook: ProgressHook = no_progress,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> JobState:
        attrs = {"aima.job_id": claim.job_id, "aima.media_id": claim.media_id}
        with span("job.run", attrs) as job_span:
            state = self._run(claim, hook, should_stop)
            job_span.set_attribute("aima.job_state", state.value)
            return state

    def _run(self, claim: Claim, hook: ProgressHook, should_stop: Callable[[], bool]) -> JobState:
        with self.db.session() as s:
            media = s.get(Media, claim.media_id)
            if media is None:
                self.ledger.release_after_error(claim, "media was deleted", retryable=False)
                return JobState.FAILED
            if media.raw_deleted_at is not None:
                reason = "the original file was deleted by a retention rule"
                self.ledger.release_after_error(claim, reason, retryable=False)
                return JobState.FAILED
            sha, info = media.sha256, MediaInfo.from_dict(media.info)
        job = self.ledger.get(claim.job_id)
        done_before = {a for a, o in job.outcome.items() if o.get("status") == "succeeded"}
        runs = self._prepare(claim, info, done_before)
        own = [r for r in runs if not r.borrowed]
        progress = _Progress(hook, claim.job_id, sum(len(r.plan) for r in own))
        progress.done = sum(len(r.results) for r in own)
        if self.spend is not None:
            self._meters[claim.job_id] = self.spend.start(job)
        try:
            if self.ledger.heartbeat(claim).cancel_requested:
                raise Cancelled
            with self.blobs.local_path(sha) as path:
                ctx = AnalysisContext(claim.media_id, claim.job_id, path, info, self.blobs, hook)
                decoder = ChunkDecoder(path, info, self.decode)
                try:
                    for group in _groups(runs):
                        self._run_group(claim, ctx, decoder, group, runs, progress, should_stop)
                except OverBudget as exc:
                    self._stop_over_budget(claim, ctx, own, runs, exc.reason)
                    return JobState.PARTIAL
                finally:
                    decoder.close()
                for run in own:
                    self._finish(claim, ctx, run, runs)
        except Cancelled:
            self.ledger.mark_cancelled(claim)
            log.info("job cancelled at a chunk boundary", extra={"job_id": claim.job_id})
            return JobState.CANCELLED
        except Interrupted:
            self.ledger.release(claim)
            log.info("worker stopping; job handed back", extra={"job_id": claim.job_id})
            return JobState.QUEUED
        finally:
            meter = self._meters.pop(claim.job_id, None)
            if meter is not None:
                meter.flush()
        state = self.ledger.complete(claim)
        progress.report("done", state.value)
        return state

    def _prepare(self, claim: Claim, info: MediaInfo, done_before: set[str]) -> list[_Run]:
        """Record disabled/inapplicable analyzers; create chunk rows; load committed chunks.

        A requirement that is not part of the job (``aima analyze --only emotion`` on a
        media whose faces were analysed before) is read from its accepted result's chunks
        when they match this job's chunk plan; otherwise it runs here as well.
        """
        names = self.registry.order(list(claim.analyzers))
        runs: list[_Run] = []
        seen: set[str] = set()
        for name in names:
            analyzer = self.registry.get(name)
            for req in analyzer.requires:
                if req not in names and req not in seen:
                    seen.add(req)
                    runs += self._requirement(claim, info, req)
            seen.add(name)
            if name in done_before:
                # finished in an earlier run of this job: dependents still read its chunks
                runs.append(self._new_run(claim, info, analyzer, borrowed=True))
                continue
            off = self.registry.disabled_reason(name) or self.registry.blocked_by(name)
            if off is not None:
                self.ledger.record_outcome(claim, name, AnalyzerStatus.DISABLED, off)
                continue
            reason = analyzer.skip_reason(info)
            if reason is not None:
                self.ledger.record_outcome(claim, name, AnalyzerStatus.SKIPPED, reason)
                continue
            runs.append(self._new_run(claim, info, analyzer))
        return runs

    def _new_run(
        self, claim: Claim, info: MediaInfo, analyzer: Analyzer, *, borrowed: bool = False
    ) -> _Run:
        plan = analyzer.plan(info)
        committed = self.ledger.ensure_chunks(
            claim, analyzer.name, [(c.start_s, c.end_s) for c in plan]
        )
        return _Run(analyzer, plan, dict(committed), borrowed=borrowed)

    def _requirement(self, claim: Claim, info: MediaInfo, name: str) -> list[_Run]:
        analyzer = self.registry.get(name)
        if name in self.registry.disabled or not analyzer.applies_to(info):
            return []
        plan = analyzer.plan(info)
        borrowed = self.ledger.accepted_chunks(claim.media_id, name)
        if borrowed is not None and borrowed[0] == [(c.start_s, c.end_s) for c in plan]:
            return [_Run(analyzer, plan, borrowed[1], borrowed=True)]
        return [self._new_run(claim, info, analyzer)]

    def _run_group(
        self,
        claim: Claim,
        ctx: AnalysisContext,
        decoder: ChunkDecoder,
        group: list[_Run],
        runs: list[_Run],
        progress: _Progress,
        should_stop: Callable[[], bool],
    ) -> None:
        by_name = {r.analyzer.name: r for r in runs}
        for chunk in group[0].plan:
            pending = [r for r in group if r.failed is None and chunk.index not in r.results]
            if not pending:
                continue
            if should_stop():
                raise Interrupted
            data = ChunkData(chunk, decoder)  # decoded at most once, for all of them
            for run in pending:
                failed_reqs = [
                    req for req in run.analyzer.requires if req in by_name and by_name[req].failed
                ]
                if failed_reqs:
                    run.failed = f"requires {', '.join(failed_reqs)}, which failed"
                    continue
                data.upstream = {
                    req: by_name[req].results[chunk.index]
                    for req in (*run.analyzer.requires, *run.analyzer.uses)
                    if req in by_name and chunk.index in by_name[req].results
                }
                with span(
                    "job.chunk", {"aima.analyzer": run.analyzer.name, "aima.chunk": chunk.index}
                ):
                    self._run_chunk(claim, ctx, run, chunk, data, progress)

    def _run_chunk(
        self,
        claim: Claim,
        ctx: AnalysisContext,
        run: _Run,
        chunk: Chunk,
        data: ChunkData,
        progress: _Progress,
    ) -> None:
        name = run.analyzer.name
        started = time.perf_counter()
        decoded_before = data.decode_s
        try:
            done = self._execute(claim, run.analyzer, ctx, data)
            out = done.result
        except LeaseLost:
            raise
        except AnalyzerError as exc:
            _stop_if_disk_full(exc, f"{name} chunk {chunk.index}")
            if exc.retryable:
                raise
            self._chunk_failed(claim, run, chunk, exc.message)
            return
        except AimaError as exc:
            _stop_if_disk_full(exc, f"{name} chunk {chunk.index}")
            self._chunk_failed(claim, run, chunk, exc.message)
            return
        except Exception as exc:
            _stop_if_disk_full(exc, f"{name} chunk {chunk.index}")
            log.exception("analyzer crashed", extra={"job_id": claim.job_id, "analyzer": name})
            self._chunk_failed(claim, run, chunk, f"{type(exc).__name__}: {exc}")
            return
        run.results[chunk.index] = out
        progress.done += 1
        position = f"{chunk.index + 1}/{len(run.plan)}"
        fraction = progress.report(name, f"{name} chunk {position}")
        # the analyzer's own time: decoding it triggered for everyone is not its cost
        duration_s = time.perf_counter() - started - (data.decode_s - decoded_before)
        meter = self._meters.get(claim.job_id)
        spend = 0.0
        if meter is not None:
            span = (chunk.start_s, chunk.end_s)
            spend = meter.charge(name, run.analyzer.version, span, done.compute_s, done.device)
        control = self.ledger.commit_chunk(
            claim,
            name,
            chunk.index,
            out,
            duration_s=duration_s,
            progress=fraction,
            message=f"{name} {position}",
            spend=spend,
        )
        if control.cancel_requested and progress.done < progress.total:
            raise Cancelled
        if meter is not None and progress.done < progress.total:
            reason = meter.over_cap(control.cost_actual)
            if reason is not None:
                raise OverBudget(reason)

    def _execute(
        self, claim: Claim, analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData
    ) -> ChunkRun:
        """The executor's result; a lost actor/node is retried on a new one (bounded).

        Nothing was committed for this chunk yet, so a retry redoes only this chunk; after
        the last attempt the ExecutorLost (retryable) hands the job back to the queue.
        """
        for _ in range(EXECUTOR_ATTEMPTS - 1):
            try:
                return self.executor.run_chunk(analyzer, ctx, data)
            except ExecutorLost as exc:
                log.warning(
                    "executor lost; retrying the chunk on a new actor",
                    extra={"job_id": claim.job_id, "analyzer": analyzer.name, "error": exc.message},
                )
        return self.executor.run_chunk(analyzer, ctx, data)  # the last try: its error stands

    def _stop_over_budget(
        self, claim: Claim, ctx: AnalysisContext, own: list[_Run], runs: list[_Run], reason: str
    ) -> None:
        """Spend passed a hard budget: keep what is complete, record the rest, end partial."""
        for run in own:
            if run.failed is None and all(c.index in run.results for c in run.plan):
                self._finish(claim, ctx, run, runs)
            else:
                self.ledger.record_outcome(claim, run.analyzer.name, AnalyzerStatus.FAILED, reason)
        self.ledger.stop_over_budget(claim, reason)
        log.warning("job stopped over budget", extra={"job_id": claim.job_id})

    def _chunk_failed(self, claim: Claim, run: _Run, chunk: Chunk, reason: str) -> None:
        where = "" if chunk.start_s is None else f" at {chunk.start_s:.1f}-{chunk.end_s or 0:.1f}s"
        run.failed = f"chunk {chunk.index}{where}: {reason}"
        self.ledger.fail_chunk(claim, run.analyzer.name, chunk.index, reason)

    def _finish(self, claim: Claim, ctx: AnalysisContext, run: _Run, runs: list[_Run]) -> None:
        name = run.analyzer.name
        if run.failed is None:
            missing = [c.index for c in run.plan if c.index not in run.results]
            if missing:  # a dependency failed before these chunks ran
                run.failed = f"chunks {missing} were not analysed"
        if run.failed is not None:
            self.ledger.record_outcome(claim, name, AnalyzerStatus.FAILED, run.failed)
            return
        try:
            final = run.analyzer.typed(
                run.analyzer.finalize(ctx, [run.results[c.index] for c in run.plan])
            ).dump()
        except (LeaseLost, Cancelled, Interrupted):
            raise
        except AnalyzerError as exc:
            _stop_if_disk_full(exc, f"{name} finalize")
            if exc.retryable:
                raise
            self.ledger.record_outcome(claim, name, AnalyzerStatus.FAILED, exc.message)
            return
        except InvalidResult as exc:
            self.ledger.record_outcome(claim, name, AnalyzerStatus.FAILED, exc.message)
            return
        except Exception as exc:
            _stop_if_disk_full(exc, f"{name} finalize")
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
            version=run.analyzer.version,
            model_id=run.analyzer.model_id,
            config=run.analyzer.config.model_dump(mode="json"),
            config_hash=run.analyzer.config_hash,
            data=final,
        )


def _stop_if_disk_full(exc: BaseException, step: str) -> None:
    """A full disk is no fault of the analyzer: instead of a failed chunk, the run stops (the
    step stored nothing: blob writes are atomic) and the worker requeues the job."""
    if is_disk_full(exc):
        raise DiskFull(
            f"no space left on the data disk during {step}; nothing of it was stored. The job "
            "resumes from its last committed chunk once space is freed"
        ) from exc


def _groups(runs: list[_Run]) -> list[list[_Run]]:
    """Analyzers with identical chunk plans share one pass (and one decode per chunk)."""
    groups: dict[tuple[tuple[float | None, float | None], ...], list[_Run]] = {}
    for run in runs:
        key = tuple((c.start_s, c.end_s) for c in run.plan)
        groups.setdefault(key, []).append(run)
    return list(groups.values())
