"""Who spoke when: embedding windows, clustering into speakers, turns. Pure numpy/scipy.

Windows lie on one media-wide grid (a window starts every ``hop_s`` seconds of media
time), clipped to the speech segment they fall in, so chunks that both see a
segment cut the same windows from it and each window belongs to the chunk its
start falls in.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


def grid_windows(
    start: float, end: float, *, window_s: float, hop_s: float, min_window_s: float
) -> list[tuple[float, float]]:
    """Windows covering ``[start, end]``: the media-wide grid (``k * hop_s`` to
    ``k * hop_s + window_s``) clipped to the segment. Clipped pieces shorter than
    ``min_window_s`` are dropped (their neighbour covers them when ``window_s - hop_s
    >= min_window_s``), and so are clipped windows lying inside another; a segment
    too short for any gets one window spanning it."""
    if end <= start:
        return []
    first = int(np.floor((start - window_s) / hop_s + 1e-9)) + 1
    out: list[tuple[float, float]] = []
    k = max(first, 0)
    while k * hop_s < end - 1e-9:
        a, b = max(start, k * hop_s), min(end, k * hop_s + window_s)
        if b - a >= min_window_s - 1e-9:
            out.append((a, b))
        k += 1
    # windows clipped at a segment edge can fall inside a neighbour: they add nothing
    kept = [
        w
        for i, w in enumerate(out)
        if not any(j != i and o[0] <= w[0] and w[1] <= o[1] and o != w for j, o in enumerate(out))
    ]
    return kept or [(start, end)]


def l2_normalize(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def cluster_embeddings(
    embeddings: NDArray[np.float32],
    *,
    threshold: float,
    num_speakers: int | None = None,
    max_windows: int = 3000,
) -> NDArray[np.int64]:
    """Speaker label (0..k-1) per embedding: average-linkage agglomerative clustering on
    cosine distance, stopped where clusters' mean cosine similarity drops below
    ``threshold`` (or cut at exactly ``num_speakers`` clusters). Beyond ``max_windows``
    embeddings, an evenly spread sample is clustered and every embedding joins its
    nearest cluster centroid (memory stays O(max_windows²))."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage

    x = l2_normalize(np.asarray(embeddings, dtype=np.float32))
    sample = np.linspace(0, n - 1, max_windows).astype(int) if n > max_windows else np.arange(n)
    tree = linkage(x[sample].astype(np.float64), method="average", metric="cosine")
    if num_speakers:
        flat = fcluster(tree, t=num_speakers, criterion="maxclust")
    else:
        flat = fcluster(tree, t=1.0 - threshold, criterion="distance")
    labels = _dense(flat)
    if n > max_windows:
        labels = nearest_centroid(x, centroids(x[sample], labels))
    return labels


def _dense(labels: NDArray[np.int64] | Sequence[int]) -> NDArray[np.int64]:
    """Relabel to 0..k-1 in order of first appearance."""
    order: dict[int, int] = {}
    out = np.empty(len(labels), dtype=np.int64)
    for i, lab in enumerate(labels):
        out[i] = order.setdefault(int(lab), len(order))
    return out


def centroids(x: NDArray[np.float32], labels: NDArray[np.int64]) -> NDArray[np.float32]:
    k = int(labels.max()) + 1 if labels.size else 0
    return l2_normalize(np.stack([x[labels == j].mean(axis=0) for j in range(k)]))


