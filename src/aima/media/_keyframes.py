"""Which decoded frames become keyframes: shot changes, sampling, near-duplicate skipping.

Every decoded frame is reduced to a 64x36 grey thumbnail (an area average of the luma
plane, so sensor/encoding noise averages out) and compared with the frame before it.
The difference score in [0, 1] is the mean of two views of the change:

- the mean absolute pixel difference beyond a noise floor of 2 grey levels, x3 and capped
  at 1 (spatial change: catches cuts between shots with similar colours);
- the total-variation distance of the two 16-bin (soft-binned) grey histograms (global
  change: robust to camera and object motion, which moves pixels without changing the
  histogram).

A hard cut scores ~0.45-1 on generated and natural footage, a fast pan ~0.2, a static or
slowly moving shot < 0.1. The same score against the last *kept* frame decides whether an
interval frame is a near-duplicate (``duplicate_threshold``, default 0.02).

Selection is deterministic per chunk: the first frame of every chunk is kept and the
sampling clock restarts there, so a chunk decoded after a seek (a resumed job) yields the
same keyframes as when it is reached by decoding sequentially.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

THUMB_W, THUMB_H = 64, 36
_HIST_BINS = 16
_MAD_GAIN = 3.0
_NOISE_FLOOR = np.uint8(2)  # grey levels
# Cuts closer together than this (within a chunk) are one cut: flashes and strobes
# would otherwise turn every frame into a "shot".
MIN_SHOT_S = 0.5
_EPS = 1e-6


@dataclass(frozen=True, slots=True, eq=False)
class Thumb:
    """A frame reduced to what the selector compares: tiny grey pixels and their histogram."""

    pixels: NDArray[np.uint8]
    hist: NDArray[np.float64]

    @classmethod
    def from_gray(cls, gray: NDArray[np.uint8]) -> Thumb:
        """From a grey image of any size (luma plane, possibly strided)."""
        h, w = gray.shape[:2]
        # Pre-decimate with a stride so INTER_AREA averages ~36 samples per cell instead of
        # reading every pixel of a 4K frame: same noise robustness at a fraction of the cost.
        step = max(1, min(h // (THUMB_H * 6), w // (THUMB_W * 6)))
        small = np.ascontiguousarray(gray[::step, ::step])
        pixels = cv2.resize(small, (THUMB_W, THUMB_H), interpolation=cv2.INTER_AREA)
        return cls.from_thumbnail(np.asarray(pixels, dtype=np.uint8))

    @classmethod
    def from_thumbnail(cls, pixels: NDArray[np.uint8]) -> Thumb:
        """From pixels already at thumbnail size."""
        # Soft binning (each value split between its two nearest bin centres): a flat area
        # whose noise straddles a bin edge does not flip between bins from frame to frame.
        pos = pixels.ravel().astype(np.float32) * (_HIST_BINS / 256.0) - 0.5
        low = np.floor(pos)
        upper = pos - low
        idx = low.astype(np.int64) + 1  # bins shifted by one: index 0 and BINS+1 are margins
        hist = np.bincount(idx, weights=1.0 - upper, minlength=_HIST_BINS + 2)
        hist += np.bincount(idx + 1, weights=upper, minlength=_HIST_BINS + 2)
        hist[1] += hist[0]
        hist[_HIST_BINS] += hist[_HIST_BINS + 1]
        return cls(pixels, np.asarray(hist[1 : _HIST_BINS + 1], dtype=np.float64))


def difference(a: Thumb, b: Thumb) -> float:
    """How different two frames look, 0 (identical) .. 1 (nothing in common)."""
    # Differences within the noise floor of a thumbnail pixel do not count.
    delta = np.maximum(cv2.absdiff(a.pixels, b.pixels), _NOISE_FLOOR) - _NOISE_FLOOR
    mad = float(delta.mean()) / 255.0
    tv = float(np.abs(a.hist - b.hist).sum()) / (2.0 * a.pixels.size)
    return 0.5 * (min(1.0, _MAD_GAIN * mad) + tv)


class KeyframeSelector:
    """Feed every decoded frame in order to :meth:`offer`; it says which ones to keep.

    Keeps (a) the first frame of each shot (difference to the previous frame above
    ``shot_threshold``), (b) a frame once ``max_interval_s`` passed since the last kept
    one unless it is a near-duplicate of it (difference below ``duplicate_threshold``),
    (c) the first frame of the media and of every chunk.
    """

    def __init__(
        self,
        *,
        max_interval_s: float,
        shot_threshold: float,
        duplicate_threshold: float,
        min_shot_s: float = MIN_SHOT_S,
    ) -> None:
        self.max_interval_s = max_interval_s
        self.shot_threshold = shot_threshold
        self.duplicate_threshold = duplicate_threshold
        self.min_shot_s = min_shot_s
        self.shot = 0
        self._fresh = True
        self._media_start = True
        self._prev: Thumb | None = None
        self._kept: Thumb | None = None
        self._kept_t = -np.inf
        self._cut_t = -np.inf
        self._chunk_first = True

    def restart(self, shot_base: int, *, media_start: bool) -> None:
        """Decoding jumped (a seek): forget the previous frame; shots continue from ``shot_base``.

        ``media_start``: the next frame offered is the first of the media.
        """
        self.shot = shot_base
        self._fresh = True
        self._media_start = media_start
        self._prev = None

    def prime(self, thumb: Thumb) -> None:
        """The frame just before the next one offered (decoded while seeking, not offered)."""
        self._prev = thumb

    def begin_chunk(self) -> None:
        """The next offered frame is the first of a chunk: it is kept, the clocks restart."""
        self._chunk_first = True
        self._cut_t = -np.inf

    def offer(self, t: float, thumb: Thumb) -> str | None:
        """``"shot"``/``"interval"`` when the frame at ``t`` is kept, else ``None``."""
        prev, self._prev = self._prev, thumb
        if prev is None:  # nothing to compare with: a shot starts only at the media's start
            cut = self._media_start
        else:
            cut = (
                difference(prev, thumb) > self.shot_threshold and t - self._cut_t >= self.min_shot_s
            )
        reason: str | None = None
        if cut:
            if not self._fresh:
                self.shot += 1
            self._cut_t = t
            reason = "shot"
        elif self._chunk_first or self._sample_due(t, thumb):
            reason = "interval"
        self._fresh = self._media_start = False
        if reason is not None:
            self._kept, self._kept_t = thumb, t
            self._chunk_first = False
        return reason

    def _sample_due(self, t: float, thumb: Thumb) -> bool:
        if t - self._kept_t < self.max_interval_s - _EPS:
            return False
        return self._kept is None or difference(self._kept, thumb) >= self.duplicate_threshold
