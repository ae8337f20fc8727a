"""Hostile and broken uploads are refused with the right error class and a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from aima.core.errors import MediaRejected, PayloadTooLarge
from aima.core.settings import MediaLimits
from aima.media.ffmpeg import ffprobe_json
from aima.media.inspect import inspect_media
from aima.media.sniff import MP4
from aima.media.types import MediaKind
from tests.mediagen import synth

from .conftest import needs_ffmpeg


def rejected(path: Path, limits: MediaLimits, name: str | None = None) -> MediaRejected:
    with pytest.raises(MediaRejected) as err:
        inspect_media(path, limits, display_name=name)
    assert err.value.status == 415
    return err.value


def test_zero_length_file(tmp_path: Path, limits: MediaLimits) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(b"")
    err = rejected(path, limits, "clip.mp4")
    assert err.message.startswith("clip.mp4: empty file (0 bytes)")
    assert "Upload it again" in err.message


def test_over_size_limit(media_dir: Path) -> None:
    with pytest.raises(PayloadTooLarge) as err:
        inspect_media(media_dir / "image.jpeg", MediaLimits(max_bytes=1000))
    assert err.value.status == 413
    assert "over the limit of 1,000 bytes" in err.value.message
    assert err.value.details["max_bytes"] == 1000


def test_text_named_jpg(tmp_path: Path, limits: MediaLimits) -> None:
    path = tmp_path / "cat.jpg"
    path.write_text("this is not a picture\n")
    err = rejected(path, limits)
    assert err.message.startswith("cat.jpg: file starts like a text file, not an accepted media")
    assert "JPEG, PNG" in err.message


def test_hls_playlist_renamed_mp4(tmp_path: Path, limits: MediaLimits) -> None:
    err = rejected(synth.make_playlist_as_mp4(tmp_path / "movie.mp4"), limits)
    assert "movie.mp4: file starts like a text/playlist file (an M3U/HLS playlist)" in err.message


def test_concat_script_renamed_mp4(tmp_path: Path, limits: MediaLimits) -> None:
    err = rejected(synth.make_concat_as_mp4(tmp_path / "movie.mp4"), limits)
    assert "text/playlist file (an ffmpeg concat script)" in err.message


@needs_ffmpeg
@pytest.mark.parametrize("maker", [synth.make_playlist_as_mp4, synth.make_concat_as_mp4])
def test_forced_demuxer_never_follows_a_playlist(tmp_path: Path, maker: object) -> None:
    """Even if sniffing were bypassed, ffprobe is forced to MP4 and refuses the text."""
    assert callable(maker)
    path = maker(tmp_path / "x.mp4")
    with pytest.raises(MediaRejected, match=r"x\.mp4: corrupt or truncated MP4 \(ffprobe: "):
        ffprobe_json(path, MP4, 10)


def test_png_header_claiming_50000_squared(tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_png_bomb_header(tmp_path / "bomb.png")
    assert path.stat().st_size < 200
    err = rejected(path, limits)
    assert "bomb.png: the PNG header claims" in err.message
    assert "decompression bomb" in err.message and "not decoded" in err.message


def test_pixel_limit_checked_before_decoding(media_dir: Path) -> None:
    err = rejected(media_dir / "image.png", MediaLimits(max_pixels=10_000))
    assert "640x480 = 307,200 pixels, over the limit of 10,000" in err.message


def test_truncated_jpeg(media_dir: Path, tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_truncated(media_dir / "image.jpeg", tmp_path / "half.jpg")
    err = rejected(path, limits)
    assert err.message.startswith("half.jpg: corrupt or truncated JPEG")


def test_truncated_png(media_dir: Path, tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_truncated(media_dir / "image.png", tmp_path / "half.png")
    assert "corrupt or truncated PNG" in rejected(path, limits).message


@needs_ffmpeg
def test_truncated_mp4_moov_at_end(media_dir: Path, tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_truncated(media_dir / "video.mp4", tmp_path / "upload.tmp")
    err = rejected(path, limits, "video.mp4")
    assert err.message.startswith(
        "video.mp4: corrupt or truncated MP4 (ffprobe: moov atom not found"
    )
    assert "moov atom not found" in err.details["stderr"]
    assert str(tmp_path) not in err.details["stderr"]  # server paths are not leaked


@needs_ffmpeg
def test_truncated_faststart_mp4_fails_the_decode_check(
    tmp_path: Path, limits: MediaLimits
) -> None:
    whole = synth.make_video(tmp_path / "whole.mp4", 4.0, 160, 120, faststart=True)
    path = synth.make_truncated(whole, tmp_path / "cut.mp4", 0.6)
    err = rejected(path, limits)
    assert err.message.startswith("cut.mp4: corrupt or truncated MP4 (the last second does not")


@needs_ffmpeg
@pytest.mark.parametrize("name", ["video.mkv", "audio.flac"])
def test_truncated_mkv_and_flac(
    media_dir: Path, tmp_path: Path, limits: MediaLimits, name: str
) -> None:
    path = synth.make_truncated(media_dir / name, tmp_path / name)
    assert f"{name}: corrupt or truncated" in rejected(path, limits).message


@needs_ffmpeg
def test_longer_than_max_duration(media_dir: Path) -> None:
    err = rejected(media_dir / "video.mp4", MediaLimits(max_duration_s=2))
    assert "lasts 4.0 s, over the limit of 2 s" in err.message
    assert "AIMA_LIMITS__MAX_DURATION_S" in err.message


@needs_ffmpeg
def test_too_many_streams(media_dir: Path) -> None:
    err = rejected(media_dir / "video.mp4", MediaLimits(max_streams=1))
    assert "has 2 streams, over the limit of 1" in err.message


@needs_ffmpeg
def test_video_frame_over_pixel_limit(media_dir: Path) -> None:
    err = rejected(media_dir / "video.mkv", MediaLimits(max_pixels=50_000))
    assert "320x240 = 76,800 pixels, over the limit of 50,000" in err.message


@needs_ffmpeg
def test_probe_timeout_is_a_rejection(media_dir: Path) -> None:
    err = rejected(media_dir / "video.mp4", MediaLimits(probe_timeout_s=0.001))
    assert "took longer than 0.001 s" in err.message


@needs_ffmpeg
@pytest.mark.parametrize("name", ["-rf.mp4", "a:b.mp4", "concat:x|y.mp4", "-i.mp4"])
def test_hostile_file_names_are_plain_files(
    media_dir: Path, tmp_path: Path, limits: MediaLimits, name: str
) -> None:
    path = synth.copy_as(media_dir / "video.mp4", tmp_path / name)
    info = inspect_media(path, limits)
    assert (info.kind, info.format, info.width) == (MediaKind.VIDEO, "mp4", 320)


def test_directory_is_not_a_file(tmp_path: Path, limits: MediaLimits) -> None:
    assert "not a regular file" in rejected(tmp_path, limits).message
