"""Media generated once per test session with tests.mediagen.synth (no committed blobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aima.core.settings import MediaLimits
from aima.media.ffmpeg import ffmpeg_available
from tests.mediagen import synth

needs_ffmpeg = pytest.mark.skipif(
    not ffmpeg_available(), reason="ffmpeg/ffprobe not installed (apt-get install ffmpeg)"
)


def heic_encoder_problem() -> str | None:
    """None when a HEIC file can be written here, else why not."""
    try:
        import pillow_heif
    except ImportError:
        return "pillow-heif is not installed"
    if not pillow_heif.libheif_info().get("HEIF"):
        return "pillow-heif has no HEIC (x265) encoder in this build"
    return None


@pytest.fixture
def limits() -> MediaLimits:
    return MediaLimits()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard samples: one file per accepted format, generated once."""
    d = tmp_path_factory.mktemp("media")
    for fmt in ("JPEG", "PNG", "WEBP", "GIF", "TIFF"):
        synth.make_image(d / f"image.{fmt.lower()}", fmt=fmt)
    if ffmpeg_available():
        for fmt in ("mp4", "mov", "mkv", "webm", "avi"):
            synth.make_video(d / f"video.{fmt}", fmt=fmt)
        for fmt in ("wav", "mp3", "flac", "ogg", "opus", "m4a"):
            synth.make_audio(d / f"audio.{fmt}", fmt=fmt)
    return d
