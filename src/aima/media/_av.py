"""PyAV plumbing for :mod:`aima.media.decoder`: safe opening, timing, decode errors, audio.

Untrusted input is opened the way :mod:`aima.media.ffmpeg` opens it for the CLI: a
``file:`` URL (never read as another protocol), the demuxer the sniffer chose (never
probed), ``protocol_whitelist=file`` (a container can't make libavformat open anything
but local files) and metadata decoded leniently.

Times are seconds from the container's start (``start_time``), the zero ffmpeg's ``-ss``
and ffprobe's duration use, so video and audio of one file share one clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Stream
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from aima.core.errors import MediaRejected
from aima.media.decode import DEMUXERS
from aima.media.ffmpeg import file_url
from aima.media.types import MediaInfo

log = logging.getLogger(__name__)

# Hardware decoders tried in this order when the loaded FFmpeg was built with them.
_HW_PREFERENCE = ("cuda", "vaapi", "videotoolbox", "d3d11va", "qsv")
# Consecutive packets the decoder may refuse (concealed, logged) before the stream is
# declared broken. ffmpeg itself skips such packets; a long run means garbage, not a glitch.
MAX_BAD_PACKETS = 25
# A stream may end this much before its declared end without being called truncated.
END_TOLERANCE_S = 0.5
_AUDIO_PREROLL_S = 1.0
_CONTAINER_OPTIONS = {"protocol_whitelist": "file"}
_DURATION_TAG = re.compile(r"^(\d+):(\d\d):(\d\d(?:\.\d+)?)$")


def _demuxer(info: MediaInfo) -> str:
    demuxer = DEMUXERS.get(info.format)
    if demuxer is None:
        raise MediaRejected(
            f"{info.format} is not an audio/video format AIMA decodes.",
            details={"format": info.format},
        )
    return demuxer


def open_input(path: Path, info: MediaInfo, *, hwaccel: bool = False) -> InputContainer:
    """Open ``path`` safely; with ``hwaccel`` try the platform's hardware video decoders first."""
    url, fmt = file_url(path), _demuxer(info)
    if hwaccel:
        for accel in _hw_candidates():
            try:
                container = av.open(
                    url,
                    format=fmt,
                    container_options=_CONTAINER_OPTIONS,
                    metadata_errors="replace",
                    hwaccel=accel,
                )
            except (av.FFmpegError, OSError, ValueError, RuntimeError) as exc:
                log.debug("hardware decoding unavailable, trying the next: %s", exc)
                continue
            log.debug("video decoder opened with hardware acceleration %r", accel)
            return container
        log.debug("no hardware video decoder usable here: decoding in software")
    try:
        return av.open(
            url, format=fmt, container_options=_CONTAINER_OPTIONS, metadata_errors="replace"
        )
    except av.FFmpegError as exc:
        raise MediaRejected(
            f"the {info.format} file could not be opened for decoding ({exc.strerror or exc}); "
            "it is damaged or was changed after upload.",
            details={"format": info.format},
        ) from exc


def _hw_candidates() -> list[Any]:
    try:  # PyAV >= 14
        from av.codec.hwaccel import HWAccel, hwdevices_available
    except ImportError:
        return []
    available = set(hwdevices_available())
    return [HWAccel(d, allow_software_fallback=True) for d in _HW_PREFERENCE if d in available]


class Clock:
    """Packet/frame timestamps of one stream as seconds from the container's start."""

    def __init__(self, container: InputContainer, stream: Stream) -> None:
        start = container.start_time
        # AV_NOPTS_VALUE (or a nonsense value) means "unknown": count from 0.
        self.origin = Fraction(start, 1_000_000) if start and abs(start) < 10**15 else Fraction(0)
        self.time_base = stream.time_base or Fraction(1, 1_000_000)

    def seconds(self, pts: int) -> float:
        return float(pts * self.time_base - self.origin)

    def pts(self, seconds: float) -> int:
        return int((Fraction(seconds) + self.origin) / self.time_base)


