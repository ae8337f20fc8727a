"""Keyframe extraction speed: AIMA's ChunkDecoder vs ``ffmpeg -f null`` vs PySceneDetect.

    .venv/bin/python -m benchmarks.keyframes_bench [--seconds 120] [--segment 5]

Generates (once, cached in the temp directory) a 1080p25 H.264 video (x264 ``veryfast``,
CRF 23: B-frames, CABAC) from several noisy lavfi sources, one hard cut every
``--segment`` seconds, then measures on the same file:

1. AIMA: ``ChunkDecoder.frames`` over 60 s chunks (decode every frame, thumbnail + shot
   detection for each, RGB for the kept ones): frames/s, x realtime, keyframes, peak RSS;
2. ``ffmpeg -i file -f null -`` (decode only): frames/s. Target: AIMA >= 0.8x;
3. PySceneDetect ``detect(path, ContentDetector())`` (OpenCV backend): time and cuts.
   Target: AIMA >= 2x faster, finding the same cuts.

Both cut lists are compared with the true cut times (within one frame). Wall times on a
shared machine are noisy: CPU seconds are printed too.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from aima.core.settings import DecodeSettings, MediaLimits
from aima.media.decoder import ChunkDecoder
from aima.media.ffmpeg import tool_path
from aima.media.inspect import inspect_media

from .common import say, table

FPS = 25


def _sources(noise: int) -> tuple[str, ...]:
    """The segments' lavfi graphs, in order (all 1920x1080); ``noise``: film grain strength."""
    grain = f"noise=alls={noise}:allf=t"
    return (
        f"testsrc2=size=1920x1080:rate={FPS},{grain}",  # moving pattern
        f"smptehdbars=size=1920x1080:rate={FPS},{grain}",  # static bars + grain
        f"life=size=480x270:rate={FPS}:mold=10:ratio=0.4:death_color=#1a2a3a:"
        f"life_color=#d0b080,scale=1920:1080:flags=neighbor,{grain}",  # busy
        f"gradients=size=1920x1080:rate={FPS}:speed=0.02,{grain}",  # slow colour drift
        f"testsrc2=size=2880x1080:rate={FPS},crop=1920:1080:x='t*150':y=0,{grain}",  # pan
        f"cellauto=size=480x270:rate={FPS}:rule=110,scale=1920:1080,{grain}",  # scrolling
    )


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)


