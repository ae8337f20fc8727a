"""Decode a media once per checkpoint chunk, for every analyzer of a job.

``ChunkDecoder`` is what the pipeline holds open while it works through a
media: ``frames(start, end)`` gives the chunk's keyframes (exact timestamps,
RGB, scaled to ``max_side``), ``audio(start, end)`` the chunk's 16 kHz mono
PCM with ``audio_overlap_s`` of context on both sides.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aima.core.settings import DecodeSettings
from aima.media.decode import decode_audio, extract_frame
from aima.media.types import AudioSpan, Frame, MediaInfo, MediaKind


class ChunkDecoder:
    def __init__(self, path: Path, info: MediaInfo, settings: DecodeSettings) -> None:
        self.path = path
        self.info = info
        self.settings = settings

    def frames(self, start_s: float | None, end_s: float | None) -> list[Frame]:
        if self.info.kind is MediaKind.AUDIO:
            return []
        if self.info.kind is MediaKind.IMAGE:
            img = extract_frame(self.path, self.info, 0.0, self.settings.max_side)
            return [Frame(0.0, np.asarray(img), 0, "image")]
        start = start_s or 0.0
        end = end_s if end_s is not None else (self.info.duration_s or 0.0)
        step = self.settings.max_interval_s
        count = max(1, math.ceil((end - start) / step - 1e-9))
        out: list[Frame] = []
        for i in range(count):
            t = min(end, start + i * step)
            img = extract_frame(self.path, self.info, t, self.settings.max_side)
            out.append(Frame(round(t, 3), np.asarray(img), 0, "interval"))
        return out

    def audio(self, start_s: float | None, end_s: float | None) -> AudioSpan:
        duration = self.info.duration_s or 0.0
        core_start = start_s or 0.0
        core_end = end_s if end_s is not None else duration
        lo = max(0.0, core_start - self.settings.audio_overlap_s)
        hi = min(duration, core_end + self.settings.audio_overlap_s)
        samples = decode_audio(self.path, self.info, lo, hi, self.settings.audio_rate)
        return AudioSpan(lo, samples, self.settings.audio_rate, core_start, core_end)

    def close(self) -> None:
        """Release decoder resources (nothing held open in this implementation)."""
