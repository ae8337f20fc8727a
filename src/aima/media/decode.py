"""Decode already-inspected media: one frame as a Pillow image, or mono float audio.

Used by the ``thumbnails`` analyzer and by every later analyzer that needs pixels or
samples. Inputs are still opened through :mod:`aima.media.ffmpeg` (protocol whitelist,
forced demuxer), because a stored blob is still a file that came from outside.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from aima.core.errors import MediaRejected
from aima.media.ffmpeg import ffmpeg_command, run_tool
from aima.media.images import load_image, open_image, to_rgb
from aima.media.types import MediaInfo, MediaKind

# AIMA format name -> the ffmpeg demuxer forced for it (mirrors aima.media.sniff).
DEMUXERS = {
    "mp4": "mov",
    "mov": "mov",
    "m4a": "mov",
    "mkv": "matroska",
    "webm": "matroska",
    "avi": "avi",
    "wav": "wav",
    "mp3": "mp3",
    "flac": "flac",
    "ogg": "ogg",
    "opus": "ogg",
}
DEFAULT_TIMEOUT_S = 60.0
_LAST_FRAME_MARGIN_S = 0.05


def extract_frame(
    path: Path,
    info: MediaInfo,
    t_s: float,
    max_side: int,
    *,
    display_name: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Image.Image:
    """The frame shown at ``t_s`` seconds, upright, RGB, its longest side at most ``max_side``.

    For an image ``t_s`` is ignored (EXIF orientation is applied). A time past the end
    gives the last frame. Audio has no frames: :class:`MediaRejected`.
    """
    name = display_name or path.name
    if max_side < 1:
        raise ValueError("max_side must be >= 1")
    if info.kind is MediaKind.IMAGE:
        return _image_frame(path, info, max_side, name)
    if info.kind is not MediaKind.VIDEO:
        raise MediaRejected(
            f"{name}: this is {info.kind.value} ({info.format}); it has no picture to extract.",
            details={"file": name, "kind": info.kind.value},
        )
    duration = info.duration_s or 0.0
    t = min(max(0.0, t_s), max(0.0, duration - _LAST_FRAME_MARGIN_S))
    frame = _video_frame(path, info, t, max_side, name, timeout_s)
    if frame is None and t > 0:
        # The last frames may end before the container's duration: step back once.
        frame = _video_frame(path, info, max(0.0, t - 1.0), max_side, name, timeout_s)
    if frame is None:
        raise MediaRejected(
            f"{name}: no video frame could be decoded at {t:.2f} s; the file may be damaged.",
            details={"file": name, "t_s": t},
        )
    return frame


def _image_frame(path: Path, info: MediaInfo, max_side: int, name: str) -> Image.Image:
    pixels = (info.width or 1) * (info.height or 1)
    label = info.format.upper()
    with open_image(path, info.format, max_pixels=max(pixels, 1), display_name=name) as img:
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))  # let libjpeg scale down while decoding
        load_image(img, label=label, display_name=name)
        rgb = to_rgb(img)
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return rgb.copy() if rgb is img else rgb


def _video_frame(
    path: Path, info: MediaInfo, t: float, max_side: int, name: str, timeout_s: float
) -> Image.Image | None:
    # ffmpeg rotates phone video upright before the filter, so iw/ih are the display size.
    scale = (
        f"scale=w='if(gte(iw,ih),min(iw,{max_side}),-1)':h='if(gte(iw,ih),-1,min(ih,{max_side}))'"
    )
    cmd = ffmpeg_command(
        path,
        _demuxer(info, name),
        [
            "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "1",
            "-vf", f"{scale}:flags=bicubic,format=rgb24",
            "-c:v", "ppm", "-f", "image2pipe", "pipe:1",
        ],
        seek_s=t,
    )  # fmt: skip
    proc = run_tool(
        cmd,
        timeout_s=timeout_s,
        path=path,
        display_name=name,
        what=f"extracting a frame at {t:.2f} s",
    )
    if not proc.stdout:
        return None
    with Image.open(io.BytesIO(proc.stdout), formats=["PPM"]) as img:
        img.load()
        return img.convert("RGB")


def decode_audio(
    path: Path,
    info: MediaInfo,
    start_s: float = 0.0,
    end_s: float | None = None,
    rate: int = 16000,
    *,
    display_name: str | None = None,
    timeout_s: float | None = None,
) -> NDArray[np.float32]:
    """Mono float32 samples in [-1, 1] at ``rate`` Hz, from ``start_s`` to ``end_s`` (or the end).

    Uses the first audio stream. Media without audio raises :class:`MediaRejected`; check
    ``info.audio_codec`` first when silence is a normal case. The whole span is held in
    memory (4 bytes a sample): decode long recordings in chunks. ``timeout_s`` defaults to
    a minute plus a tenth of the span.
    """
    name = display_name or path.name
    if rate < 1000 or rate > 384_000:
        raise ValueError("rate must be between 1000 and 384000 Hz")
    if info.kind is MediaKind.IMAGE or info.audio_codec is None:
        raise MediaRejected(
            f"{name}: this {info.format} file has no audio track to decode.",
            details={"file": name},
        )
    start = max(0.0, start_s)
    if end_s is not None and end_s <= start:
        return np.zeros(0, dtype=np.float32)
    output = ["-map", "0:a:0", "-vn", "-sn", "-dn"]
    if end_s is not None:
        output += ["-t", f"{end_s - start:.6f}"]
    output += ["-ac", "1", "-ar", str(rate), "-c:a", "pcm_f32le", "-f", "f32le", "pipe:1"]
    cmd = ffmpeg_command(path, _demuxer(info, name), output, seek_s=start)
    span_s = (end_s if end_s is not None else (info.duration_s or 0.0)) - start
    timeout = timeout_s if timeout_s is not None else DEFAULT_TIMEOUT_S + max(0.0, span_s) / 10
    span = f"{start:.2f}-{end_s:.2f} s" if end_s is not None else f"{start:.2f} s to the end"
    proc = run_tool(
        cmd, timeout_s=timeout, path=path, display_name=name, what=f"decoding audio {span}"
    )
    usable = len(proc.stdout) - len(proc.stdout) % 4
    raw = np.frombuffer(memoryview(proc.stdout)[:usable], dtype="<f4")
    samples: NDArray[np.float32] = np.clip(raw, -1.0, 1.0).astype(np.float32, copy=False)
    if not np.isfinite(samples).all():
        np.nan_to_num(samples, copy=False, nan=0.0)
    return samples


def _demuxer(info: MediaInfo, name: str) -> str:
    demuxer = DEMUXERS.get(info.format)
    if demuxer is None:
        raise MediaRejected(
            f"{name}: {info.format} is not an audio/video format AIMA decodes.",
            details={"file": name, "format": info.format},
        )
    return demuxer
