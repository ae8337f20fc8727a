"""Command-line safety of the ffmpeg builder, and the synthetic media makers themselves."""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import pytest

from aima.core.errors import MediaRejected, ServiceUnavailable
from aima.media import ffmpeg
from tests.mediagen import synth


def test_input_args_are_whitelisted_forced_and_file_prefixed(tmp_path: Path) -> None:
    path = tmp_path / "-rf:x.mp4"
    args = ffmpeg.input_args(path, "mov", seek_s=1.5)
    assert args == [
        "-protocol_whitelist", "file", "-f", "mov", "-ss", "1.500",
        "-i", f"file:{path.resolve()}",
    ]  # fmt: skip


def test_every_command_uses_the_safe_input(tmp_path: Path) -> None:
    if not ffmpeg.ffmpeg_available():
        pytest.skip("ffmpeg not installed")
    path = tmp_path / "a.mkv"
    for cmd in (
        ffmpeg.ffprobe_command(path, "matroska"),
        ffmpeg.ffmpeg_command(path, "matroska", ["-f", "null", "-"]),
    ):
        assert cmd[cmd.index("-protocol_whitelist") + 1] == "file"
        assert cmd[cmd.index("-f") + 1] == "matroska"
        assert cmd[cmd.index("-i") + 1] == f"file:{path.resolve()}"
        assert "-hide_banner" in cmd and cmd[cmd.index("-v") + 1] == "error"
    assert "-nostdin" in ffmpeg.ffmpeg_command(path, "matroska", [])


def test_missing_ffmpeg_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg.shutil, "which", lambda _name: None)
    assert not ffmpeg.ffmpeg_available()
    with pytest.raises(ServiceUnavailable) as err:
        ffmpeg.tool_path("ffprobe")
    assert "apt-get install ffmpeg" in err.value.message and "make setup" in err.value.message


def test_run_tool_timeout_and_failure(tmp_path: Path) -> None:
    path = tmp_path / "f.wav"
    slow = [sys.executable, "-c", "import time; time.sleep(5)"]
    with pytest.raises(MediaRejected, match=r"probing took longer than 0\.2 s"):
        ffmpeg.run_tool(slow, timeout_s=0.2, path=path, display_name="f.wav", what="probing")
    failing = [
        sys.executable,
        "-c",
        f"import sys; sys.stderr.write('[x @ 0x1f] bad {path}'); sys.exit(3)",
    ]
    with pytest.raises(MediaRejected) as err:
        ffmpeg.run_tool(failing, timeout_s=10, path=path, display_name="f.wav", what="decoding")
    assert err.value.message.startswith("f.wav: decoding failed (bad f.wav)")
    assert err.value.details["exit_code"] == 3


def test_png_bomb_header_is_well_formed(tmp_path: Path) -> None:
    data = synth.make_png_bomb_header(tmp_path / "b.png", 50000, 40000).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    length, kind = struct.unpack(">I4s", data[8:16])
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert (kind, length) == (b"IHDR", 13)
    assert struct.unpack(">II", body[:8]) == (50000, 40000)
    assert crc == zlib.crc32(kind + body)
    assert data.endswith(b"IEND\xaeB`\x82")


def test_images_are_deterministic(tmp_path: Path) -> None:
    a = synth.make_image(tmp_path / "a.png", 64, 48, fmt="PNG", seed=7).read_bytes()
    b = synth.make_image(tmp_path / "b.png", 64, 48, fmt="PNG", seed=7).read_bytes()
    c = synth.make_image(tmp_path / "c.png", 64, 48, fmt="PNG", seed=8).read_bytes()
    assert a == b != c


def test_truncated_keeps_the_fraction(tmp_path: Path) -> None:
    src = tmp_path / "s"
    src.write_bytes(bytes(range(200)))
    assert synth.make_truncated(src, tmp_path / "d", 0.25).read_bytes() == bytes(range(50))
    with pytest.raises(ValueError):
        synth.make_truncated(src, tmp_path / "e", 1.0)


def test_makers_refuse_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        synth.make_image(tmp_path / "x.bmp", fmt="BMP")
    with pytest.raises(ValueError):
        synth.make_video(tmp_path / "x.flv", fmt="flv")
    with pytest.raises(ValueError):
        synth.make_audio(tmp_path / "x.aac", fmt="aac")
