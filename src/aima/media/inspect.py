"""Validate one untrusted file under limits and describe it as :class:`MediaInfo`.

Order matters, cheapest and safest first: size on disk, content sniffing (allow-list),
header-only dimensions (pixel limit before any decoding), then a real decode of the
first and last second so a truncated or corrupt file is rejected at ingest instead of
failing later inside an analyzer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from aima.core.errors import MediaRejected, PayloadTooLarge
from aima.core.settings import MediaLimits
from aima.media.decode_budget import DecodeBudget
from aima.media.ffmpeg import clean_stderr, ffmpeg_command, ffprobe_json, first_line, run_tool
from aima.media.images import inspect_image
from aima.media.sniff import ALLOWED_FORMATS, Sniffed, sniff
from aima.media.types import MediaInfo, MediaKind

CHECK_SECONDS = 1.0
_TRUNCATION_SIGNS = ("partial file", "ended prematurely", "truncat", "corrupt input packet")
_AUDIO_ONLY_MIME = {
    "mp4": "audio/mp4",
    "mov": "audio/mp4",
    "m4a": "audio/mp4",
    "mkv": "audio/x-matroska",
    "webm": "audio/webm",
    "avi": "audio/x-msvideo",
}
_VIDEO_IN_AUDIO_FORMAT = {
    "m4a": ("mp4", "video/mp4"),
    "ogg": ("ogg", "video/ogg"),
    "opus": ("ogg", "video/ogg"),
}


def inspect_media(
    path: Path,
    limits: MediaLimits,
    *,
    display_name: str | None = None,
    budget: DecodeBudget | None = None,
) -> MediaInfo:
    """Check ``path`` against ``limits`` and describe it; raise a domain error if it is refused.

    Raises :class:`PayloadTooLarge` over ``max_bytes`` and :class:`MediaRejected` for anything
    else (empty, not an allowed format, corrupt, truncated, over a pixel/duration/stream limit).
    ``display_name`` (the uploaded file name) is what error messages call the file.
    """
    name = display_name or path.name
    try:
        size = _checked_size(path, limits, name)
        sniffed = sniff(path, display_name=name)
        if sniffed.kind is MediaKind.IMAGE:
            fields = inspect_image(
                path,
                sniffed,
                size=size,
                max_pixels=limits.max_pixels,
                display_name=name,
                budget=budget,
            )
            return MediaInfo(**fields)
        return _inspect_av(path, sniffed, size, limits, name)
    except MediaRejected as exc:
        _hide_server_path(exc, path, name)
        raise


def _hide_server_path(exc: MediaRejected, path: Path, name: str) -> None:
    """Decoder messages may quote the file's server path (Pillow's "cannot identify image
    file '/srv/...'"); the user sees the name they uploaded instead."""
    paths = sorted({str(path.resolve()), str(path)}, key=len, reverse=True)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for p in paths:
                value = value.replace(p, name)
        return value

    exc.message = scrub(exc.message)
    exc.args = (exc.message,)
    exc.details = {key: scrub(value) for key, value in exc.details.items()}


def _checked_size(path: Path, limits: MediaLimits, name: str) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaRejected(
            f"{name}: the file could not be read ({exc.strerror or exc}); upload it again.",
            details={"file": name},
        ) from exc
    if not path.is_file():
        raise MediaRejected(f"{name}: not a regular file.", details={"file": name})
    if size == 0:
        raise MediaRejected(
            f"{name}: empty file (0 bytes); the upload was probably interrupted. Upload it "
            f"again. Accepted formats are {ALLOWED_FORMATS}.",
            details={"file": name, "size": 0},
        )
    if size > limits.max_bytes:
        raise PayloadTooLarge(
            f"{name}: the file is {size:,} bytes, over the limit of {limits.max_bytes:,} bytes. "
            "Split or re-encode it, or raise AIMA_LIMITS__MAX_BYTES.",
            details={"file": name, "size": size, "max_bytes": limits.max_bytes},
        )
    return size


