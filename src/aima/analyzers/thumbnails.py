"""Thumbnails: a representative frame for images and videos, a waveform image for audio.

Video is checkpointed per time chunk (one candidate frame from the middle of
each chunk); the final thumbnail is the candidate with the most detail
(luminance standard deviation), which skips black or flat frames.
"""

from __future__ import annotations

import io
import itertools
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw
from PIL import __version__ as pillow_version
from pydantic import Field

from aima.analyzers.base import AnalysisContext, Analyzer, AnalyzerConfig, ChunkData, Modality
from aima.core.errors import AnalyzerError
from aima.media.types import MediaKind


class ThumbnailsConfig(AnalyzerConfig):
    max_side: int = Field(default=320, ge=16, le=4096, description="longest side of a thumbnail")
    jpeg_quality: int = Field(default=85, ge=10, le=100, description="JPEG quality of thumbnails")
    waveform_width: int = Field(default=800, ge=64, le=8192, description="waveform image width")
    waveform_height: int = Field(default=120, ge=16, le=2048, description="waveform image height")
    peaks_per_chunk: int = Field(
        default=200, ge=8, le=10_000, description="amplitude peaks kept per audio chunk"
    )


class Thumbnails(Analyzer):
    name = "thumbnails"
    version = "1.0.0"
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
            return self._audio_chunk(data)
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

    def _audio_chunk(self, data: ChunkData) -> dict[str, Any]:
        samples = data.audio.core()
        bins = self.cfg.peaks_per_chunk
        if samples.size == 0:
            return {"peaks": [0.0] * bins, "rms": 0.0}
        edges = np.linspace(0, samples.size, bins + 1).astype(int)
        peaks = [
            float(np.abs(samples[a:b]).max()) if b > a else 0.0
            for a, b in itertools.pairwise(edges)
        ]
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        return {"peaks": [round(p, 4) for p in peaks], "rms": round(rms, 5)}

    def finalize(self, ctx: AnalysisContext, chunks: list[dict[str, Any]]) -> dict[str, Any]:
        if ctx.info.kind is MediaKind.AUDIO:
            peaks = [p for c in chunks for p in c["peaks"]]
            png = self._render_waveform(peaks)
            ref = ctx.blobs.put_bytes(png)
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

    def _render_waveform(self, peaks: list[float]) -> bytes:
        w, h = self.cfg.waveform_width, self.cfg.waveform_height
        img = Image.new("RGB", (w, h), (250, 250, 250))
        draw = ImageDraw.Draw(img)
        if peaks:
            values = np.asarray(peaks, dtype=np.float32)
            columns = np.array_split(values, w) if values.size >= w else [values]
            step = w / len(columns)
            mid = h / 2
            for i, col in enumerate(columns):
                amp = float(col.max()) if col.size else 0.0
                x = int(i * step)
                draw.line([(x, mid - amp * mid), (x, mid + amp * mid)], fill=(40, 90, 160))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()
