"""Thumbnails: a representative frame for images and videos, a waveform image for audio.

Video is checkpointed per time chunk (one candidate frame from the middle of
each chunk); the final thumbnail is the candidate with the most detail
(luminance standard deviation), which skips black or flat frames.

Audio: the waveform image has ``waveform_width`` pixel columns over the media's
duration, so each column covers ``duration / width`` seconds. Each chunk computes, for
every column its own samples fall in, the lowest and highest sample there (columns cut
by a chunk border are merged with min/max in ``finalize``); columns no sample falls in
(a clip shorter than one sample per column) are interpolated from their neighbours.
Version 1.0 kept a fixed number of peaks per chunk and drew one line per peak, which
left audio under ~4 minutes almost blank. Chunk result: ``{"first_column", "low",
"high" (lists, ``None`` for an empty column), "rms"}``; final result (unchanged
from 1.0): ``{"waveform" (PNG blob sha256), "width", "height", "rms" (loudest chunk)}``.
"""

from __future__ import annotations

import io
import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from PIL import __version__ as pillow_version
from pydantic import Field

from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.core.errors import AnalyzerError
from aima.media.types import MediaKind
from aima.results import AnalyzerResult, ThumbnailsResult


class ThumbnailsConfig(AnalyzerConfig):
    max_side: int = Field(default=320, ge=16, le=4096, description="longest side of a thumbnail")
    jpeg_quality: int = Field(default=85, ge=10, le=100, description="JPEG quality of thumbnails")
    waveform_width: int = Field(default=800, ge=64, le=8192, description="waveform image width")
    waveform_height: int = Field(default=120, ge=16, le=2048, description="waveform image height")


class Thumbnails(Analyzer):
    name = "thumbnails"
    Result: ClassVar[type[AnalyzerResult]] = ThumbnailsResult
    version = "1.1.0"
    modality = Modality.MEDIA
    Config: ClassVar[type[AnalyzerConfig]] = ThumbnailsConfig
    description = "representative frame (image/video) or waveform image (audio)"

    @property
    def cfg(self) -> ThumbnailsConfig:
        assert isinstance(self.config, ThumbnailsConfig)
        return self.config

    @property
    def model_id(self) -> str:
        return f"pillow-{pillow_version}+ffmpeg"

    def _analyze_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        if ctx.info.kind is MediaKind.AUDIO:
            return self._audio_chunk(ctx, data)
        # the chunk's keyframes are shared with every other analyzer: no decoding of our own
        best_detail, best = -1.0, None
        for frame in data.frames:
            detail = float(np.asarray(frame.image, dtype=np.float32).mean(axis=2).std())
            if detail > best_detail:
                best_detail, best = detail, frame
        if best is None:
            raise AnalyzerError(f"no frame could be decoded in chunk {data.chunk.index}")
        img = Image.fromarray(best.image)
        img.thumbnail((self.cfg.max_side, self.cfg.max_side))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=self.cfg.jpeg_quality)
        ref = ctx.blobs.put_bytes(buf.getvalue())
        return {
            "t": round(best.t, 3),
            "blob": ref.sha256,
            "width": img.width,
            "height": img.height,
            "detail": round(best_detail, 3),
        }

    def _audio_chunk(self, ctx: AnalysisContext, data: ChunkData) -> dict[str, Any]:
        """Lowest and highest sample of every waveform column this chunk's samples fall in."""
        audio = data.audio
        samples = np.asarray(audio.core(), dtype=np.float32)
        width = self.cfg.waveform_width
        duration = ctx.info.duration_s or audio.core_end_s  # probed, > 0 for audio
        if samples.size == 0:
            return {"first_column": 0, "low": [], "high": [], "rms": 0.0}
        times = audio.core_start_s + np.arange(samples.size, dtype=np.float64) / audio.rate
        columns = np.clip((times * (width / duration)).astype(np.int64), 0, width - 1)
        first = int(columns[0])
        # samples are in time order, so each column is one contiguous run
        starts = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]])
        low: list[float | None] = [None] * (int(columns[-1]) - first + 1)
        high: list[float | None] = list(low)
        for col, lo, hi in zip(
            columns[starts],
            np.minimum.reduceat(samples, starts),
            np.maximum.reduceat(samples, starts),
            strict=True,
        ):
            low[int(col) - first] = round(float(lo), 4)
            high[int(col) - first] = round(float(hi), 4)
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        return {"first_column": first, "low": low, "high": high, "rms": round(rms, 5)}

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        if ctx.info.kind is MediaKind.AUDIO:
            low, high, _ = merge_columns(chunks, self.cfg.waveform_width)
            ref = ctx.blobs.put_bytes(self._render_waveform(low, high))
            return {
                "waveform": ref.sha256,
                "width": self.cfg.waveform_width,
                "height": self.cfg.waveform_height,
                "rms": max((c["rms"] for c in chunks), default=0.0),
            }
        best = max(chunks, key=lambda c: c["detail"])
        return {
            "thumbnail": best["blob"],
            "t": best["t"],
            "width": best["width"],
            "height": best["height"],
            "candidates": [{"t": c["t"], "blob": c["blob"]} for c in chunks],
        }

    def _render_waveform(self, low: NDArray[np.float64], high: NDArray[np.float64]) -> bytes:
        """One vertical line per pixel column from its lowest to its highest sample."""
        w, h = self.cfg.waveform_width, self.cfg.waveform_height
        pixels = np.full((h, w, 3), 250, dtype=np.uint8)
        mid = (h - 1) / 2
        top = np.clip(np.floor(mid - np.clip(high, -1, 1) * mid), 0, h - 1).astype(int)
        bottom = np.clip(np.ceil(mid - np.clip(low, -1, 1) * mid), 0, h - 1).astype(int)
        rows = np.arange(h)[:, None]
        pixels[(rows >= top[None, :]) & (rows <= bottom[None, :])] = (40, 90, 160)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        return buf.getvalue()


def merge_columns(
    chunks: list[dict[str, Any]], width: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """Per-column (low, high) over all chunks, empty columns interpolated; and how many had samples."""
    low = np.full(width, math.inf)
    high = np.full(width, -math.inf)
    for c in chunks:
        first = int(c["first_column"])
        for i, (lo, hi) in enumerate(zip(c["low"], c["high"], strict=True)):
            if lo is not None and 0 <= first + i < width:
                low[first + i] = min(low[first + i], lo)
                high[first + i] = max(high[first + i], hi)
    filled = np.isfinite(low)
    count = int(filled.sum())
    if count == 0:
        return np.zeros(width), np.zeros(width), 0
    if count < width:  # fewer samples than columns: a line through the samples there are
        xs = np.flatnonzero(filled)
        every = np.arange(width)
        low = np.interp(every, xs, low[filled])
        high = np.interp(every, xs, high[filled])
    return low, high, count
