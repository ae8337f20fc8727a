"""Decode a media once per checkpoint chunk, for every analyzer of a job.

``ChunkDecoder`` is what the pipeline holds open while it works through a media:
``frames(start, end)`` gives the chunk's keyframes (exact timestamps, RGB, scaled to
``max_side``), ``audio(start, end)`` the chunk's 16 kHz mono PCM with
``audio_overlap_s`` of context on both sides.

Video is decoded with PyAV in one pass (hardware decoding first when
``decode.hwaccel="auto"`` and the platform has it): a chunk that starts where the
previous one ended continues from the decoder's position; any other start seeks (back to
a keyframe a little before it) and drops the frames before it. Every decoded frame is
reduced to a tiny grey thumbnail for shot detection (:mod:`aima.media._keyframes`); only
the frames kept are converted to RGB (turned upright when the stream has a rotation).
``Frame.t`` is the frame's presentation time in seconds from the container's start,
rounded to 3 decimals. A frame belongs to a chunk when ``start <= t < end``; the last
chunk also takes frames at or past its end. The frames kept in a chunk do not depend on
how it was reached (sequentially or by a seek).

Shot indices count up from 0 while decoding runs on; after a seek to ``start`` they
continue from ``round(start * 1000)``, which is above any index an earlier decode of the
part before ``start`` can have produced (up to 1000 fps), so a resumed job never reuses
a shot index.

Audio is decoded independently (its own container), sequentially across chunks: the
overlapping tail of one chunk's span is kept for the next.

Damage found while decoding raises :class:`MediaRejected` naming the time where it
starts (for the chunk that needs it, and every later one): a stream that ends before its
declared duration (a truncated upload), unreadable container data, or a long run of
undecodable packets. Isolated bad packets are skipped and logged, as ffmpeg does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from av.video.frame import VideoFrame
from numpy.typing import NDArray

from aima.core.errors import MediaRejected
from aima.core.settings import DecodeSettings
from aima.media._av import (
    END_TOLERANCE_S,
    AudioReader,
    Clock,
    open_input,
    seek,
    stream_end,
    truncated,
    video_frames,
)
from aima.media._keyframes import THUMB_H, THUMB_W, KeyframeSelector, Thumb
from aima.media.decode import extract_frame
from aima.media.types import AudioSpan, Frame, MediaInfo, MediaKind

log = logging.getLogger(__name__)

# Pixel formats whose first plane is 8-bit luma: thumbnails are read from it directly.
_LUMA_FORMATS = frozenset(
    {
        "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p",
        "yuvj440p", "yuv411p", "yuv410p", "yuva420p", "yuva444p", "nv12", "nv21", "nv16",
        "gray",
    }
)  # fmt: skip
_SEEK_PREROLL_S = 0.5  # seek this far before a chunk: its first frame gets a predecessor
_EPS = 1e-6


class ChunkDecoder:
    def __init__(self, path: Path, info: MediaInfo, settings: DecodeSettings) -> None:
        self.path = path
        self.info = info
        self.settings = settings
        self._video: _VideoCursor | None = None
        self._audio: AudioReader | None = None
        # video and audio have their own containers: they may be decoded concurrently
        self._video_lock = threading.Lock()
        self._audio_lock = threading.Lock()

    def frames(self, start_s: float | None, end_s: float | None) -> list[Frame]:
        """Keyframes with ``start_s <= t < end_s`` (``None``: from the start / to the end)."""
        if self.info.kind is MediaKind.AUDIO:
            return []
        if self.info.kind is MediaKind.IMAGE:
            img = extract_frame(self.path, self.info, 0.0, self.settings.max_side)
            return [Frame(0.0, np.asarray(img), 0, "image")]
        with self._video_lock:
            if self._video is None:
                self._video = _VideoCursor(self.path, self.info, self.settings)
            return self._video.chunk(start_s or 0.0, end_s)

    def audio(self, start_s: float | None, end_s: float | None) -> AudioSpan:
        """Samples from ``start_s - overlap`` to ``end_s + overlap``, clipped to the media."""
        if self.info.kind is MediaKind.IMAGE or self.info.audio_codec is None:
            raise MediaRejected(
                f"no audio stream: this {self.info.format} file has no sound to analyse.",
                details={"format": self.info.format},
            )
        rate, overlap = self.settings.audio_rate, self.settings.audio_overlap_s
        duration = self.info.duration_s or 0.0
        core_start = start_s or 0.0
        core_end = end_s if end_s is not None else duration
        lo = max(0.0, core_start - overlap)
        hi = min(duration, core_end + overlap)
        with self._audio_lock:
            if self._audio is None:
                self._audio = AudioReader(self.path, self.info, rate, keep_s=2 * overlap)
            samples = self._audio.read(lo, hi)
        return AudioSpan(lo, samples, rate, core_start, core_end)

    def close(self) -> None:
        """Release the open containers (safe to call twice)."""
        with self._video_lock:
            if self._video is not None:
                self._video.close()
                self._video = None
        with self._audio_lock:
            if self._audio is not None:
                self._audio.close()
                self._audio = None


class _VideoCursor:
    """The open video stream, its position, and the keyframe selector's state."""

    def __init__(self, path: Path, info: MediaInfo, settings: DecodeSettings) -> None:
        self.info = info
        self.max_side = settings.max_side
        self.container = open_input(path, info, hwaccel=settings.hwaccel == "auto")
        if not self.container.streams.video:
            self.container.close()
            raise MediaRejected(
                f"this {info.format} file has no video stream.", details={"format": info.format}
            )
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.clock = Clock(self.container, self.stream)
        self.duration = info.duration_s or 0.0
        self.declared_end = stream_end(self.container, self.stream, self.clock, self.duration)
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.frame_s = float(1 / rate) if rate else 1 / 25
        # Resolution may change mid-stream, but not to something far beyond what was probed.
        probed = (info.width or 0) * (info.height or 0)
        self.max_pixels = max(4 * probed, 1920 * 1080)
        self.selector = KeyframeSelector(
            max_interval_s=settings.max_interval_s,
            shot_threshold=settings.shot_threshold,
            duplicate_threshold=settings.duplicate_threshold,
        )
        self._frames: Iterator[VideoFrame] | None = None
        self._pending: tuple[VideoFrame, float] | None = None
        self._next_start: float | None = None
        self._last_t: float | None = None

    def chunk(self, start: float, end: float | None) -> list[Frame]:
        last = end is None or end >= self.duration - _EPS
        if self._frames is None or self._next_start is None or abs(start - self._next_start) > _EPS:
            self._seek(start)
        self._next_start = None  # until this chunk is complete
        self.selector.begin_chunk()
        out: list[Frame] = []
        before: VideoFrame | None = None
        decoded = 0
        try:
            for frame, t in self._decode():
                if t < start:  # decoded on the way from the seek point
                    before = frame
                    continue
                if end is not None and not last and t >= end:
                    self._pending = (frame, t)
                    break
                decoded += 1
                if before is not None:
                    self.selector.prime(self._thumb(before))
                    before = None
                reason = self.selector.offer(t, self._thumb(frame))
                if reason is not None:
                    out.append(Frame(t, self._rgb(frame), self.selector.shot, reason))
            else:
                self._check_end(None if last else end)
        except MediaRejected:
            self._frames = None  # the position is unknown now: the next chunk seeks
            raise
        self._next_start = end
        log.debug(
            "video chunk %.3f-%s s: %d frames decoded, %d kept",
            start,
            "end" if end is None else f"{end:.3f}",
            decoded,
            len(out),
        )
        return out

    def _seek(self, start: float) -> None:
        self._pending = None
        if start > 0 or self._frames is not None:
            target = self.clock.pts(max(0.0, start - _SEEK_PREROLL_S))
            seek(self.container, target, self.stream, "video", start)
        self._frames = video_frames(self.container, self.stream, self.clock)
        self.selector.restart(round(start * 1000), media_start=start <= 0)

    def _decode(self) -> Iterator[tuple[VideoFrame, float]]:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            yield pending
        assert self._frames is not None
        for frame in self._frames:  # not `yield from`: breaking out must not close it
            if frame.pts is not None:
                t = round(self.clock.seconds(frame.pts), 3)
            else:
                t = round((self._last_t or 0.0) + self.frame_s, 3)
            self._last_t = t
            if frame.width * frame.height > self.max_pixels:
                raise MediaRejected(
                    f"the video has a {frame.width}x{frame.height} frame at {t:.2f} s, far "
                    f"larger than the {self.info.width}x{self.info.height} it was probed with.",
                    details={"failed_at_s": t, "width": frame.width, "height": frame.height},
                )
            yield frame, t

    def _check_end(self, end: float | None) -> None:
        """At the end of the stream: was everything up to ``end`` (or the declared end) there?"""
        stopped = self._last_t + self.frame_s if self._last_t is not None else 0.0
        wanted = self.declared_end if end is None else min(end, self.declared_end)
        if stopped < wanted - END_TOLERANCE_S:
            raise truncated("video", stopped, self.declared_end)

    def _thumb(self, frame: VideoFrame) -> Thumb:
        if frame.format.name in _LUMA_FORMATS:
            plane = frame.planes[0]
            h, w, stride = frame.height, frame.width, plane.line_size
            luma = np.frombuffer(memoryview(plane), dtype=np.uint8)[: h * stride].reshape(
                h, stride
            )[:, :w]
            return Thumb.from_gray(luma)
        small = frame.to_ndarray(format="gray", width=THUMB_W, height=THUMB_H)
        return Thumb.from_thumbnail(np.asarray(small, dtype=np.uint8))

    def _rgb(self, frame: VideoFrame) -> NDArray[np.uint8]:
        w, h = frame.width, frame.height
        scale = min(1.0, self.max_side / max(w, h))
        if scale < 1.0:
            tw, th = max(1, round(w * scale)), max(1, round(h * scale))
            img = frame.to_ndarray(format="rgb24", width=tw, height=th, interpolation="AREA")
        else:
            img = frame.to_ndarray(format="rgb24")
        turns = round(getattr(frame, "rotation", 0) / 90) % 4  # display matrix (phone video)
        if turns:
            img = np.rot90(img, turns)
        return np.ascontiguousarray(img, dtype=np.uint8)

    def close(self) -> None:
        self._frames = None
        self._pending = None
        self.container.close()
