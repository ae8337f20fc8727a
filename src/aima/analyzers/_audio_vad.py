"""Voice activity: Silero's streaming loop over ONNX Runtime, hysteresis, cross-chunk merging.

Pure functions on numpy arrays (no analyzer state), so the decision logic is tested
on hand-made probability sequences.

Silero VAD v5/v6 ONNX contract (``silero_vad/data/silero_vad.onnx``, inspected with
onnxruntime): inputs ``input`` float32 ``[batch, 64 + 512]`` (the previous window's
last 64 samples as context, then 512 new samples at 16 kHz), ``state`` float32
``[2, batch, 128]`` (zeros at the start of a stream), ``sr`` int64 scalar; outputs
``output`` ``[batch, 1]`` (speech probability of the 512 new samples) and ``stateN``
(the next state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from aima.inference.sessions import InferenceSession

WINDOW = 512  # samples per Silero step at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous step prepended to each input
RATE = 16000
WINDOW_S = WINDOW / RATE


def silero_probs(session: InferenceSession, samples: NDArray[np.float32]) -> NDArray[np.float32]:
    """Speech probability of each 512-sample window of 16 kHz ``samples`` (last one zero-padded)."""
    n = -(-samples.size // WINDOW)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.zeros(n * WINDOW + CONTEXT, dtype=np.float32)
    padded[CONTEXT:][: samples.size] = samples
    state = np.zeros((2, 1, 128), dtype=np.float32)
    sr = np.array(RATE, dtype=np.int64)
    probs = np.empty(n, dtype=np.float32)
    for i in range(n):
        # window i plus the 64 samples before it (zeros before the stream starts)
        frame = padded[i * WINDOW : (i + 1) * WINDOW + CONTEXT][None, :]
        out, state = session.run(None, {"input": frame, "state": state, "sr": sr})
        probs[i] = float(np.asarray(out).reshape(-1)[0])
    return probs


@dataclass(frozen=True, slots=True)
class Speech:
    """One detected speech segment, seconds from the start of the analysed audio.

    ``start``/``end`` include the padding; ``speech_start``/``speech_end`` are the raw
    decision points.
    """

    start: float
    end: float
    speech_start: float
    speech_end: float
    confidence: float


def hysteresis(
    probs: NDArray[np.float32],
    *,
    total_s: float,
    threshold: float = 0.5,
    neg_threshold: float = 0.35,
    min_speech_s: float = 0.25,
    min_silence_s: float = 0.3,
    speech_pad_s: float = 0.1,
    window_s: float = WINDOW_S,
) -> list[Speech]:
    """Speech segments from per-window probabilities (Silero's rule, without max duration).

    Speech starts at the first window with ``p >= threshold``; it ends at the first
    window with ``p < neg_threshold`` once probabilities stay below ``threshold`` for
    ``min_silence_s`` (values between the two thresholds neither start nor end speech).
    Segments shorter than ``min_speech_s`` are dropped; the rest are padded by
    ``speech_pad_s`` on both sides (clipped to the audio, and to half the gap between
    neighbours so padded segments never overlap). ``confidence`` is the mean
    probability of the segment's windows.
    """
    raw: list[tuple[int, int]] = []  # first window, end window (exclusive)
    start: int | None = None
    silence_from: int | None = None
    min_silence = min_silence_s / window_s  # in windows
    for i, p in enumerate(probs):
        if start is None:
            if p >= threshold:
                start, silence_from = i, None
            continue
        if p >= threshold:
            silence_from = None
        elif p < neg_threshold:
            if silence_from is None:
                silence_from = i
            if i + 1 - silence_from >= min_silence - 1e-9:  # windows of pause so far
                raw.append((start, silence_from))
                start, silence_from = None, None
    if start is not None:  # the audio ended during speech (or a pause not yet long enough)
        raw.append((start, len(probs) if silence_from is None else silence_from))

    out: list[Speech] = []
    for a, b in raw:
        if (b - a) * window_s < min_speech_s:
            continue
        s0, s1 = a * window_s, min(b * window_s, total_s)
        lo, hi = max(0.0, s0 - speech_pad_s), min(total_s, s1 + speech_pad_s)
        if out and lo < out[-1].end:  # padding would overlap the previous one: split the pause
            mid = (out[-1].speech_end + s0) / 2
            prev = out[-1]
            out[-1] = Speech(prev.start, mid, prev.speech_start, prev.speech_end, prev.confidence)
            lo = mid
        conf = float(np.mean(probs[a:b])) if b > a else 0.0
        out.append(Speech(lo, hi, s0, s1, conf))
    return out


def grid_offset(span_start_s: float) -> int:
    """Samples to skip so that windows fall on the media-wide 512-sample grid.

    Every chunk then scores the same windows of a shared stretch of audio, so two
    chunks that both see a pause measure it alike.
    """
    first = int(np.ceil(span_start_s * RATE / WINDOW - 1e-6))
    return max(0, round(first * WINDOW - span_start_s * RATE))


def chunk_segments(
    found: list[Speech], *, offset_s: float, core_start: float, core_end: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split one chunk's segments (times relative to ``offset_s``) into what it reports.

    ``segments``: those whose (padded) start falls in the chunk; they are reported
    whole, also where they run past the chunk's end. ``carried_in``: those that started
    before the chunk and run into it, as far as this chunk's audio shows them. The
    previous chunk owns them but its audio ends ``overlap`` seconds into this chunk,
    so it may have cut them there, or judged a pause near its edge differently:
    ``finalize`` takes the union, and the speech analyzers use both lists, keeping
    what *starts* inside the chunk (words, embedding windows).
    """
    owned: list[dict[str, Any]] = []
    carried: list[dict[str, Any]] = []
    for seg in found:
        start, end = offset_s + seg.start, offset_s + seg.end
        piece = {
            "start": round(start, 3),
            "end": round(end, 3),
            "confidence": round(seg.confidence, 3),
        }
        if core_start <= start < core_end:
            owned.append(piece)
        elif start < core_start < end:
            carried.append(piece)
    return owned, carried


def merge_segments(segments: list[dict[str, Any]], *, join_gap_s: float) -> list[dict[str, Any]]:
    """The union of all chunks' views, in time order.

    Overlapping pieces and pieces less than ``join_gap_s`` apart (one pause seen a
    little differently by two chunks) become one segment; confidence is the
    duration-weighted mean.
    """
    ordered = sorted(segments, key=lambda s: (s["start"], s["end"]))
    merged: list[dict[str, float]] = []
    for seg in ordered:
        start, end, conf = float(seg["start"]), float(seg["end"]), float(seg["confidence"])
        if merged and start - merged[-1]["end"] < join_gap_s:
            last = merged[-1]
            if end > last["end"]:
                a, b = last["end"] - last["start"], end - last["end"]
                last["confidence"] = (last["confidence"] * a + conf * b) / max(a + b, 1e-9)
                last["end"] = end
            continue
        merged.append({"start": start, "end": end, "confidence": conf})
    return [{k: round(v, 3) for k, v in s.items()} for s in merged]
