"""Calibrating the vision-language model's restraint confidence from review decisions.

A VLM's self-reported confidence is not a probability: instruction-tuned models say
0.9 for nearly everything they mention. Once analysts have confirmed or dismissed
enough restraint flags (``MIN_DECISIONS``, both outcomes present), the raw numbers are
mapped through Platt scaling fitted on those decisions: ``p = sigmoid(a * raw + b)``,
with Platt's smoothed targets so a handful of decisions cannot produce 0 or 1.

Before that, a documented **prior** applies: ``a = 4, b = -3``. It is deliberately
conservative: a raw 1.0 becomes 0.73, raw 0.9 -> 0.65, raw 0.5 -> 0.27, so no
unreviewed flag claims certainty it has not earned. The calibration used is stored in
every ``scenes`` result next to the raw and calibrated values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from aima.results.scenes import Calibration

MIN_DECISIONS = 20
PRIOR = Calibration(method="prior", a=4.0, b=-3.0, samples=0)


def apply(cal: Calibration, raw: float) -> float:
    z = cal.a * min(1.0, max(0.0, raw)) + cal.b
    return round(1.0 / (1.0 + math.exp(-z)), 4)


def fit(
    decisions: Sequence[tuple[float, bool]], *, min_decisions: int = MIN_DECISIONS
) -> Calibration:
    """Platt scaling on (raw confidence, confirmed?) pairs; the prior when too few.

    Newton's method on the regularised log-loss of one feature: a few iterations
    converge for the 1-D problem; a tiny ridge keeps it finite when the two classes
    separate perfectly.
    """
    pos = sum(1 for _, ok in decisions if ok)
    neg = len(decisions) - pos
    if len(decisions) < min_decisions or pos == 0 or neg == 0:
        return PRIOR
    hi, lo = (pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0)
    xs = [min(1.0, max(0.0, float(x))) for x, _ in decisions]
    ys = [hi if ok else lo for _, ok in decisions]
    a, b, ridge = 1.0, 0.0, 1e-3
    for _ in range(100):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in zip(xs, ys, strict=True):
            p = 1.0 / (1.0 + math.exp(-(a * x + b)))
            ga += (p - y) * x
            gb += p - y
            w = p * (1.0 - p)
            haa += w * x * x
            hab += w * x
            hbb += w
        ga += ridge * a
        haa += ridge
        hbb += ridge
        det = haa * hbb - hab * hab
        if det <= 0:
            break
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if abs(da) < 1e-9 and abs(db) < 1e-9:
            break
    return Calibration(method="platt", a=round(a, 6), b=round(b, 6), samples=len(decisions))
