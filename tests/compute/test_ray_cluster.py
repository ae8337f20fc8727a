"""The Ray executor on a real local Ray cluster: a head and worker nodes, each its own process.

Jobs go through the real runner and ledger (SQLite); chunks run in Ray actors on a worker
node. The node is killed mid-job (after chunk k is committed, as seen in the database):
the job completes, the chunks committed before are not redone, and every analyzer has
exactly one result.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from sqlalchemy import select

from aima.analyzers.base import AnalysisContext, Analyzer, ChunkData
from aima.compute.executors import ChunkRun, Executor, ExecutorLost
from aima.compute.inprocess import InProcessExecutor
from aima.compute.ray_executor import RayExecutor
from aima.jobs.states import JobState
from aima.media.ffmpeg import ffmpeg_available
from aima.media.inspect import inspect_media
from aima.pipeline.oneshot import analyze_file
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import JobChunk
from tests.compute.raycluster import LocalRayCluster, wait_for
from tests.conftest import make_settings
from tests.mediagen import synth
from tests.plugins.counting import read_log

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg/ffprobe not installed"),
]

ANALYZERS = ["thumbnails", "vad"]
KILL_AFTER = 2  # the worker node dies once chunk 2 of every analyzer is committed


def _alive() -> set[str]:
    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    c = LocalRayCluster()
    with c.driver_env():
        yield from _running(c)


def _running(c: LocalRayCluster) -> Iterator[LocalRayCluster]:
    try:
        c.start_head()

        def connected() -> bool:
            try:
                ray.init(
                    address=c.address,
                    namespace="aima",
                    log_to_driver=False,
                    configure_logging=False,
                )
            except ConnectionError:
                return False
            return True

        wait_for(f"the Ray head at {c.address}\n{c.log_tail()}", connected)
        yield c
    finally:
        if ray.is_initialized():
            ray.shutdown()
        c.stop()


def add_node(cluster: LocalRayCluster) -> tuple[Any, str]:
    """Start a worker node; returns its process and Ray node id."""
    before = _alive()
    proc = cluster.add_worker()
    wait_for("the worker node to join", lambda: len(_alive() - before) == 1)
    (node_id,) = _alive() - before
    return proc, node_id


def ray_runtime(tmp_path: Path, cluster: LocalRayCluster, node_id: str) -> Runtime:
    rt = build_runtime(
        make_settings(
            tmp_path / "data",
            f"sqlite:///{tmp_path / 'aima.db'}",
            jobs={"chunk_s": 2},
            compute={"executor": "ray", "ray_address": cluster.address},
        )
    )
    assert isinstance(rt.executor, RayExecutor)
    assert rt.runner.executor is rt.executor
    # soft: on this node while it lives, anywhere else once it is gone
    rt.executor.actor_options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
        node_id, soft=True
    )
    return rt


class GatedExecutor:
    """Passes every chunk to the real executor; before chunk ``gate_at`` it waits for the test.

    That makes "the node dies between chunk k and k+1" an ordering, not a race.
    """

    name = "gated"

    def __init__(self, inner: Executor, gate_at: int) -> None:
        self.inner = inner
        self.gate_at = gate_at
        self.reached = threading.Event()
        self.proceed = threading.Event()
        self.lost: list[ExecutorLost] = []
        self.ran_on: dict[tuple[str, int], str] = {}

    def run_chunk(self, analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData) -> ChunkRun:
        if data.chunk.index == self.gate_at:
            self.reached.set()
            assert self.proceed.wait(300), "the test never released the gate"
        try:
            run = self.inner.run_chunk(analyzer, ctx, data)
        except ExecutorLost as exc:
            self.lost.append(exc)
            raise
        self.ran_on[(analyzer.name, data.chunk.index)] = run.where
        return run

    def close(self) -> None:
        self.inner.close()


def _committed(rt: Runtime, job_id: str) -> list[JobChunk]:
    with rt.db.session() as s:
        return list(
            s.execute(
                select(JobChunk).where(JobChunk.job_id == job_id, JobChunk.status == "done")
            ).scalars()
        )


def test_a_lost_worker_node_costs_only_the_uncommitted_chunk(
    tmp_path: Path, cluster: LocalRayCluster
) -> None:
    node_proc, node_id = add_node(cluster)
    video = synth.make_video(tmp_path / "clip.mp4", seconds=12, width=320, height=240, fps=10)
    rt = ray_runtime(tmp_path, cluster, node_id)
    gated = GatedExecutor(rt.executor, gate_at=KILL_AFTER + 1)
    rt.runner.executor = gated
    try:
        outcome = rt.ingest.ingest_file(video, cli_principal(), analyzers=ANALYZERS)
        assert outcome.job_id
        job_id = outcome.job_id
        worker = rt.make_worker("w-ray")
        ran = threading.Thread(target=worker.run_once, name="job-runner")
        ran.start()

        # chunk k committed (by the worker holding the lease), seen in the database
        assert gated.reached.wait(300), cluster.log_tail()
        wait_for(
            "chunks 0..k of every analyzer to be committed",
            lambda: len(_committed(rt, job_id)) == len(ANALYZERS) * (KILL_AFTER + 1),
        )
        before = {(c.analyzer, c.chunk_index): c for c in _committed(rt, job_id)}
        assert all(node_id in where for where in gated.ran_on.values()), gated.ran_on
        cluster.kill_worker(node_proc)
        wait_for("Ray to declare the worker node dead", lambda: node_id not in _alive())
        gated.proceed.set()
        ran.join(600)
        assert not ran.is_alive()

        job = rt.ledger.get(job_id)
        assert job.state == JobState.SUCCEEDED, (job.state, job.error, job.outcome)
        assert job.attempts == 1  # the worker kept its lease: only the actors were lost
        assert gated.lost, "the lost node was never noticed"
        chunks = rt.ledger.chunks(job_id)
        assert len(chunks) == len(ANALYZERS) * 6 and all(c.status == "done" for c in chunks)
        for c in chunks:
            key = (c.analyzer, c.chunk_index)
            assert c.attempts == 1, key  # committed once, never recomputed
            assert c.committed_token == 1, key
            if key in before:  # committed before the node died: untouched since
                assert c.result == before[key].result
                assert c.updated_at == before[key].updated_at
        later = [w for (_, i), w in gated.ran_on.items() if i > KILL_AFTER]
        assert later and not any(node_id in w for w in later), later
        results = rt.ledger.results(job_id)
        assert sorted(r.analyzer for r in results) == sorted(ANALYZERS)
        thumbs = next(r for r in results if r.analyzer == "thumbnails").data
        # images the actors made came back and were stored by the worker
        assert all(rt.blobs.exists(c["blob"]) for c in thumbs["candidates"])
        assert len(thumbs["candidates"]) == 6
    finally:
        gated.proceed.set()
        rt.close()


def test_oneshot_through_ray_gives_the_in_process_results(
    tmp_path: Path, cluster: LocalRayCluster
) -> None:
    _, node_id = add_node(cluster)
    video = synth.make_video(tmp_path / "q.mp4", seconds=5, width=320, height=240, fps=10)
    rt = ray_runtime(tmp_path, cluster, node_id)
    try:
        info = inspect_media(video, rt.settings.limits)
        args = (video, info, rt.registry, ANALYZERS, rt.settings.decode)
        remote = analyze_file(*args, rt.executor)
        local = analyze_file(*args, InProcessExecutor())
        assert remote == local
        assert all(node_id in where for where in rt.executor.actors().values())
    finally:
        rt.close()


def test_an_analyzer_error_on_an_actor_fails_that_chunk_as_in_process(
    tmp_path: Path, cluster: LocalRayCluster
) -> None:
    _, node_id = add_node(cluster)
    log = tmp_path / "executions.log"
    rt = build_runtime(
        make_settings(
            tmp_path / "data",
            f"sqlite:///{tmp_path / 'aima.db'}",
            plugins=["tests.plugins.counting"],
            analyzers={"counting": {"chunks": 3, "fail_on_chunk": 1, "log_path": str(log)}},
            compute={"executor": "ray", "ray_address": cluster.address},
        )
    )
    assert isinstance(rt.executor, RayExecutor)
    rt.executor.actor_options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
        node_id, soft=False
    )
    try:
        image = synth.make_image(tmp_path / "p.jpg")
        outcome = rt.ingest.ingest_file(
            image, cli_principal(), analyzers=["thumbnails", "counting"]
        )
        assert outcome.job_id
        assert rt.make_worker("w").run_once()
        job = rt.ledger.get(outcome.job_id)
        assert job.state == JobState.PARTIAL, job.outcome
        assert job.outcome["counting"]["status"] == "failed"
        assert "ValueError" in job.outcome["counting"]["reason"]
        done = {(c.analyzer, c.chunk_index) for c in _committed(rt, outcome.job_id)}
        assert ("counting", 0) in done and ("counting", 1) not in done
        assert job.outcome["thumbnails"]["status"] == "succeeded"
        ran_in = {pid for _, _, pid in read_log(log)}
        assert ran_in and os.getpid() not in ran_in  # in the actor's process, not here
    finally:
        rt.close()


def test_a_gpu_actor_on_a_cluster_without_gpus_fails_clearly(
    tmp_path: Path, cluster: LocalRayCluster
) -> None:
    """No node will ever have a GPU here: the actor cannot start, and the error says why."""
    video = synth.make_video(tmp_path / "g.mp4", seconds=2, width=160, height=120, fps=5)
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'aima.db'}",
        compute={
            "executor": "ray",
            "ray_address": cluster.address,
            "ray_gpus": {"thumbnails": 0.5},
        },
    )
    executor = RayExecutor(settings.compute, start_timeout_s=3)
    rt = build_runtime(settings)
    try:
        info = inspect_media(video, rt.settings.limits)
        with pytest.raises(ExecutorLost, match=r"num_gpus=0\.5; the cluster has 0"):
            analyze_file(video, info, rt.registry, ["thumbnails"], rt.settings.decode, executor)
    finally:
        executor.close()
        rt.close()
