"""Ray vs in-process on the same generated video: total time, overhead per chunk, memory.

    python -m benchmarks.ray_bench [--minutes 2] [--chunk-s 10] [--analyzers thumbnails,vad]

Runs one job per executor through the real runner and ledger (SQLite). The Ray run uses a
real local cluster (``ray start --head`` in its own session, stopped afterwards). Per chunk
it compares the time the runner waited for the executor with the analyzer's own time where
it ran (``ChunkRun.compute_s``): the difference is the executor's overhead (decode not
included: the worker decodes in both cases). The first Ray call of each analyzer (actor
start + model load) is reported apart. Peak RSS: this process, and for Ray the sum over
the cluster's processes (sampled every 0.2 s).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.compute.raycluster import LocalRayCluster, session_pids, wait_for
from tests.mediagen import synth

from aima.analyzers.base import AnalysisContext, Analyzer, ChunkData
from aima.compute.executors import ChunkRun, Executor
from aima.core.settings import Settings
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from benchmarks.common import peak_rss_mb, say, table


class Timed:
    """Wraps an executor: per call, the wall time the runner waited and the compute time."""

    name = "timed"

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.calls: list[tuple[str, float, float]] = []

    def run_chunk(self, analyzer: Analyzer, ctx: AnalysisContext, data: ChunkData) -> ChunkRun:
        decoded = data.decode_s
        started = time.perf_counter()
        run = self.inner.run_chunk(analyzer, ctx, data)
        waited = time.perf_counter() - started - (data.decode_s - decoded)
        self.calls.append((analyzer.name, waited, run.compute_s))
        return run

    def close(self) -> None:
        self.inner.close()


def _runtime(root: Path, label: str, chunk_s: float, address: str | None) -> Runtime:
    compute = {"executor": "ray", "ray_address": address} if address else {}
    return build_runtime(
        Settings(
            env="test",
            data_dir=root / f"data-{label}",
            auth={"jwt_secret": "b" * 40},  # type: ignore[arg-type]
            log_level="WARNING",
            jobs={"chunk_s": chunk_s},  # type: ignore[arg-type]
            compute=compute,  # type: ignore[arg-type]
        )
    )


def _rss_of_sessions(sids: list[int]) -> float:
    total = 0
    for sid in sids:
        for pid in session_pids(sid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
    return total / 1024


def run(rt: Runtime, video: Path, analyzers: list[str]) -> tuple[float, Timed]:
    timed = Timed(rt.executor)
    rt.runner.executor = timed
    outcome = rt.ingest.ingest_file(video, cli_principal(), analyzers=analyzers)
    assert outcome.job_id
    started = time.perf_counter()
    assert rt.make_worker("bench").run_once()
    elapsed = time.perf_counter() - started
    job = rt.ledger.get(outcome.job_id)
    assert job.state == "succeeded", (job.state, job.error)
    return elapsed, timed


def _ray_run(
    cluster: LocalRayCluster,
    root: Path,
    chunk_s: float,
    video: Path,
    analyzers: list[str],
    sample: Callable[[], None],
) -> tuple[float, Timed]:
    import ray

    cluster.start_head()

    def connected() -> bool:
        try:
            ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
        except ConnectionError:
            return False
        return True

    wait_for("the Ray head", connected)
    threading.Thread(target=sample, daemon=True).start()
    rt = _runtime(root, "ray", chunk_s, cluster.address)
    try:
        return run(rt, video, analyzers)
    finally:
        rt.close()
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--chunk-s", type=float, default=10.0)
    parser.add_argument("--analyzers", default="thumbnails,vad")
    args = parser.parse_args()
    analyzers = args.analyzers.split(",")
    with tempfile.TemporaryDirectory(prefix="aima-raybench-") as tmp:
        root = Path(tmp)
        say(f"generating a {args.minutes:g}-minute 640x360 video")
        video = synth.make_video(
            root / "bench.mp4", seconds=args.minutes * 60, width=640, height=360, fps=25
        )
        rt = _runtime(root, "inprocess", args.chunk_s, None)
        try:
            local_s, local = run(rt, video, analyzers)
        finally:
            rt.close()
        local_rss = peak_rss_mb()

        cluster = LocalRayCluster()
        peak_cluster = [0.0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                sids = [p.pid for p in [cluster.head, *cluster.workers] if p is not None]
                peak_cluster[0] = max(peak_cluster[0], _rss_of_sessions(sids))

        with cluster.driver_env():
            try:
                ray_s, remote = _ray_run(cluster, root, args.chunk_s, video, analyzers, sample)
            finally:
                stop.set()
                cluster.stop()

    rows: list[dict[str, object]] = []
    for label, total, timed in (("inprocess", local_s, local), ("ray", ray_s, remote)):
        first: dict[str, float] = {}
        steady: list[float] = []
        for name, waited, compute in timed.calls:
            if name not in first:
                first[name] = waited - compute
            else:
                steady.append(waited - compute)
        rows.append(
            {
                "executor": label,
                "chunks": len(timed.calls),
                "total s": f"{total:.2f}",
                "x realtime": f"{args.minutes * 60 / total:.1f}",
                "overhead/chunk ms (median)": f"{1000 * statistics.median(steady):.1f}",
                "overhead/chunk ms (p90)": f"{1000 * statistics.quantiles(steady, n=10)[-1]:.1f}",
                "first call s": ", ".join(f"{k} {v:.2f}" for k, v in first.items()),
            }
        )
    say(table(rows))
    say(
        f"peak RSS: this process {peak_rss_mb():.0f} MiB (after in-process only: "
        f"{local_rss:.0f} MiB); Ray cluster processes {peak_cluster[0]:.0f} MiB in all"
    )
    say(f"Ray adds {1000 * (ray_s - local_s) / max(1, len(remote.calls)):.1f} ms per chunk overall")


if __name__ == "__main__":
    main()
