"""Estimate accuracy: estimated vs actual device seconds (and money) over generated media.

    python -m benchmarks.estimate_bench [--analyzers thumbnails,vad,faces] [--warmup 3] [--batch 6]

A warm-up batch teaches the cost model (``analyzer_costs``) on this machine; then each
media of a second batch (other durations, images mixed in) is estimated before it runs
and measured after: the table prints, per analyzer, the summed estimate, the summed
actual (the device seconds the runner charged), estimate/actual, and the median and
worst per-job ratio. With ``--price`` (money per device-hour, billed per chunk in
``--increment`` seconds) it also compares estimated money with ``jobs.cost_actual``.
Run it once with ``--warmup 0`` to see how far the documented priors are off here.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from sqlalchemy import select
from tests.mediagen import synth

from aima.core.settings import Settings
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import AnalyzerCost
from benchmarks.common import say, table


def _runtime(root: Path, price: float, increment: float) -> Runtime:
    return build_runtime(
        Settings(
            env="test",
            data_dir=root / "data",
            auth={"jwt_secret": "b" * 40},
            log_level="WARNING",
            compute={
                "cpu_price_per_hour": price,
                "billing_increment_s": increment,
            },
        )
    )


def _seconds(rt: Runtime) -> dict[str, float]:
    """Device seconds learnt so far per analyzer (all versions, units and devices)."""
    with rt.db.session() as s:
        rows = s.execute(select(AnalyzerCost)).scalars().all()
    out: dict[str, float] = defaultdict(float)
    for r in rows:
        out[r.analyzer] += r.cpu_s + r.gpu_s
    return out


def _media(root: Path, label: str, n: int, offset: int) -> list[Path]:
    """Videos of varied length with a tone (3-17 s), every third an image."""
    out: list[Path] = []
    for i in range(n):
        k = i + offset
        if k % 3 == 2:
            out.append(synth.make_image(root / f"{label}{i}.jpg", 640, 480, seed=k))
        else:
            seconds = 3.0 + (k * 7) % 15
            out.append(
                synth.make_video(
                    root / f"{label}{i}.mp4", seconds=seconds, width=320, height=240, fps=10,
                    freq=300 + 40 * k,
                )
            )  # fmt: skip
    return out


def _run(rt: Runtime, path: Path, analyzers: list[str]) -> tuple[dict[str, float], float, float]:
    """(estimate per analyzer, estimated money, actual money); actual seconds read after."""
    principal = cli_principal()
    media_id = rt.ingest.ingest_file(path, principal, analyze=False).media_id
    assert media_id
    job, _ = rt.jobs.submit(principal, media_id, analyzers, confirmed=True)
    estimate = {a["analyzer"]: a["seconds"] for a in job.estimate["analyzers"]}
    worker = rt.make_worker("bench")
    worker.run_once()
    done = rt.ledger.get(job.id)
    return estimate, float(job.estimate["amount"]), float(done.cost_actual)


def _worst(ratios: list[float]) -> float:
    """The per-job ratio furthest from 1 (over or under)."""
    return max(ratios, key=lambda x: abs(x - 1.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--analyzers", default="thumbnails,vad,faces")
    parser.add_argument("--warmup", type=int, default=3, help="media run first to teach the model")
    parser.add_argument("--batch", type=int, default=6, help="media estimated, then measured")
    parser.add_argument("--price", type=float, default=3.6, help="money per CPU-hour")
    parser.add_argument("--increment", type=float, default=0.0, help="billing increment (s)")
    args = parser.parse_args()
    analyzers = [a.strip() for a in args.analyzers.split(",") if a.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rt = _runtime(root, args.price, args.increment)
        try:
            for path in _media(root, "warm", args.warmup, 0):
                _run(rt, path, analyzers)
            say(f"warm-up: {args.warmup} media taught the cost model")
            est: dict[str, float] = defaultdict(float)
            act: dict[str, float] = defaultdict(float)
            ratios: dict[str, list[float]] = defaultdict(list)
            money_est = money_act = 0.0
            for path in _media(root, "batch", args.batch, 100):
                before = _seconds(rt)
                estimate, m_est, m_act = _run(rt, path, analyzers)
                after = _seconds(rt)
                money_est += m_est
                money_act += m_act
                for name, seconds in estimate.items():
                    actual = after.get(name, 0.0) - before.get(name, 0.0)
                    est[name] += seconds
                    act[name] += actual
                    if actual > 0:
                        ratios[name].append(seconds / actual)
            rows: list[dict[str, object]] = []
            for name in est:
                r: list[float] = ratios[name] or [0.0]
                rows.append(
                    {
                        "analyzer": name,
                        "estimate s": round(est[name], 2),
                        "actual s": round(act[name], 2),
                        "est/actual": round(est[name] / act[name], 2) if act[name] else "-",
                        "median job ratio": round(statistics.median(r), 2),
                        "worst job ratio": round(_worst(r), 2),
                    }
                )
            say(table(rows))
            total_e, total_a = sum(est.values()), sum(act.values())
            say(
                f"all analyzers: estimate {total_e:.2f}s vs actual {total_a:.2f}s "
                f"= {total_e / total_a if total_a else 0:.2f}x over {args.batch} media; "
                f"money {money_est:.5f} vs {money_act:.5f} "
                f"(= {money_est / money_act if money_act else 0:.2f}x)"
            )
        finally:
            rt.close()


if __name__ == "__main__":
    main()
