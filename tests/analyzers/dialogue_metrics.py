"""How right a diarization is: share of the true speech time given to the right speaker.

Hypothesis speakers are mapped one-to-one onto true speakers by the assignment that
maximises the time they agree on (Hungarian method, ``linear_sum_assignment``), so a
speaker split in two loses the smaller half and two voices merged into one lose the
smaller voice. The speaker-count error is reported separately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

Span = tuple[float, float, str]


@dataclass(frozen=True, slots=True)
class Score:
    accuracy: float  # share of true speech time attributed to the right speaker
    count_error: int  # hypothesis speakers minus true speakers
    mapping: dict[str, str]  # hypothesis label -> true label


def score(truth: Sequence[Span], hyp: Sequence[Span]) -> Score:
    """Score ``hyp`` against non-overlapping ``truth`` turns."""
    true_labels = sorted({t[2] for t in truth})
    hyp_labels = sorted({h[2] for h in hyp})
    total = sum(b - a for a, b, _ in truth)
    agree = np.zeros((len(hyp_labels), len(true_labels)))
    for a, b, who in truth:
        for c, d, label in hyp:
            common = min(b, d) - max(a, c)
            if common > 0:
                agree[hyp_labels.index(label), true_labels.index(who)] += common
    mapping: dict[str, str] = {}
    right = 0.0
    if agree.size:
        rows, cols = linear_sum_assignment(agree, maximize=True)
        right = float(agree[rows, cols].sum())
        mapping = {hyp_labels[r]: true_labels[c] for r, c in zip(rows, cols, strict=True)}
    return Score(right / total if total else 0.0, len(hyp_labels) - len(true_labels), mapping)
