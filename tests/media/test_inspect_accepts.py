"""Every accepted format is probed into the right MediaInfo (kind, format, size, duration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aima.core.settings import MediaLimits
from aima.media.inspect import inspect_media
from aima.media.types import MediaInfo, MediaKind
from tests.mediagen import synth

from .conftest import heic_encoder_problem, needs_ffmpeg


@pytest.mark.parametrize(
    ("name", "fmt", "mime"),
    [
        ("image.jpeg", "jpeg", "image/jpeg"),
        ("image.png", "png", "image/png"),
        ("image.webp", "webp", "image/webp"),
        ("image.gif", "gif", "image/gif"),
        ("image.tiff", "tiff", "image/tiff"),
    ],
)
def test_images(media_dir: Path, limits: MediaLimits, name: str, fmt: str, mime: str) -> None:
    path = media_dir / name
    info = inspect_media(path, limits)
    assert (info.kind, info.format, info.mime) == (MediaKind.IMAGE, fmt, mime)
    assert (info.width, info.height) == (640, 480)
    assert info.size == path.stat().st_size
    assert info.duration_s is None
    assert MediaInfo.from_dict(info.to_dict()) == info


def test_heic(tmp_path: Path, limits: MediaLimits) -> None:
    problem = heic_encoder_problem()
    if problem:
        pytest.skip(problem)
    path = synth.make_image(tmp_path / "photo.heic", 320, 200, fmt="HEIC", exif_camera="Apple X")
    info = inspect_media(path, limits)
    assert (info.kind, info.format, info.mime) == (MediaKind.IMAGE, "heic", "image/heic")
    assert (info.width, info.height) == (320, 200)
    assert info.exif["camera_model"] == "Apple X"


def test_animated_gif_and_webp_are_images(tmp_path: Path, limits: MediaLimits) -> None:
    for fmt in ("GIF", "WEBP"):
        path = synth.make_image(tmp_path / f"anim.{fmt.lower()}", 64, 48, fmt=fmt, frames=3)
        info = inspect_media(path, limits)
        assert info.kind is MediaKind.IMAGE
        assert (info.width, info.height) == (64, 48)
        assert info.exif.get("frames") == 3


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "fmt", "mime", "vcodec"),
    [
        ("video.mp4", "mp4", "video/mp4", "h264"),
        ("video.mov", "mov", "video/quicktime", "h264"),
        ("video.mkv", "mkv", "video/x-matroska", "h264"),
        ("video.webm", "webm", "video/webm", "vp8"),
        ("video.avi", "avi", "video/x-msvideo", "mpeg4"),
    ],
)
def test_videos(
    media_dir: Path, limits: MediaLimits, name: str, fmt: str, mime: str, vcodec: str
) -> None:
    path = media_dir / name
    info = inspect_media(path, limits)
    assert (info.kind, info.format, info.mime) == (MediaKind.VIDEO, fmt, mime)
    assert (info.width, info.height) == (320, 240)
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    assert info.video_codec == vcodec
    assert info.audio_codec is not None
    assert info.audio_rate == 48000 and info.audio_channels == 1
    assert info.streams == 2
    assert info.size == path.stat().st_size
    assert info.container
    assert MediaInfo.from_dict(info.to_dict()) == info


@needs_ffmpeg
@pytest.mark.parametrize(
    ("name", "fmt", "mime", "acodec"),
    [
        ("audio.wav", "wav", "audio/wav", "pcm_s16le"),
        ("audio.mp3", "mp3", "audio/mpeg", "mp3"),
        ("audio.flac", "flac", "audio/flac", "flac"),
        ("audio.ogg", "ogg", "audio/ogg", "vorbis"),
        ("audio.opus", "opus", "audio/ogg", "opus"),
        ("audio.m4a", "m4a", "audio/mp4", "aac"),
    ],
)
def test_audio(
    media_dir: Path, limits: MediaLimits, name: str, fmt: str, mime: str, acodec: str
) -> None:
    info = inspect_media(media_dir / name, limits)
    assert (info.kind, info.format, info.mime) == (MediaKind.AUDIO, fmt, mime)
    assert info.duration_s == pytest.approx(3.0, abs=0.15)
    assert info.audio_codec == acodec
    assert info.audio_channels == 1
    assert info.width is None and info.video_codec is None and info.fps is None
    assert info.streams == 1


@needs_ffmpeg
@pytest.mark.parametrize(("fmt", "mime"), [("mp4", "audio/mp4"), ("webm", "audio/webm")])
def test_container_without_video_is_audio(
    tmp_path: Path, limits: MediaLimits, fmt: str, mime: str
) -> None:
    path = synth.make_audio(tmp_path / f"voice.{fmt}", 2.5, fmt=fmt)
    info = inspect_media(path, limits)
    assert (info.kind, info.format, info.mime) == (MediaKind.AUDIO, fmt, mime)
    assert info.duration_s == pytest.approx(2.5, abs=0.1)


@needs_ffmpeg
def test_faststart_mp4(tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_video(tmp_path / "web.mp4", 3.0, 160, 120, fps=10, faststart=True)
    info = inspect_media(path, limits)
    assert (info.kind, info.width, info.height, info.fps) == (MediaKind.VIDEO, 160, 120, 10.0)


@needs_ffmpeg
def test_silent_video_has_no_audio_fields(tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_video(tmp_path / "silent.mkv", 2.0, 96, 64, fps=12, audio=False, fmt="mkv")
    info = inspect_media(path, limits)
    assert info.kind is MediaKind.VIDEO
    assert info.audio_codec is None and info.audio_rate is None and info.streams == 1


def test_exif_camera_time_gps_orientation(tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_image(
        tmp_path / "cam.jpg",
        320,
        240,
        exif_camera="Canon EOS 5D",
        exif_time="2023:08:09 17:45:01",
        exif_orientation=6,
        exif_gps=True,
    )
    info = inspect_media(path, limits)
    assert info.exif == {
        "capture_time": "2023-08-09T17:45:01",
        "camera_make": "Canon",
        "camera_model": "Canon EOS 5D",
        "gps_present": True,
        "orientation": 6,
    }
    # Orientation 6 = stored sideways: the upright picture is 240 wide, 320 high.
    assert (info.width, info.height) == (240, 320)


def test_no_exif_gives_empty_dict(media_dir: Path, limits: MediaLimits) -> None:
    assert inspect_media(media_dir / "image.png", limits).exif == {}


def test_bad_exif_is_omitted_not_fatal(tmp_path: Path, limits: MediaLimits) -> None:
    from PIL import Image

    path = tmp_path / "bad-exif.jpg"
    garbage = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\xde\xad\xbe\xef" * 8
    Image.new("RGB", (32, 24), (10, 20, 30)).save(path, exif=garbage)
    info = inspect_media(path, limits)
    assert (info.kind, info.width, info.height) == (MediaKind.IMAGE, 32, 24)
    assert info.exif.get("camera_make") is None


@pytest.mark.parametrize(
    ("stream", "size"),
    [
        ({"width": 1920, "height": 1080}, (1920, 1080)),
        ({"width": 1920, "height": 1080, "side_data_list": [{"rotation": -90}]}, (1080, 1920)),
        ({"width": 1920, "height": 1080, "tags": {"rotate": "270"}}, (1080, 1920)),
        ({"width": 1920, "height": 1080, "side_data_list": [{"rotation": 180}]}, (1920, 1080)),
    ],
)
def test_phone_video_rotation_reports_the_upright_size(
    stream: dict[str, object], size: tuple[int, int]
) -> None:
    from aima.media.inspect import _display_size

    assert _display_size(stream) == size