def nearest_centroid(x: NDArray[np.float32], cents: NDArray[np.float32]) -> NDArray[np.int64]:
    return np.asarray(np.argmax(x @ cents.T, axis=1), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float

    @property
    def center(self) -> float:
        return (self.start + self.end) / 2


def smooth_labels(
    labels: Sequence[int],
    windows: Sequence[Window],
    *,
    region: tuple[float, float],
    min_turn_s: float,
    affinity: NDArray[np.float32] | None = None,
) -> list[int]:
    """Relabel runs of windows shorter than ``min_turn_s`` (a flip inside one stretch of
    speech) to a neighbouring run's speaker: the one on both sides if they agree, else
    the neighbour whose speaker the run's windows resemble more (``affinity[i, label]``,
    window-to-speaker similarity), else the longer neighbour. A run alone in its region
    keeps its label. Shortest runs go first; repeats until nothing changes."""
    out = list(labels)
    while True:
        runs = _runs(out)
        if len(runs) < 2:
            return out
        bounds = turn_bounds(runs, windows, region)
        spans = [b - a for a, b in bounds]
        candidates = [i for i in range(len(runs)) if spans[i] < min_turn_s - 1e-9]
        if not candidates:
            return out
        i = min(candidates, key=lambda j: spans[j])
        _, a, b = runs[i]
        neighbours = [runs[j] for j in (i - 1, i + 1) if 0 <= j < len(runs)]
        choices = {n[0] for n in neighbours}
        if len(choices) == 1:
            new = choices.pop()
        elif affinity is not None:
            new = max(choices, key=lambda c: float(affinity[a:b, c].mean()))
        else:
            new = max(neighbours, key=lambda n: n[2] - n[1])[0]
        out[a:b] = [new] * (b - a)


def _runs(labels: Sequence[int]) -> list[tuple[int, int, int]]:
    """(label, first index, end index) of each run of equal labels."""
    runs: list[tuple[int, int, int]] = []
    for i, lab in enumerate(labels):
        if runs and runs[-1][0] == lab:
            runs[-1] = (lab, runs[-1][1], i + 1)
        else:
            runs.append((lab, i, i + 1))
    return runs


def turn_bounds(
    runs: Sequence[tuple[int, int, int]], windows: Sequence[Window], region: tuple[float, float]
) -> list[tuple[float, float]]:
    """Start/end of each run inside ``region``: a change of speaker between two windows is
    placed halfway between their centres; the first run starts and the last one ends
    with the region."""
    cuts = [region[0]]
    for (_, _, end), (_, nxt, _) in itertools.pairwise(runs):
        cuts.append((windows[end - 1].center + windows[nxt].center) / 2)
    cuts.append(region[1])
    return [(max(cuts[i], region[0]), min(cuts[i + 1], region[1])) for i in range(len(runs))]


@dataclass(frozen=True, slots=True)
class Turn:
    start: float
    end: float
    speaker: int
    confidence: float


def region_turns(
    labels: Sequence[int],
    windows: Sequence[Window],
    region: tuple[float, float],
    similarity: Sequence[float],
) -> list[Turn]:
    """Turns in one region from its (smoothed) window labels; confidence is the mean
    similarity of the turn's windows to their speaker."""
    runs = _runs(labels)
    bounds = turn_bounds(runs, windows, region)
    return [
        Turn(a, b, lab, float(np.mean(similarity[i:j])))
        for (lab, i, j), (a, b) in zip(runs, bounds, strict=True)
    ]


def merge_turns(turns: Sequence[Turn], *, max_gap_s: float) -> list[Turn]:
    """Join consecutive turns of one speaker separated by less than ``max_gap_s`` of
    silence (confidence: duration-weighted mean)."""
    out: list[Turn] = []
    for t in sorted(turns, key=lambda t: t.start):
        if out and out[-1].speaker == t.speaker and t.start - out[-1].end <= max_gap_s:
            last = out[-1]
            a, b = last.end - last.start, t.end - t.start
            conf = (last.confidence * a + t.confidence * b) / max(a + b, 1e-9)
            out[-1] = Turn(last.start, max(last.end, t.end), t.speaker, conf)
        else:
            out.append(t)
    return out


def join_regions(
    regions: Sequence[tuple[float, float]], *, gap_s: float = 0.01
) -> list[tuple[float, float]]:
    """Union of overlapping or touching regions (one chunk's cut-off view of a segment and
    the next chunk's view of the same segment become one)."""
    out: list[list[float]] = []
    for a, b in sorted(regions):
        if out and a <= out[-1][1] + gap_s:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


# --- pitch: what tells apart two voices the embedding confuses ------------------------

_F0_FRAME = 640  # 40 ms at 16 kHz: two periods of a 50 Hz voice
_F0_HOP = 160  # 10 ms


def frame_f0(
    audio: NDArray[np.float32],
    rate: int = 16000,
    *,
    fmin: float = 60.0,
    fmax: float = 400.0,
    voicing: float = 0.6,
) -> NDArray[np.float64]:
    """Fundamental frequency (Hz) every 10 ms, NaN where unvoiced or quiet.

    Normalised autocorrelation of Hann-windowed 40 ms frames (corrected for the window's
    own autocorrelation), best lag in ``[rate/fmax, rate/fmin]``; a frame is voiced when
    that peak reaches ``voicing``. Crude next to pYIN, but vectorised numpy (≈1 ms per
    second of audio) and enough for a per-window median."""
    x = np.asarray(audio, dtype=np.float64)
    if x.size < _F0_FRAME:
        return np.full(0, np.nan)
    n = 1 + (x.size - _F0_FRAME) // _F0_HOP
    frames = x[np.arange(_F0_FRAME)[None, :] + _F0_HOP * np.arange(n)[:, None]]
    frames -= frames.mean(axis=1, keepdims=True)
    taper = np.hanning(_F0_FRAME)
    power = np.abs(np.fft.rfft(frames * taper, 2 * _F0_FRAME)) ** 2
    ac = np.fft.irfft(power)[:, :_F0_FRAME]
    energy = ac[:, 0]
    lo, hi = int(rate / fmax), int(rate / fmin)
    own = np.correlate(taper, taper, "full")[_F0_FRAME - 1 :][lo:hi] / np.sum(taper * taper)
    norm = ac[:, lo:hi] / np.maximum(energy[:, None], 1e-12) / np.maximum(own, 1e-3)
    best = np.argmax(norm, axis=1)
    peak = norm[np.arange(n), best]
    f0 = rate / (best + lo).astype(np.float64)
    quiet = energy < 1e-4 * max(float(energy.max()), 1e-12)
    f0[(peak < voicing) | quiet] = np.nan
    return np.asarray(f0, dtype=np.float64)


def window_pitch(
    f0: NDArray[np.float64], origin: float, windows: Sequence[tuple[float, float]]
) -> list[float | None]:
    """Median pitch in octaves (log2 Hz) of each window from ``frame_f0`` frames of audio
    starting at ``origin``; ``None`` with fewer than 5 voiced frames."""
    centres = origin + (np.arange(len(f0)) * _F0_HOP + _F0_FRAME / 2) / 16000
    out: list[float | None] = []
    for a, b in windows:
        vals = f0[(centres >= a) & (centres < b)]
        vals = vals[~np.isnan(vals)]
        out.append(round(float(np.median(np.log2(vals))), 4) if vals.size >= 5 else None)
    return out


def cluster_voices(
    embeddings: NDArray[np.float32],
    pitch: Sequence[float | None],
    *,
    threshold: float,
    pitch_weight: float,
    min_windows: int,
    refine_iters: int = 2,
    num_speakers: int | None = None,
    max_windows: int = 3000,
) -> NDArray[np.int64]:
    """Speaker label per window from voice embedding *and* pitch.

    Distance between two windows: ``(1 - cosine) + pitch_weight * |Δpitch in octaves|``
    (no pitch term where a window has no pitch: unknown is not evidence). Average-linkage clustering stops
    at ``threshold`` (or cuts at ``num_speakers``); clusters of fewer than ``min_windows``
    windows (stray windows at a speaker change, in overlapping speech) join the big
    cluster they are on average closest to, so they do not count as speakers; then every
    window moves to its closest cluster (by mean distance) ``refine_iters`` times, which
    undoes early merges of the greedy tree. Beyond ``max_windows`` a spread sample is
    clustered and the rest join the nearest cluster."""
    n = len(embeddings)
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    x = l2_normalize(np.asarray(embeddings, dtype=np.float32)).astype(np.float64)
    p = np.array([np.nan if v is None else v for v in pitch], dtype=np.float64)

    def dist(i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.float64]:
        apart = np.nan_to_num(np.abs(p[i][:, None] - p[j][None, :]), nan=0.0)
        d = 1.0 - x[i] @ x[j].T + pitch_weight * apart
        return np.asarray(np.maximum(d, 0.0), dtype=np.float64)

    sample = (
        np.linspace(0, n - 1, max_windows).astype(np.int64) if n > max_windows else np.arange(n)
    )
    d = dist(sample, sample)
    np.fill_diagonal(d, 0.0)
    tree = linkage(squareform(d, checks=False), method="average")
    if num_speakers:
        flat = fcluster(tree, t=num_speakers, criterion="maxclust")
    else:
        flat = fcluster(tree, t=threshold, criterion="distance")
    labels = _dense(flat)
    sizes = np.bincount(labels)
    keep = [c for c in range(len(sizes)) if sizes[c] >= min_windows or num_speakers]
    keep = keep or [int(np.argmax(sizes))]
    everyone = np.arange(n)
    full = dist(everyone, sample)
    for _ in range(1 + refine_iters):
        keep = [c for c in keep if np.any(labels == c)]
        mean = np.stack([full[:, labels == c].mean(axis=1) for c in keep], axis=1)
        labels_all = np.asarray(keep, dtype=np.int64)[np.argmin(mean, axis=1)]
        labels = labels_all[sample]
    return _dense(labels_all)
