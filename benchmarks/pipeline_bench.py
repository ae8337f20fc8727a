"""The whole offline pipeline on a generated video with faces, text and speech.

    python -m benchmarks.pipeline_bench [--minutes 10] [--width 1920 --height 1080] [--baseline]

Prints wall time as x realtime, each analyzer's share (from the committed chunk
durations), and peak RSS. ``--baseline`` also runs every analyzer as a separate
tool, one after another (its own job: it decodes the file itself, batch size 1),
and compares AIMA's single pass with their summed time (target: <= 0.5x).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select
from tests.mediagen.scenario import BLOCK_S, make_scenario

from aima.core.settings import DEFAULT_ANALYZERS, Settings
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import JobChunk
from benchmarks.common import peak_rss_mb, say, table

ANALYZERS = list(DEFAULT_ANALYZERS)


def _runtime(
    root: Path, label: str, analyzers: dict[str, dict[str, object]] | None = None
) -> Runtime:
    return build_runtime(
        Settings(
            env="test",
            data_dir=root / f"data-{label}",
            auth={"jwt_secret": "b" * 40},  # type: ignore[arg-type]
            log_level="WARNING",
            analyzers=analyzers or {},
        )
    )


def _chunk_seconds(rt: Runtime, job_id: str) -> dict[str, float]:
    with rt.db.session() as s:
        rows = s.execute(
            select(JobChunk.analyzer, JobChunk.duration_s).where(JobChunk.job_id == job_id)
        ).all()
    out: dict[str, float] = defaultdict(float)
    for analyzer, seconds in rows:
        out[analyzer] += seconds or 0.0
    return out


def run_job(
    rt: Runtime, media_id: str, analyzers: list[str]
) -> tuple[float, dict[str, float], str]:
    job, _ = rt.jobs.submit(cli_principal(), media_id, analyzers)
    started = time.perf_counter()
    worker = rt.make_worker("bench")
    worker.run_once()
    wall = time.perf_counter() - started
    state = rt.ledger.get(job.id).state
    return wall, _chunk_seconds(rt, job.id), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--noise", type=int, default=4, help="film grain 0-100 (sets the bitrate)")
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()
    repeat = max(1, round(args.minutes * 60 / BLOCK_S))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        scenario = make_scenario(
            root / "media",
            width=args.width,
            height=args.height,
            fps=args.fps,
            repeat=repeat,
            noise=args.noise,
        )
        mbps = scenario.video.stat().st_size * 8 / scenario.duration_s / 1e6
        say(
            f"generated {scenario.duration_s / 60:.1f} min {args.width}x{args.height}@{args.fps} "
            f"H.264 ({mbps:.0f} Mb/s) with speech in {time.perf_counter() - t0:.0f}s"
        )
        rt = _runtime(root, "aima")
        media_id = rt.ingest.ingest_file(scenario.video, cli_principal(), analyze=False).media_id
        assert media_id
        wall, per, state = run_job(rt, media_id, ANALYZERS)
        rt.close()
        busy = sum(per.values())
        rows: list[dict[str, object]] = [
            {
                "analyzer": a,
                "seconds": round(per.get(a, 0.0), 1),
                "share %": round(100 * per.get(a, 0.0) / wall, 1),
            }
            for a in ANALYZERS
        ]
        rows.append(
            {
                "analyzer": "decode+overhead",
                "seconds": round(wall - busy, 1),
                "share %": round(100 * (wall - busy) / wall, 1),
            }
        )
        say(table(rows))
        say(
            f"AIMA single pass: {wall:.1f}s for {scenario.duration_s:.0f}s of media = "
            f"{scenario.duration_s / wall:.2f}x realtime (target >= 1.0x), job {state}, "
            f"peak RSS {peak_rss_mb():.0f} MiB (target <= 4096)"
        )
        if not args.baseline:
            return
        separate = 0.0
        base_rows: list[dict[str, object]] = []
        for name in ANALYZERS:
            brt = _runtime(root, f"tool-{name}", {n: {"batch_size": 1} for n in ANALYZERS})
            mid = brt.ingest.ingest_file(scenario.video, cli_principal(), analyze=False).media_id
            assert mid
            bwall, bper, bstate = run_job(brt, mid, [name])
            # requirements (e.g. vad for transcribe) ran in the same job: count only this tool
            own = bwall - sum(v for k, v in bper.items() if k != name)
            separate += own
            base_rows.append({"tool": name, "seconds": round(own, 1), "state": bstate})
            brt.close()
        say(table(base_rows))
        say(
            f"separate tools summed: {separate:.1f}s; AIMA: {wall:.1f}s = {wall / separate:.2f}x "
            "of their time (target <= 0.5x)"
        )


if __name__ == "__main__":
    main()