def _inspect_av(
    path: Path, sniffed: Sniffed, size: int, limits: MediaLimits, name: str
) -> MediaInfo:
    label = sniffed.format.upper()
    probe = ffprobe_json(path, sniffed, limits.probe_timeout_s, display_name=name)
    streams: list[dict[str, Any]] = probe["streams"]
    fmt: dict[str, Any] = probe["format"]
    if len(streams) > limits.max_streams:
        raise MediaRejected(
            f"{name}: the {label} has {len(streams)} streams, over the limit of "
            f"{limits.max_streams}. Remove the extra tracks, or raise AIMA_LIMITS__MAX_STREAMS.",
            details={"file": name, "streams": len(streams), "max_streams": limits.max_streams},
        )
    videos = [s for s in streams if _is_video(s)]
    audios = [s for s in streams if _is_audio(s)]
    if not videos and not audios:
        raise MediaRejected(
            f"{name}: the {label} contains no decodable audio or video stream. "
            "Re-export it with a common codec (H.264/AAC, VP9/Opus...).",
            details={"file": name, "codecs": [s.get("codec_name") for s in streams]},
        )
    for stream in videos:
        pixels = _int(stream.get("width")) * _int(stream.get("height"))
        if pixels > limits.max_pixels:
            raise MediaRejected(
                f"{name}: a video frame is {stream.get('width')}x{stream.get('height')} = "
                f"{pixels:,} pixels, over the limit of {limits.max_pixels:,}. Downscale the "
                "video, or raise AIMA_LIMITS__MAX_PIXELS.",
                details={"file": name, "max_pixels": limits.max_pixels},
            )
    duration = _duration(fmt, streams)
    if duration is None or duration <= 0:
        raise MediaRejected(
            f"{name}: the {label} has no usable duration; the file is damaged or still being "
            "recorded. Re-export it and upload it again.",
            details={"file": name},
        )
    if duration > limits.max_duration_s:
        raise MediaRejected(
            f"{name}: the {label} lasts {duration:,.1f} s, over the limit of "
            f"{limits.max_duration_s:,.0f} s. Cut it into parts, or raise "
            "AIMA_LIMITS__MAX_DURATION_S.",
            details={"file": name, "duration_s": duration, "max_duration_s": limits.max_duration_s},
        )
    _decode_check(path, sniffed, duration, limits, name)

    kind, fmt_name, mime = _final_kind(sniffed, has_video=bool(videos))
    video = videos[0] if videos else None
    audio = audios[0] if audios else None
    width, height = _display_size(video) if video else (None, None)
    return MediaInfo(
        kind=kind,
        format=fmt_name,
        mime=mime,
        size=size,
        container=str(fmt.get("format_name") or sniffed.ffmpeg_format),
        duration_s=round(duration, 6),
        width=width,
        height=height,
        fps=_fps(video) if video else None,
        video_codec=str(video["codec_name"]) if video else None,
        audio_codec=str(audio["codec_name"]) if audio else None,
        audio_rate=(_int(audio.get("sample_rate")) or None) if audio else None,
        audio_channels=(_int(audio.get("channels")) or None) if audio else None,
        streams=len(streams),
    )


def _is_video(stream: dict[str, Any]) -> bool:
    disposition = stream.get("disposition") or {}
    return (
        stream.get("codec_type") == "video"
        and bool(stream.get("codec_name"))
        and not disposition.get("attached_pic")  # cover art in audio files is not video
        and _int(stream.get("width")) > 0
        and _int(stream.get("height")) > 0
    )


def _is_audio(stream: dict[str, Any]) -> bool:
    return stream.get("codec_type") == "audio" and bool(stream.get("codec_name"))