def stream_end(container: InputContainer, stream: Stream, clock: Clock, fallback: float) -> float:
    """Where ``stream`` says it ends (seconds from the container start)."""
    if stream.duration and stream.time_base:
        start = stream.start_time or 0
        return clock.seconds(start + stream.duration)
    match = _DURATION_TAG.match(str(stream.metadata.get("DURATION", "")).strip())
    if match:  # Matroska keeps per-track durations as a tag
        h, m, s = match.groups()
        return int(h) * 3600 + int(m) * 60 + float(s)
    return fallback


def seek(
    container: InputContainer, offset: int, stream: Stream | None, kind: str, at_s: float
) -> None:
    """Seek backwards to a keyframe at or before ``offset`` (``stream``'s time base, or µs)."""
    try:
        container.seek(offset, stream=stream, backward=True)
    except av.FFmpegError as exc:
        raise MediaRejected(
            f"the {kind} stream could not be positioned at {at_s:.2f} s "
            f"({exc.strerror or exc}); the file's index is damaged.",
            details={"stream": kind, "failed_at_s": round(at_s, 3)},
        ) from exc


def truncated(kind: str, stopped_s: float, declared_s: float) -> MediaRejected:
    return MediaRejected(
        f"the {kind} stream ends at {stopped_s:.2f} s although the file declares "
        f"{declared_s:.2f} s: it is truncated or damaged from {stopped_s:.2f} s on. "
        "What came before was analysed; upload the complete file to analyse the rest.",
        details={"stream": kind, "failed_at_s": round(stopped_s, 3), "declared_s": declared_s},
    )


def _decoded(container: InputContainer, stream: Stream, clock: Clock, kind: str) -> Iterator[Any]:
    bad, at = 0, 0.0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as exc:
            raise MediaRejected(
                f"the {kind} stream could not be read after {at:.2f} s "
                f"({exc.strerror or exc}); the file is damaged from there on.",
                details={"stream": kind, "failed_at_s": round(at, 3)},
            ) from exc
        if packet.pts is not None:
            at = clock.seconds(packet.pts)
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            bad += 1
            log.warning("undecodable %s packet at %.3f s skipped: %s", kind, at, exc)
            if bad >= MAX_BAD_PACKETS:
                raise MediaRejected(
                    f"the {kind} stream is corrupt at {at:.2f} s ({bad} packets in a row "
                    f"could not be decoded: {exc.strerror or exc}).",
                    details={"stream": kind, "failed_at_s": round(at, 3)},
                ) from exc
            continue
        bad = 0
        yield from frames


def video_frames(
    container: InputContainer, stream: VideoStream, clock: Clock
) -> Iterator[VideoFrame]:
    """Every frame of ``stream`` from the demuxer's position; corrupt data -> MediaRejected."""
    return _decoded(container, stream, clock, "video")


def audio_frames(
    container: InputContainer, stream: AudioStream, clock: Clock
) -> Iterator[AudioFrame]:
    return _decoded(container, stream, clock, "audio")


