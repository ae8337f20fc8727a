"""Deterministic synthetic media for tests and benchmarks, plus hostile files.

Images come from Pillow/numpy with a fixed seed, video and audio from ffmpeg's
``lavfi`` sources (``testsrc2`` pattern, ``sine`` tone). The hostile makers produce
files an attacker or a broken upload would: truncated media, a PNG header claiming a
gigantic canvas, playlists and concat scripts saved under a media name.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from aima.media.ffmpeg import tool_path
from aima.media.images import heif_supported

IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "HEIC")
_FIXED_TIME = "2024:05:17 10:30:00"

# container -> (ffmpeg muxer, default video codec, audio codec)
_VIDEO_CONTAINERS: dict[str, tuple[str, str, str]] = {
    "mp4": ("mp4", "libx264", "aac"),
    "mov": ("mov", "libx264", "aac"),
    "mkv": ("matroska", "libx264", "aac"),
    "webm": ("webm", "libvpx", "libopus"),
    "avi": ("avi", "mpeg4", "libmp3lame"),
}
# format -> (ffmpeg muxer, audio codec)
_AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("wav", "pcm_s16le"),
    "mp3": ("mp3", "libmp3lame"),
    "flac": ("flac", "flac"),
    "ogg": ("ogg", "libvorbis"),
    "opus": ("ogg", "libopus"),
    "m4a": ("ipod", "aac"),
    "mp4": ("mp4", "aac"),
    "webm": ("webm", "libopus"),
    "mkv": ("matroska", "flac"),
}
_FAST_CODEC_ARGS: dict[str, list[str]] = {
    "libx264": ["-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "libx265": ["-preset", "ultrafast", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"],
    "libvpx": ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k", "-pix_fmt", "yuv420p"],
    "libvpx-vp9": [
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-b:v",
        "500k",
        "-pix_fmt",
        "yuv420p",
    ],
    "mpeg4": ["-q:v", "5", "-pix_fmt", "yuv420p"],
    "mjpeg": ["-q:v", "5", "-pix_fmt", "yuvj420p"],
}


def make_image(
    path: Path,
    width: int = 640,
    height: int = 480,
    fmt: str = "JPEG",
    seed: int = 0,
    exif_camera: str | None = None,
    *,
    exif_time: str = _FIXED_TIME,
    exif_orientation: int | None = None,
    exif_gps: bool = False,
    frames: int = 1,
) -> Path:
    """A deterministic picture (gradient + seeded shapes) in ``fmt``.

    ``exif_camera="Canon EOS 5D"`` writes Make ``Canon``, Model ``Canon EOS 5D`` and the
    capture time ``exif_time`` (EXIF ``YYYY:MM:DD HH:MM:SS``). ``frames > 1`` makes an
    animated GIF/WebP. HEIC needs pillow-heif with an encoder.
    """
    fmt = fmt.upper()
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"fmt must be one of {IMAGE_FORMATS}")
    if fmt == "HEIC" and not heif_supported():
        raise RuntimeError("HEIC needs the pillow-heif package")
    pictures = [_picture(width, height, seed + i) for i in range(max(1, frames))]
    exif = Image.Exif()
    if exif_camera:
        exif[0x010F] = exif_camera.split()[0]
        exif[0x0110] = exif_camera
        exif[0x0132] = exif_time
        exif.get_ifd(0x8769)[0x9003] = exif_time
    if exif_orientation is not None:
        exif[0x0112] = exif_orientation
    if exif_gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, object] = {}
    if len(exif):
        options["exif"] = exif.tobytes()
    if frames > 1:
        options.update(save_all=True, append_images=pictures[1:], duration=100, loop=0)
    first = pictures[0]
    if fmt == "GIF":
        first = first.convert("P", palette=Image.Palette.ADAPTIVE)
        if frames > 1:
            options["append_images"] = [
                p.convert("P", palette=Image.Palette.ADAPTIVE) for p in pictures[1:]
            ]
    if fmt == "JPEG":
        options["quality"] = 90
    first.save(path, format="HEIF" if fmt == "HEIC" else fmt, **options)
    return path


def _picture(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(0, 255, size=3).astype(np.float32)
    red = (xs / max(width - 1, 1)) * 255
    green = (ys / max(height - 1, 1)) * 255
    blue = ((xs + ys) / max(width + height - 2, 1)) * 255
    pixels = np.stack([red, green, blue], axis=-1) * 0.6 + base * 0.4
    img = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, x1 = sorted(int(v) for v in rng.integers(0, width, size=2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, height, size=2))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.rectangle((x0, y0, x1, y1), fill=(colour[0], colour[1], colour[2]))
    return img


def make_video(
    path: Path,
    seconds: float = 4.0,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    audio: bool = True,
    codec: str | None = None,
    fmt: str = "mp4",
    *,
    faststart: bool = False,
    freq: int = 440,
    audio_rate: int = 48000,
) -> Path:
    """A ``testsrc2`` video with an optional ``freq`` Hz tone; ``codec=None`` picks the usual one
    for ``fmt`` (H.264 for mp4/mov/mkv, VP8 for webm, MPEG-4 part 2 for avi)."""
    if fmt not in _VIDEO_CONTAINERS:
        raise ValueError(f"fmt must be one of {sorted(_VIDEO_CONTAINERS)}")
    muxer, default_codec, audio_codec = _VIDEO_CONTAINERS[fmt]
    vcodec = codec or default_codec
    cmd = [
        "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
    ]  # fmt: skip
    if audio:
        cmd += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={freq}:sample_rate={audio_rate}:duration={seconds}",
        ]
    cmd += ["-map", "0:v"] + (["-map", "1:a", "-c:a", audio_codec, "-ac", "1"] if audio else [])
    cmd += ["-c:v", vcodec, *_FAST_CODEC_ARGS.get(vcodec, []), "-t", f"{seconds}"]
    if faststart and muxer in ("mp4", "mov"):
        cmd += ["-movflags", "+faststart"]
    _run_ffmpeg([*cmd, "-f", muxer], path)
    return path


def make_audio(
    path: Path,
    seconds: float = 3.0,
    fmt: str = "wav",
    rate: int = 16000,
    freq: int = 440,
    *,
    channels: int = 1,
) -> Path:
    """A ``freq`` Hz sine tone of ``seconds`` in ``fmt`` (wav, mp3, flac, ogg, opus, m4a...)."""
    if fmt not in _AUDIO_FORMATS:
        raise ValueError(f"fmt must be one of {sorted(_AUDIO_FORMATS)}")
    muxer, codec = _AUDIO_FORMATS[fmt]
    if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
        rate = 48000
    cmd = [
        "-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={rate}:duration={seconds}",
        "-ac", str(channels), "-ar", str(rate), "-c:a", codec, "-t", f"{seconds}", "-f", muxer,
    ]  # fmt: skip
    _run_ffmpeg(cmd, path)
    return path


def _run_ffmpeg(args: list[str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Trusted, generated input: lavfi sources, no untrusted file is read here.
    cmd = [
        tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y",
        *args, "-fflags", "+bitexact", "-map_metadata", "-1", "file:" + str(path.resolve()),
    ]  # fmt: skip
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"ffmpeg could not generate {path.name}: {proc.stderr.decode(errors='replace')[-800:]}"
        )


# --- hostile files -------------------------------------------------------------------


def make_truncated(src: Path, dst: Path, keep_fraction: float = 0.5) -> Path:
    """``dst`` = the first ``keep_fraction`` of ``src`` (an interrupted upload)."""
    if not 0 < keep_fraction < 1:
        raise ValueError("keep_fraction must be between 0 and 1")
    data = src.read_bytes()
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data[: max(1, int(len(data) * keep_fraction))])
    return dst


def make_png_bomb_header(path: Path, width: int = 50000, height: int = 50000) -> Path:
    """A ~100-byte PNG whose IHDR (valid CRC) claims ``width``x``height`` RGB pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)  # a sliver of the claimed canvas
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def make_playlist_as_mp4(path: Path) -> Path:
    """An HLS (#EXTM3U) playlist pointing at a local secret, saved under a media name."""
    text = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXTINF:10.0,\nfile:///etc/passwd\n#EXTINF:10.0,\nhttp://169.254.169.254/latest/meta-data/\n"
        "#EXT-X-ENDLIST\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_concat_as_mp4(path: Path) -> Path:
    """An ffmpeg concat script (``ffconcat version 1.0``) that would read other files."""
    text = "ffconcat version 1.0\nfile '/etc/passwd'\nfile 'subfile,,start,0,end,0,,:/etc/shadow'\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def copy_as(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst`` (e.g. to give a file a hostile name such as ``-rf.mp4``)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
