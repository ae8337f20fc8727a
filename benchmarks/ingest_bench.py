"""Ingest throughput: files/s and MB/s for generated images and videos (embedded default).

    python benchmarks/ingest_bench.py [--images 500] [--videos 20] [--postgres]

Media is generated first (not timed), then ingested through the real service:
type sniffing, ffprobe/decode checks, sha256, atomic blob write, DB rows, audit.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.mediagen import synth

from aima.core.settings import Settings
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from benchmarks.common import peak_rss_mb, say, table, temporary_pg_database


def generate(root: Path, images: int, videos: int) -> tuple[list[Path], list[Path]]:
    img_dir, vid_dir = root / "images", root / "videos"
    img_dir.mkdir()
    vid_dir.mkdir()
    imgs = [
        synth.make_image(img_dir / f"img_{i:04d}.jpg", width=1280, height=720, seed=i)
        for i in range(images)
    ]
    vids = [
        synth.make_video(
            vid_dir / f"vid_{i:03d}.mp4", seconds=10.0, width=1280, height=720, freq=300 + i
        )
        for i in range(videos)
    ]
    return imgs, vids


def run(root: Path, files: list[Path], label: str, database_url: str | None) -> dict[str, object]:
    data = root / f"data-{label}"
    settings = Settings(
        env="test",
        data_dir=data,
        database_url=database_url,
        auth={"jwt_secret": "b" * 40},
        log_level="WARNING",  # type: ignore[arg-type]
    )
    rt = build_runtime(settings)
    total_bytes = sum(p.stat().st_size for p in files)
    started = time.perf_counter()
    outcomes = rt.ingest.ingest_paths(files, cli_principal(), analyze=False)
    elapsed = time.perf_counter() - started
    rt.close()
    created = sum(o.status == "created" for o in outcomes)
    return {
        "set": label,
        "db": "postgresql" if database_url else "sqlite",
        "files": len(files),
        "created": created,
        "MB": round(total_bytes / 1e6, 1),
        "seconds": round(elapsed, 2),
        "files/s": round(len(files) / elapsed, 1),
        "MB/s": round(total_bytes / 1e6 / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--videos", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        imgs, vids = generate(root, args.images, args.videos)
        say(
            f"generated {len(imgs)} images (1280x720 JPEG) and {len(vids)} videos (10 s 720p H.264+AAC) in {time.perf_counter() - t:.1f}s"
        )
        rows = [run(root, imgs, "images", None), run(root, vids, "videos", None)]
        if args.postgres:
            for files, label in ((imgs, "images"), (vids, "videos")):
                with temporary_pg_database() as url:
                    rows.append(run(root, files, label + "-pg", url))
        say(table(rows))
        say(f"peak RSS: {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