class AudioReader:
    """Mono float32 PCM at ``rate`` for time windows requested mostly in increasing order.

    Decoding continues from where the last window ended; the tail of what was decoded
    (``keep_s``) is kept so that the next, overlapping window needs no seek.
    """

    def __init__(self, path: Path, info: MediaInfo, rate: int, keep_s: float) -> None:
        self.path, self.info, self.rate = path, info, rate
        self._keep = round(keep_s * rate) + rate
        self._container: InputContainer | None = None
        self._stream: AudioStream | None = None
        self._clock: Clock | None = None
        self._frames: Iterator[AudioFrame] | None = None
        self._resampler: av.AudioResampler | None = None
        self._parts: list[NDArray[np.float32]] = []
        self._start = 0  # sample index (at ``rate``) of the first buffered sample
        self._end = 0  # one past the last buffered sample
        self._eof = False
        self._positioned = False
        self._declared_end = 0.0

    def read(self, lo_s: float, hi_s: float) -> NDArray[np.float32]:
        lo, hi = round(lo_s * self.rate), round(hi_s * self.rate)
        if hi <= lo:
            return np.zeros(0, dtype=np.float32)
        if self._frames is None or not self._start <= lo <= self._end:
            self._seek(lo_s)
        while self._end < hi and not self._eof:
            self._pull()
        if self._end < hi:
            stopped = self._end / self.rate
            if stopped < min(hi_s, self._declared_end) - END_TOLERANCE_S:
                raise truncated("audio", stopped, self._declared_end)
        buf = np.concatenate(self._parts) if len(self._parts) > 1 else self._buffer()
        self._parts = [buf]
        out = np.zeros(hi - lo, dtype=np.float32)  # silence where the stream has no samples
        a, b = max(lo, self._start), min(hi, self._end)
        if b > a:
            out[a - lo : b - lo] = buf[a - self._start : b - self._start]
        cut = max(0, min(hi - self._keep, self._end) - self._start)
        if cut:
            self._parts, self._start = [buf[cut:]], self._start + cut
        return out

    def _buffer(self) -> NDArray[np.float32]:
        return self._parts[0] if self._parts else np.zeros(0, dtype=np.float32)

    def _open(self) -> tuple[InputContainer, AudioStream, Clock]:
        if self._container is None:
            container = open_input(self.path, self.info)
            if not container.streams.audio:
                container.close()
                raise MediaRejected(
                    f"this {self.info.format} file has no audio stream.",
                    details={"format": self.info.format},
                )
            stream = container.streams.audio[0]
            self._container, self._stream = container, stream
            self._clock = Clock(container, stream)
            self._declared_end = stream_end(
                container, stream, self._clock, self.info.duration_s or 0.0
            )
        assert self._stream is not None and self._clock is not None
        return self._container, self._stream, self._clock

    def _seek(self, lo_s: float) -> None:
        container, stream, clock = self._open()
        if self._frames is not None or lo_s > 0:
            # Seek the container (its default stream has the index), a little early: what
            # comes before ``lo_s`` is dropped, what is missing could not be made up.
            target = max(0.0, lo_s - _AUDIO_PREROLL_S) + float(clock.origin)
            seek(container, int(target * 1_000_000), None, "audio", lo_s)
        self._frames = audio_frames(container, stream, clock)
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        self._parts, self._start, self._end, self._eof = [], 0, 0, False
        self._positioned = False

    def _pull(self) -> None:
        assert self._frames is not None and self._resampler is not None
        frame = next(self._frames, None)
        if frame is None:
            self._eof = True
        for out in self._resampler.resample(frame):
            self._place(out)

    def _place(self, frame: AudioFrame) -> None:
        samples = np.asarray(frame.to_ndarray(), dtype=np.float32).reshape(-1)
        if not np.isfinite(samples).all():
            samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
        np.clip(samples, -1.0, 1.0, out=samples)
        pos = self._end
        if frame.pts is not None and frame.time_base is not None:
            assert self._clock is not None
            pos = round(float(frame.pts * frame.time_base - self._clock.origin) * self.rate)
        if not self._positioned:
            self._start = self._end = pos
            self._positioned = True
        gap = pos - self._end
        if gap > self.rate // 50:  # a hole in the stream (> 20 ms): keep the timeline, add silence
            self._parts.append(np.zeros(gap, dtype=np.float32))
            self._end += gap
        elif gap < -(self.rate // 50):  # timestamps went back: drop what we already have
            samples = samples[min(len(samples), -gap) :]
        self._parts.append(samples)
        self._end += len(samples)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = None
        self._stream = None
        self._frames = None
        self._resampler = None
