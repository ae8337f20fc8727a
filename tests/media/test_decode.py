"""Frames and audio samples come out at the requested size, time and rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from aima.core.errors import MediaRejected
from aima.core.settings import MediaLimits
from aima.media.decode import decode_audio, extract_frame
from aima.media.inspect import inspect_media
from tests.mediagen import synth

from .conftest import needs_ffmpeg


def dominant_hz(samples: NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


@needs_ffmpeg
@pytest.mark.parametrize("name", ["video.mp4", "video.webm", "video.avi", "video.mov"])
def test_extract_frame_size_and_time(media_dir: Path, limits: MediaLimits, name: str) -> None:
    path = media_dir / name
    info = inspect_media(path, limits)
    first = extract_frame(path, info, 0.0, 160)
    later = extract_frame(path, info, 2.0, 160)
    assert first.mode == later.mode == "RGB"
    assert first.size == later.size == (160, 120)
    # testsrc2 moves: two instants give different pictures.
    diff = np.abs(np.asarray(first, dtype=np.int16) - np.asarray(later, dtype=np.int16))
    assert diff.mean() > 1


@needs_ffmpeg
def test_extract_frame_never_upscales_and_clamps_time(media_dir: Path, limits: MediaLimits) -> None:
    path = media_dir / "video.mkv"
    info = inspect_media(path, limits)
    assert extract_frame(path, info, 99.0, 1000).size == (320, 240)
    assert extract_frame(path, info, -5.0, 100).size == (100, 75)


@needs_ffmpeg
def test_extract_frame_portrait(tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_video(tmp_path / "tall.mp4", 1.0, 120, 200, fps=10, audio=False)
    info = inspect_media(path, limits)
    assert extract_frame(path, info, 0.5, 100).size == (60, 100)


def test_extract_frame_image_applies_orientation(tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_image(tmp_path / "side.jpg", 400, 300, exif_orientation=6)
    info = inspect_media(path, limits)
    frame = extract_frame(path, info, 0.0, 200)
    assert frame.mode == "RGB" and frame.size == (150, 200)


def test_extract_frame_transparent_png(tmp_path: Path, limits: MediaLimits) -> None:
    from PIL import Image

    path = tmp_path / "alpha.png"
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(path)
    frame = extract_frame(path, inspect_media(path, limits), 0.0, 64)
    assert frame.size == (50, 40) and frame.getpixel((0, 0)) == (255, 255, 255)


@needs_ffmpeg
def test_extract_frame_from_audio_is_refused(media_dir: Path, limits: MediaLimits) -> None:
    info = inspect_media(media_dir / "audio.wav", limits)
    with pytest.raises(MediaRejected, match="no picture"):
        extract_frame(media_dir / "audio.wav", info, 0.0, 100)


@needs_ffmpeg
@pytest.mark.parametrize("name", ["audio.wav", "audio.mp3", "audio.opus", "audio.m4a"])
def test_decode_audio_tone(media_dir: Path, limits: MediaLimits, name: str) -> None:
    path = media_dir / name
    samples = decode_audio(path, inspect_media(path, limits))
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert samples.size == pytest.approx(3.0 * 16000, rel=0.03)
    assert float(np.abs(samples).max()) <= 1.0
    assert dominant_hz(samples, 16000) == pytest.approx(440, abs=3)


@needs_ffmpeg
def test_decode_audio_window_and_rate(tmp_path: Path, limits: MediaLimits) -> None:
    path = synth.make_audio(tmp_path / "tone.flac", 3.0, fmt="flac", rate=44100, freq=1000)
    info = inspect_media(path, limits)
    window = decode_audio(path, info, 1.0, 2.5, rate=8000)
    assert window.size == pytest.approx(1.5 * 8000, abs=8)
    assert dominant_hz(window, 8000) == pytest.approx(1000, abs=5)
    assert decode_audio(path, info, 2.0, 1.0).size == 0


@needs_ffmpeg
def test_decode_audio_of_video_and_silent_video(tmp_path: Path, limits: MediaLimits) -> None:
    with_sound = synth.make_video(tmp_path / "s.mp4", 2.0, 64, 48, fps=10, freq=880)
    samples = decode_audio(with_sound, inspect_media(with_sound, limits))
    assert dominant_hz(samples, 16000) == pytest.approx(880, abs=4)
    silent = synth.make_video(tmp_path / "q.mp4", 2.0, 64, 48, fps=10, audio=False)
    with pytest.raises(MediaRejected, match="no audio track"):
        decode_audio(silent, inspect_media(silent, limits))


@needs_ffmpeg
def test_decode_hostile_names(media_dir: Path, tmp_path: Path, limits: MediaLimits) -> None:
    for name in ("-rf.mp4", "a:b.mp4"):
        path = synth.copy_as(media_dir / "video.mp4", tmp_path / name)
        info = inspect_media(path, limits)
        assert extract_frame(path, info, 1.0, 80).size == (80, 60)
        assert decode_audio(path, info, 0.0, 1.0).size == pytest.approx(16000, abs=16)
