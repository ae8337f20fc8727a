"""The only place that builds ffmpeg/ffprobe command lines for untrusted input.

Every input is opened with ``-protocol_whitelist file`` and an explicit demuxer
(``-f <format>`` from the sniffer), so a playlist, concat script or network URL inside
a file can never be followed, and the path is passed as ``file:/absolute/path`` so a
name starting with ``-`` or containing ``:`` is never read as an option or a protocol.
Each run has a time limit; failures become :class:`MediaRejected` with ffmpeg's own
message (trimmed, with the server path replaced by the file's display name).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aima.core.errors import MediaRejected, ServiceUnavailable
from aima.media.sniff import Sniffed

_BASE = ("-hide_banner", "-nostdin", "-v", "error")
_STDERR_LIMIT = 2000
_INSTALL_HINT = "install it with `apt-get install ffmpeg` (`make setup` does this)"


def ffmpeg_available() -> bool:
    """True when both ``ffmpeg`` and ``ffprobe`` are on ``PATH``."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def tool_path(tool: str) -> str:
    """Absolute path of ``ffmpeg``/``ffprobe``, or a clear error naming the package to install."""
    found = shutil.which(tool)
    if found is None:
        raise ServiceUnavailable(
            f"{tool} is not installed, so audio and video cannot be checked or decoded; "
            f"{_INSTALL_HINT}.",
            details={"tool": tool},
        )
    return found


def input_args(path: Path, ffmpeg_format: str, *, seek_s: float | None = None) -> list[str]:
    """The safe arguments that open one untrusted input (whitelist, forced demuxer, file: URL)."""
    args = ["-protocol_whitelist", "file", "-f", ffmpeg_format]
    if seek_s is not None and seek_s > 0:
        args += ["-ss", f"{seek_s:.3f}"]
    args += ["-i", file_url(path)]
    return args


def file_url(path: Path) -> str:
    """``file:`` + absolute path: never parsed as an option, a protocol or a playlist."""
    return "file:" + str(path.resolve())


def ffmpeg_command(
    path: Path,
    ffmpeg_format: str,
    output_args: Sequence[str],
    *,
    seek_s: float | None = None,
    pre_input: Sequence[str] = (),
) -> list[str]:
    """A full ffmpeg command line reading ``path`` safely and writing ``output_args``."""
    return [
        tool_path("ffmpeg"),
        *_BASE,
        *pre_input,
        *input_args(path, ffmpeg_format, seek_s=seek_s),
        *output_args,
    ]


def ffprobe_command(path: Path, ffmpeg_format: str) -> list[str]:
    """ffprobe printing streams and format as JSON, with the same input safety as ffmpeg."""
    return [
        tool_path("ffprobe"),
        "-hide_banner",
        "-v",
        "error",
        *input_args(path, ffmpeg_format),
        "-show_streams",
        "-show_format",
        "-of",
        "json",
    ]


def run_tool(
    cmd: Sequence[str],
    *,
    timeout_s: float,
    path: Path,
    display_name: str,
    what: str,
) -> subprocess.CompletedProcess[bytes]:
    """Run one ffmpeg/ffprobe command; time-outs and non-zero exits raise MediaRejected.

    ``what`` names the step in messages ("probing", "decoding the first second"...).
    """
    try:
        proc = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaRejected(
            f"{display_name}: {what} took longer than {timeout_s:g} s and was stopped; "
            "the file is too complex or damaged. Re-encode it, or raise "
            "AIMA_LIMITS__PROBE_TIMEOUT_S if it is valid.",
            details={"file": display_name, "timeout_s": timeout_s},
        ) from exc
    except OSError as exc:
        raise ServiceUnavailable(
            f"{cmd[0]} could not be started ({exc}); {_INSTALL_HINT}.",
            details={"tool": cmd[0]},
        ) from exc
    if proc.returncode != 0:
        error = clean_stderr(proc.stderr, path, display_name)
        raise MediaRejected(
            f"{display_name}: {what} failed ({first_line(error) or f'exit {proc.returncode}'}); "
            "the file is corrupt or unsupported. Re-export it and upload it again.",
            details={"file": display_name, "stderr": error, "exit_code": proc.returncode},
        )
    return proc


def ffprobe_json(
    path: Path, sniffed: Sniffed, timeout_s: float, *, display_name: str | None = None
) -> dict[str, Any]:
    """Streams and format of ``path`` as ffprobe reports them: ``{"streams": [], "format": {}}``."""
    name = display_name or path.name
    label = sniffed.format.upper()
    if sniffed.ffmpeg_format is None:
        raise MediaRejected(
            f"{name}: a {label} image cannot be probed with ffprobe.", details={"file": name}
        )
    cmd = ffprobe_command(path, sniffed.ffmpeg_format)
    try:
        proc = run_tool(cmd, timeout_s=timeout_s, path=path, display_name=name, what="probing")
    except MediaRejected as exc:
        error = str(exc.details.get("stderr", ""))
        if "exit_code" not in exc.details:
            raise
        raise MediaRejected(
            f"{name}: corrupt or truncated {label} (ffprobe: {first_line(error) or 'no details'}). "
            "Re-export the file or upload the complete original.",
            details=exc.details,
        ) from exc
    try:
        data = json.loads(proc.stdout.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise MediaRejected(
            f"{name}: ffprobe gave unreadable output for this {label}; the file is damaged.",
            details={"file": name},
        ) from exc
    if not isinstance(data, dict):
        raise MediaRejected(
            f"{name}: ffprobe found nothing in this {label}.", details={"file": name}
        )
    streams = data.get("streams")
    fmt = data.get("format")
    return {
        "streams": [s for s in streams if isinstance(s, dict)] if isinstance(streams, list) else [],
        "format": fmt if isinstance(fmt, dict) else {},
    }


_CONTEXT_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def clean_stderr(stderr: bytes, path: Path, display_name: str) -> str:
    """ffmpeg's stderr without log prefixes and with the server path replaced; trimmed."""
    text = stderr.decode("utf-8", errors="replace")
    resolved = str(path.resolve())
    text = text.replace("file:" + resolved, display_name).replace(resolved, display_name)
    lines = [_CONTEXT_PREFIX.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("Last message repeated")]
    cleaned = "\n".join(dict.fromkeys(lines))  # drop repeats, keep order
    if len(cleaned) > _STDERR_LIMIT:
        cleaned = cleaned[:_STDERR_LIMIT] + " …"
    return cleaned


def first_line(text: str) -> str:
    """The most telling line of an ffmpeg error: the first one, without a trailing period."""
    for line in text.splitlines():
        if line.strip():
            return line.strip().rstrip(".")
    return ""