def _final_kind(sniffed: Sniffed, *, has_video: bool) -> tuple[MediaKind, str, str]:
    """A container with no video stream is audio; an "audio" container with video is video."""
    if has_video:
        if sniffed.kind is MediaKind.AUDIO:
            fmt, mime = _VIDEO_IN_AUDIO_FORMAT.get(sniffed.format, (sniffed.format, sniffed.mime))
            return MediaKind.VIDEO, fmt, mime
        return MediaKind.VIDEO, sniffed.format, sniffed.mime
    return MediaKind.AUDIO, sniffed.format, _AUDIO_ONLY_MIME.get(sniffed.format, sniffed.mime)


def _duration(fmt: dict[str, Any], streams: list[dict[str, Any]]) -> float | None:
    value = _float(fmt.get("duration"))
    if value is not None and value > 0:
        return value
    durations = [d for s in streams if (d := _float(s.get("duration"))) is not None and d > 0]
    return max(durations) if durations else None


def _fps(stream: dict[str, Any]) -> float | None:
    for key in ("avg_frame_rate", "r_frame_rate"):
        rate = _ratio(stream.get(key))
        if rate is not None and 0 < rate < 1000:
            return round(rate, 3)
    return None


def _display_size(stream: dict[str, Any]) -> tuple[int, int]:
    """Width and height as shown: a 90° rotation (phone video) swaps them."""
    width, height = _int(stream.get("width")), _int(stream.get("height"))
    rotation = _float((stream.get("tags") or {}).get("rotate")) or 0.0
    for side in stream.get("side_data_list") or []:
        if isinstance(side, dict) and "rotation" in side:
            rotation = _float(side.get("rotation")) or 0.0
    if round(abs(rotation)) % 180 == 90:
        return height, width
    return width, height


def _decode_check(
    path: Path, sniffed: Sniffed, duration: float, limits: MediaLimits, name: str
) -> None:
    """Really decode the first and the last second; damage there means a bad upload."""
    _decode_window(path, sniffed, 0.0, limits, name, "the first second")
    if duration > 2 * CHECK_SECONDS:
        _decode_window(path, sniffed, duration - CHECK_SECONDS, limits, name, "the last second")


def _decode_window(
    path: Path, sniffed: Sniffed, start: float, limits: MediaLimits, name: str, where: str
) -> None:
    label = sniffed.format.upper()
    cmd = ffmpeg_command(
        path,
        sniffed.ffmpeg_format or "",
        ["-t", f"{CHECK_SECONDS:g}", "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
        seek_s=start,
        pre_input=["-xerror"],
    )
    what = f"decoding {where} of the {label}"
    try:
        proc = run_tool(
            cmd, timeout_s=limits.probe_timeout_s, path=path, display_name=name, what=what
        )
    except MediaRejected as exc:
        if "exit_code" not in exc.details:
            raise
        raise _corrupt(name, label, where, str(exc.details.get("stderr", "")), exc.details) from exc
    error = clean_stderr(proc.stderr, path, name)
    if any(sign in error.lower() for sign in _TRUNCATION_SIGNS):
        raise _corrupt(name, label, where, error, {"file": name, "stderr": error})
    if not _decoded_something(proc.stdout):
        raise _corrupt(
            name, label, where, error or "nothing could be decoded", {"file": name, "stderr": error}
        )


def _decoded_something(progress: bytes) -> bool:
    frames, out_us = 0, 0
    for line in progress.decode("ascii", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key == "frame":
            frames = max(frames, _int(value))
        elif key in ("out_time_us", "out_time_ms"):
            out_us = max(out_us, _int(value))
    return frames > 0 or out_us > 0


def _corrupt(
    name: str, label: str, where: str, error: str, details: dict[str, Any]
) -> MediaRejected:
    return MediaRejected(
        f"{name}: corrupt or truncated {label} ({where} does not decode: "
        f"{first_line(error) or 'no details'}). "
        "Re-export the file or upload the complete original.",
        details=details,
    )


def _int(value: object) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


def _float(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _ratio(value: object) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _float(value)
    num, _, den = value.partition("/")
    n, d = _float(num), _float(den)
    if n is None or d is None or d == 0:
        return None
    return n / d