def make_video(seconds: float, segment_s: float, noise: int) -> Path:
    """A cached 1080p test video of ``seconds`` with a cut every ``segment_s``."""
    cache = Path(tempfile.gettempdir()) / "aima-bench"
    cache.mkdir(exist_ok=True)
    base = cache / f"keyframes-base-{segment_s:g}-n{noise}.mp4"
    out = cache / f"keyframes-{seconds:g}-{segment_s:g}-n{noise}.mp4"
    if out.exists():
        return out
    ffmpeg = [tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-y"]
    sources = _sources(noise)
    if not base.exists():
        say(f"generating {len(sources)} x {segment_s:g} s of 1080p H.264 (once) ...")
        inputs: list[str] = []
        for src in sources:
            inputs += ["-f", "lavfi", "-i", f"{src},trim=duration={segment_s}"]
        links = "".join(f"[{i}:v]" for i in range(len(sources)))
        _run(
            [*ffmpeg, *inputs, "-filter_complex",
             f"{links}concat=n={len(sources)}:v=1:a=0,format=yuv420p[v]", "-map", "[v]",
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", str(base)]
        )  # fmt: skip
    loops = int(seconds // (segment_s * len(sources))) + 1
    _run(
        [*ffmpeg, "-stream_loop", str(loops), "-i", str(base), "-t", f"{seconds}", "-c", "copy",
         str(out)]
    )  # fmt: skip
    return out


def bench_aima(path: Path, chunk_s: float) -> dict[str, Any]:
    info = inspect_media(path, MediaLimits())
    duration = info.duration_s or 0.0
    decoder = ChunkDecoder(path, info, DecodeSettings())
    cpu0, wall0 = _cpu()[0], time.perf_counter()
    kept: list[tuple[float, str]] = []  # the images are dropped after each chunk, as in a job
    start = 0.0
    try:
        while start < duration - 1e-9:
            end = min(duration, start + chunk_s)
            kept += [(f.t, f.reason) for f in decoder.frames(start, end)]
            start = end
    finally:
        decoder.close()
    wall = time.perf_counter() - wall0
    return {
        "wall": wall,
        "cpu": _cpu()[0] - cpu0,
        "duration": duration,
        "keyframes": len(kept),
        "cuts": [t for t, reason in kept if reason == "shot" and t > 0],
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_ffmpeg(path: Path) -> dict[str, Any]:
    cpu0, wall0 = _cpu()[1], time.perf_counter()
    _run([tool_path("ffmpeg"), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path),
          "-map", "0:v:0", "-f", "null", "-"])  # fmt: skip
    return {"wall": time.perf_counter() - wall0, "cpu": _cpu()[1] - cpu0}


def bench_scenedetect(path: Path) -> dict[str, Any]:
    try:
        from scenedetect import ContentDetector, detect
    except ImportError as exc:  # installed --no-deps: a missing dependency shows up here
        return {"error": f"scenedetect not importable: {exc}"}
    cpu0, wall0 = _cpu()[0], time.perf_counter()
    scenes = detect(str(path), ContentDetector(), backend="opencv")
    return {
        "wall": time.perf_counter() - wall0,
        "cpu": _cpu()[0] - cpu0,
        "cuts": [start.seconds for start, _ in scenes[1:]],
    }


def compare(found: list[float], truth: list[float], tol: float = 1.0 / FPS + 1e-3) -> str:
    hits = sum(any(abs(f - t) <= tol for f in found) for t in truth)
    extra = sum(not any(abs(f - t) <= tol for t in truth) for f in found)
    return f"{hits}/{len(truth)} (+{extra} other)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the test video")
    parser.add_argument("--segment", type=float, default=5.0, help="seconds between cuts")
    parser.add_argument("--chunk", type=float, default=60.0, help="ChunkDecoder chunk length")
    parser.add_argument(
        "--noise", type=int, default=4, help="grain strength: 4 ~ 20 Mb/s, 10 ~ 55 Mb/s"
    )
    args = parser.parse_args()

    path = make_video(args.seconds, args.segment, args.noise)
    info = inspect_media(path, MediaLimits())
    duration = info.duration_s or 0.0
    n_frames = round(duration * FPS)
    truth = [args.segment * k for k in range(1, int(duration / args.segment - 1e-9) + 1)]
    mbit = path.stat().st_size * 8 / duration / 1e6
    say(f"{path.name}: {info.width}x{info.height} {info.video_codec}, {duration:.1f} s, "
        f"{n_frames} frames, {mbit:.1f} Mb/s, {len(truth)} cuts")  # fmt: skip

    ff = bench_ffmpeg(path)
    aima = bench_aima(path, args.chunk)
    sd = bench_scenedetect(path)

    rows: list[dict[str, object]] = [
        {
            "tool": "ffmpeg -f null (decode only)",
            "wall_s": ff["wall"],
            "cpu_s": ff["cpu"],
            "fps": n_frames / ff["wall"],
            "x_realtime": duration / ff["wall"],
            "keyframes": "-",
            "cuts found": "-",
        },
        {
            "tool": f"AIMA ChunkDecoder ({args.chunk:g} s chunks)",
            "wall_s": aima["wall"],
            "cpu_s": aima["cpu"],
            "fps": n_frames / aima["wall"],
            "x_realtime": duration / aima["wall"],
            "keyframes": aima["keyframes"],
            "cuts found": compare(aima["cuts"], truth),
        },
    ]
    if "error" in sd:
        say(sd["error"])
    else:
        rows.append(
            {
                "tool": "PySceneDetect ContentDetector (opencv)",
                "wall_s": sd["wall"],
                "cpu_s": sd["cpu"],
                "fps": n_frames / sd["wall"],
                "x_realtime": duration / sd["wall"],
                "keyframes": "-",
                "cuts found": compare(sd["cuts"], truth),
            }
        )
    say(table(rows))
    say(f"AIMA peak RSS {aima['rss_mb']:.0f} MiB")
    say(f"AIMA / ffmpeg throughput: {ff['wall'] / aima['wall']:.2f}x (target >= 0.8)")
    if "error" not in sd:
        say(f"AIMA vs PySceneDetect: {sd['wall'] / aima['wall']:.2f}x faster (target >= 2)")
        ours, theirs = aima["cuts"], sd["cuts"]
        same = compare(ours, theirs)
        say(f"cuts: AIMA {len(ours)}, PySceneDetect {len(theirs)}, AIMA's matching theirs {same}")


if __name__ == "__main__":
    main()
