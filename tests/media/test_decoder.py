"""ChunkDecoder: decode-once keyframes (shots, sampling, duplicates) and chunked audio.

Media is generated at test time with ffmpeg's lavfi sources; exact frame times are
checked against ffprobe. The selector's rules are also tested on pure-numpy thumbnails.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from aima.core.errors import MediaRejected
from aima.core.settings import DecodeSettings, MediaLimits
from aima.media._keyframes import KeyframeSelector, Thumb, difference
from aima.media.decode import extract_frame
from aima.media.decoder import ChunkDecoder
from aima.media.ffmpeg import ffmpeg_available, tool_path
from aima.media.inspect import inspect_media
from aima.media.types import Frame, MediaInfo, MediaKind
from tests.mediagen import synth

from .conftest import needs_ffmpeg

SIZE = "160x120"
CUTS = (2.4, 4.2, 6.4)  # segment borders of the cuts video (frame-exact at 25 fps)
EVERY_FRAME = DecodeSettings(max_interval_s=1e-3, duplicate_threshold=0.0, max_side=64)


def _ffmpeg(path: Path, *args: str) -> Path:
    cmd = [tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y", *args]
    subprocess.run([*cmd, "file:" + str(path)], check=True, capture_output=True)
    return path


def _src(source: str, seconds: float, fps: str = "25", then: str = "") -> list[str]:
    graph = f"{source}size={SIZE}:rate={fps},trim=duration={seconds}{then}"
    return ["-f", "lavfi", "-i", graph]


def _h264(*extra: str) -> list[str]:
    return ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra]


def ffprobe_times(path: Path) -> list[float]:
    out = subprocess.run(
        [tool_path("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", "file:" + str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [round(float(line.strip(",")), 3) for line in out.split() if line.strip(",")]


def dominant_hz(samples: NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * rate / samples.size)


def chunks(duration: float, step: float) -> list[tuple[float, float]]:
    n = int(np.ceil(duration / step - 1e-9))
    return [(i * step, min(duration, (i + 1) * step)) for i in range(n)]


def decode_all(
    path: Path,
    info: MediaInfo,
    settings: DecodeSettings,
    spans: list[tuple[float, float]] | list[tuple[None, None]],
) -> list[list[Frame]]:
    dec = ChunkDecoder(path, info, settings)
    try:
        return [dec.frames(a, b) for a, b in spans]
    finally:
        dec.close()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, MediaInfo]]]:
    """The generated files, each with its ingest-time MediaInfo."""
    if not ffmpeg_available():
        pytest.skip("ffmpeg/ffprobe not installed (apt-get install ffmpeg)")
    d = tmp_path_factory.mktemp("decoder")
    noise = ",noise=alls=12:allf=t"
    seg = (2.4, 1.8, 2.2, 1.6)
    _ffmpeg(
        d / "cuts.mp4",
        *_src("testsrc2=", seg[0]),
        *_src("smptebars=", seg[1], then=noise),
        *_src("color=c=0x305080:", seg[2], then=noise),
        *_src("testsrc=", seg[3]),
        "-filter_complex", "[0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0[v]", "-map", "[v]", *_h264(),
    )  # fmt: skip
    _ffmpeg(d / "static.mp4", *_src("color=c=0x406080:", 10.0, then=noise), *_h264())
    _ffmpeg(d / "moving.mkv", *_src("testsrc2=", 10.0), *_h264())
    _ffmpeg(d / "ntsc.mkv", *_src("testsrc2=", 5.0, fps="30000/1001"), *_h264())
    # tone from 3.0 s on (silence before): an audio clock check
    _ffmpeg(
        d / "av.mp4",
        *_src("testsrc2=", 10.0),
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=10,"
        "volume=enable='lt(t,3)':volume=0",
        *_h264(), "-c:a", "aac", "-ac", "1", "-movflags", "+faststart",
    )  # fmt: skip
    synth.make_audio(d / "tone.wav", seconds=5.0, rate=44100, freq=440)
    synth.make_image(d / "photo.jpg", 400, 300, exif_orientation=6)
    _ffmpeg(d / "rotated.mp4", "-i", "file:" + str(d / "moving.mkv"), "-t", "1", "-c", "copy",
            "-metadata:s:v:0", "rotate=90")  # fmt: skip
    limits = MediaLimits()
    yield {p.stem: (p, inspect_media(p, limits)) for p in sorted(d.iterdir())}


# --- the selector on numpy thumbnails -----------------------------------------------------


def _flat(value: int, noise: int = 0, seed: int = 0) -> Thumb:
    rng = np.random.default_rng(seed)
    px = np.full((36, 64), value, dtype=np.int16) + rng.integers(-noise, noise + 1, (36, 64))
    return Thumb.from_thumbnail(px.clip(0, 255).astype(np.uint8))


def test_difference_is_normalised() -> None:
    a, b = _flat(40), _flat(200)
    assert difference(a, a) == 0.0
    assert difference(a, b) == pytest.approx(1.0)
    assert difference(_flat(100, 3, 1), _flat(100, 3, 2)) < 0.02  # sensor noise only


def test_selector_rules() -> None:
    sel = KeyframeSelector(max_interval_s=2.0, shot_threshold=0.35, duplicate_threshold=0.02)
    gradient = np.tile((np.arange(64) * 3).astype(np.uint8), (36, 1))
    same, other = Thumb.from_thumbnail(gradient), _flat(220)
    moved = Thumb.from_thumbnail(np.roll(gradient, 5, axis=1))  # motion: same histogram
    assert 0.02 < difference(same, moved) < 0.35
    assert sel.offer(0.0, same) == "shot" and sel.shot == 0  # the media's first frame
    assert sel.offer(1.0, same) is None
    assert sel.offer(2.0, same) is None  # interval due, but a near-duplicate: skipped
    assert sel.offer(2.5, moved) == "interval"  # due and different
    assert sel.offer(3.0, other) == "shot" and sel.shot == 1
    assert sel.offer(3.2, moved) is None  # a flash back within MIN_SHOT_S is no new shot
    sel.begin_chunk()
    assert sel.offer(4.0, same) == "interval"  # every chunk keeps its first frame
    sel.restart(9000, media_start=False)  # a seek: no predecessor, so no claim of a cut
    assert sel.offer(9.0, other) == "interval" and sel.shot == 9000
    sel.prime(other)
    sel.begin_chunk()
    assert sel.offer(9.04, same) == "shot" and sel.shot == 9001


# --- video ---------------------------------------------------------------------------


@needs_ffmpeg
def test_shot_starts_found_at_each_cut(media: dict[str, tuple[Path, MediaInfo]]) -> None:
    path, info = media["cuts"]
    frames = [f for c in decode_all(path, info, DecodeSettings(), chunks(8.0, 3.0)) for f in c]
    starts = [f.t for f in frames if f.reason == "shot"]
    assert starts[0] == 0.0 and len(starts) == 4, starts
    for found, cut in zip(starts[1:], CUTS, strict=True):
        assert abs(found - cut) <= 0.04 + 1e-9  # within one frame
    assert [f.shot for f in frames if f.reason == "shot"] == [0, 1, 2, 3]
    # the shot index of every frame is that of the last shot start before it
    for f in frames:
        assert f.shot == sum(f.t >= s for s in starts) - 1
    # static segments (noisy bars, flat colour) keep few frames; every chunk keeps one
    assert all(any(a <= f.t < b + 1e-9 for f in frames) for a, b in chunks(8.0, 3.0))
    assert all(f.image.shape == (120, 160, 3) and f.image.dtype == np.uint8 for f in frames)


@needs_ffmpeg
def test_sampling_moving_vs_static(media: dict[str, tuple[Path, MediaInfo]]) -> None:
    settings = DecodeSettings(max_interval_s=2.0)
    path, info = media["moving"]
    moving = decode_all(path, info, settings, [(0.0, info.duration_s or 0.0)])[0]
    assert [f.t for f in moving] == pytest.approx([0.0, 2.0, 4.0, 6.0, 8.0])
    assert [f.reason for f in moving] == ["shot"] + ["interval"] * 4
    path, info = media["static"]
    static = decode_all(path, info, settings, [(0.0, info.duration_s or 0.0)])[0]
    assert [f.t for f in static] == [0.0]  # every later interval frame is a near-duplicate
    keep_all = DecodeSettings(max_interval_s=2.0, duplicate_threshold=0.0)
    static = decode_all(path, info, keep_all, [(0.0, info.duration_s or 0.0)])[0]
    assert [f.t for f in static] == pytest.approx([0.0, 2.0, 4.0, 6.0, 8.0])
    # ...and with 4 s chunks each chunk still gets its first frame
    per_chunk = decode_all(path, info, settings, chunks(10.0, 4.0))
    assert [[f.t for f in c] for c in per_chunk] == [[0.0], [4.0], [8.0]]


@needs_ffmpeg
def test_timestamps_are_exact_presentation_times(media: dict[str, tuple[Path, MediaInfo]]) -> None:
    path, info = media["ntsc"]  # 29.97 fps: frame times are not round numbers
    settings = DecodeSettings(max_interval_s=0.5, duplicate_threshold=0.0)
    frames = [f for c in decode_all(path, info, settings, chunks(5.0, 1.7)) for f in c]
    truth = set(ffprobe_times(path))
    assert len(frames) >= 10 and all(f.t in truth for f in frames)
    assert any(f.t != round(f.t, 1) for f in frames)


@needs_ffmpeg
@pytest.mark.parametrize("name", ["cuts", "ntsc"])
def test_chunk_borders_sequential_and_resumed(
    media: dict[str, tuple[Path, MediaInfo]], name: str
) -> None:
    path, info = media[name]
    duration = info.duration_s or 0.0
    spans = chunks(duration, 1.23)  # borders fall between frames
    # keeping every frame shows that none is lost or doubled at a border
    every = decode_all(path, info, EVERY_FRAME, spans)
    assert [f.t for c in every for f in c] == ffprobe_times(path)
    for (a, b), chunk in zip(spans, every, strict=True):
        assert all(a <= f.t < b or (b == duration and f.t >= a) for f in chunk)
    # resumed at chunk 2 (a fresh decoder, seeking): the same frames from there on
    resumed = decode_all(path, info, EVERY_FRAME, spans[2:])
    assert [[f.t for f in c] for c in resumed] == [[f.t for f in c] for c in every[2:]]
    # with the real selection rules too, and the same shot boundaries
    sequential = decode_all(path, info, DecodeSettings(), spans)
    resumed = decode_all(path, info, DecodeSettings(), spans[2:])
    seq = [(f.t, f.reason) for c in sequential[2:] for f in c]
    assert [(f.t, f.reason) for c in resumed for f in c] == seq
    offsets = {
        r.shot - s.shot
        for r, s in zip(
            [f for c in resumed for f in c], [f for c in sequential[2:] for f in c], strict=True
        )
    }
    assert len(offsets) == 1 and offsets.pop() > 0  # never reuses an earlier shot index
    # a seek backwards (a second chunk plan over the same decoder) starts again cleanly
    dec = ChunkDecoder(path, info, DecodeSettings())
    try:
        first = [(f.t, f.shot, f.reason) for a, b in spans for f in dec.frames(a, b)]
        again = [(f.t, f.shot, f.reason) for a, b in spans for f in dec.frames(a, b)]
    finally:
        dec.close()
    assert first == again


@needs_ffmpeg
def test_scaling_and_rotation(media: dict[str, tuple[Path, MediaInfo]]) -> None:
    path, info = media["moving"]
    (frame, *_), *_ = decode_all(path, info, DecodeSettings(max_side=64), [(0.0, 2.0)])
    assert frame.image.shape == (48, 64, 3)
    path, info = media["rotated"]  # phone video: display matrix says "turn 90 degrees"
    (frame, *_), *_ = decode_all(path, info, DecodeSettings(), [(0.0, 1.0)])
    assert (frame.width, frame.height) == (info.width, info.height) == (120, 160)
    upright = np.asarray(extract_frame(path, info, 0.0, 1000), dtype=np.int16)
    assert np.abs(frame.image.astype(np.int16) - upright).mean() < 3


@needs_ffmpeg
def test_hardware_decoding_falls_back(media: dict[str, tuple[Path, MediaInfo]]) -> None:
    path, info = media["cuts"]
    spans = chunks(8.0, 4.0)
    auto = decode_all(path, info, DecodeSettings(hwaccel="auto"), spans)
    none = decode_all(path, info, DecodeSettings(hwaccel="none"), spans)
    assert [[(f.t, f.shot) for f in c] for c in auto] == [[(f.t, f.shot) for f in c] for c in none]


@needs_ffmpeg
def test_audio_only_and_image(media: dict[str, tuple[Path, MediaInfo]]) -> None:
    path, info = media["tone"]
    assert decode_all(path, info, DecodeSettings(), [(0.0, 5.0)]) == [[]]
    path, info = media["photo"]  # EXIF orientation 6: stored 400x300, shown 300x400
    ((frame,),) = decode_all(path, info, DecodeSettings(max_side=200), [(None, None)])
    assert (frame.t, frame.reason, frame.image.shape) == (0.0, "image", (200, 150, 3))
    dec = ChunkDecoder(path, info, DecodeSettings())
    with pytest.raises(MediaRejected, match="no audio stream"):
        dec.audio(None, None)
    path, info = media["moving"]
    with pytest.raises(MediaRejected, match="no audio stream"):
        ChunkDecoder(path, info, DecodeSettings()).audio(0.0, 2.0)


# --- audio ---------------------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("name", ["av", "tone"])
def test_audio_spans_overlap_and_clip(media: dict[str, tuple[Path, MediaInfo]], name: str) -> None:
    path, info = media[name]
    duration = info.duration_s or 0.0
    settings = DecodeSettings(audio_overlap_s=1.5)
    spans = chunks(duration, 2.0)
    dec = ChunkDecoder(path, info, settings)
    try:
        got = [dec.audio(a, b) for a, b in spans]
        again = dec.audio(*spans[1])  # backwards: a seek
    finally:
        dec.close()
    for (a, b), span in zip(spans, got, strict=True):
        lo, hi = max(0.0, a - 1.5), min(duration, b + 1.5)
        assert span.rate == 16000 and span.samples.dtype == np.float32
        assert (span.start_s, span.core_start_s, span.core_end_s) == (lo, a, b)
        assert abs(len(span.samples) - (hi - lo) * 16000) <= 1
    assert got[0].start_s == 0.0 and got[-1].end_s == pytest.approx(duration, abs=1e-3)
    # overlapping parts of neighbouring spans hold the same samples
    np.testing.assert_allclose(got[0].slice(0.5, 3.5), got[1].slice(0.5, 3.5), atol=1e-4)
    np.testing.assert_allclose(again.samples, got[1].samples, atol=1e-4)
    tone = got[-1].core()
    assert dominant_hz(tone, 16000) == pytest.approx(440, abs=4)


@needs_ffmpeg
def test_audio_clock_matches_media_time(media: dict[str, tuple[Path, MediaInfo]]) -> None:
    path, info = media["av"]  # silent until 3.0 s, then a tone
    for start in (2.0, 0.0):  # fresh decoder seeking to 2 s, and sequential from 0
        dec = ChunkDecoder(path, info, DecodeSettings(audio_overlap_s=1.0))
        try:
            span = [dec.audio(a, a + 2.0) for a in np.arange(start, 4.0, 2.0)][-1]
        finally:
            dec.close()
        loud = np.flatnonzero(np.abs(span.samples) > 0.05)
        onset = span.start_s + loud[0] / span.rate
        assert onset == pytest.approx(3.0, abs=0.01)


# --- damaged files -----------------------------------------------------------------------


@needs_ffmpeg
def test_truncated_video_fails_where_it_breaks(
    media: dict[str, tuple[Path, MediaInfo]], tmp_path: Path
) -> None:
    path, info = media["av"]  # 10 s, index at the front (faststart): playable when cut
    cut = synth.make_truncated(path, tmp_path / "cut.mp4", keep_fraction=0.6)
    dec = ChunkDecoder(cut, info, DecodeSettings())  # info as probed before the damage
    results: list[list[Frame] | MediaRejected] = []
    try:
        for a, b in chunks(10.0, 2.0):
            try:
                results.append(dec.frames(a, b))
            except MediaRejected as exc:
                results.append(exc)
        with pytest.raises(MediaRejected, match="truncated"):
            dec.audio(8.0, 10.0)
        assert len(dec.audio(0.0, 2.0).samples) == 4.0 * 16000  # before the damage: fine
    finally:
        dec.close()
    failed = [i for i, r in enumerate(results) if isinstance(r, MediaRejected)]
    assert failed and failed == list(range(failed[0], 5)) and failed[0] >= 2
    assert all(isinstance(r, list) and r for r in results[: failed[0]])
    first = results[failed[0]]
    assert isinstance(first, MediaRejected)
    match = re.search(r"video stream ends at (\d+\.\d+) s .* declares 10\.00 s", first.message)
    assert match, first.message
    assert 2 * failed[0] <= float(match.group(1)) < 2 * failed[0] + 2
    assert first.details["failed_at_s"] == pytest.approx(float(match.group(1)), abs=0.01)


def test_no_other_protocol_or_demuxer_is_followed(tmp_path: Path) -> None:
    """A playlist named .mp4 is opened with the mov demuxer it claims, never as HLS."""
    path = synth.make_playlist_as_mp4(tmp_path / "list.mp4")
    info = MediaInfo(MediaKind.VIDEO, "mp4", "video/mp4", path.stat().st_size, duration_s=20.0)
    dec = ChunkDecoder(path, info, DecodeSettings())
    with pytest.raises(MediaRejected, match="could not be opened"):
        dec.frames(0.0, 10.0)
    dec.close()
