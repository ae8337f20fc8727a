"""Predictive vs reactive scaling of rented GPU workers on a simulated week.

    python -m benchmarks.scaling_bench [--seed 1] [--boot 180 300] [--price 0.5]

The trace (``aima.compute.scaling.simulated_weeks``, seeded) has an office-hours
peak of 40 jobs/hour, 2/hour at night, weekends at 35 %, ±20 % hourly noise,
Poisson arrivals and exponential work (mean 6 GPU-minutes). Three weeks are
generated; the first two only teach the predictive policy's hour-of-week
profile, the third is measured. Both policies run through the same simulator
(15 s ticks, one job per worker, boot time as given, idle workers beyond the
target stopped after 600 s — the predictive policy may stop its own surplus
after a 120 s grace). The predictive policy is run at three spare factors z
(warm pool = load + z·√load) to show the cost/wait trade-off.

Columns: GPU-hours and cost for the measured week, queue wait p50/p95/max
(arrival → a worker starts it), and launches (machines started).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from aima.compute.scaling import (
    PredictivePolicy,
    ReactivePolicy,
    ScalingPolicy,
    simulate,
    simulated_weeks,
)
from benchmarks.common import say, table

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
MEAN_WORK_S = 360.0
MAX_WORKERS = 30
IDLE_TERMINATE_S = 600.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--boot", type=float, nargs="+", default=[180.0, 300.0])
    ap.add_argument("--price", type=float, default=0.5, help="USD per GPU-hour")
    args = ap.parse_args()

    arrivals = simulated_weeks(START, weeks=3, mean_work_s=MEAN_WORK_S, seed=args.seed)
    measure_from = START + timedelta(weeks=2)
    say(
        f"trace: {len(arrivals)} jobs over 3 weeks, "
        f"{sum(a.at >= measure_from for a in arrivals)} in the measured week; "
        f"price {args.price} USD/GPU-h"
    )
    rows: list[dict[str, object]] = []
    for boot in args.boot:
        policies: list[ScalingPolicy] = [ReactivePolicy(max_workers=MAX_WORKERS)]
        for z in (0.0, 0.5, 1.0):
            policies.append(
                PredictivePolicy(
                    max_workers=MAX_WORKERS,
                    work_per_job_h=MEAN_WORK_S / 3600.0,
                    boot_s=boot,
                    spare_z=z,
                    name=f"predictive z={z:g}",
                )
            )
        for policy in policies:
            r = simulate(
                arrivals,
                policy,
                boot_s=boot,
                idle_terminate_s=IDLE_TERMINATE_S,
                price_per_hour=args.price,
                step_s=15.0,
                measure_from=measure_from,
            )
            rows.append(
                {
                    "boot s": int(boot),
                    "policy": r.policy,
                    "GPU-h": r.gpu_hours,
                    "cost USD": r.cost,
                    "wait p50 s": r.wait_p50_s,
                    "wait p95 s": r.wait_p95_s,
                    "wait max s": r.wait_max_s,
                    "launches": r.launches,
                }
            )
    say(table(rows))


if __name__ == "__main__":
    main()
