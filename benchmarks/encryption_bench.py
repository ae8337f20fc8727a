"""Encryption at rest: MB/s to seal and open blobs, ranged reads per second, peak RSS.

    python -m benchmarks.encryption_bench [--mb 256] [--ranges 500]

A random file of ``--mb`` MiB is stored through the real ``EncryptedBlobStore`` (local
directory backend, data keys in a SQLite database) and through the plain ``LocalBlobStore``
for comparison; then read back whole (decrypt), verified, and read as random 1 MiB ranges
(what HTTP Range requests for video do). Memory stays flat: blobs stream in chunks.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aima.core.settings import Settings
from aima.runtime import build_runtime
from aima.store.blobs import BlobStore, LocalBlobStore
from benchmarks.common import peak_rss_mb, say, table


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _drain(store: BlobStore, key: str) -> None:
    for _chunk in store.stream(key):
        pass


def measure(label: str, store: BlobStore, src: Path, mb: float, ranges: int) -> dict[str, object]:
    ref = store.put_file(src)
    store.delete(ref.sha256)
    put_s = _timed(lambda: store.put_file(src))
    key = store.put_file(src).sha256  # deduplicated: already there
    read_s = _timed(lambda: _drain(store, key))
    verify_s = _timed(lambda: store.verify(key))
    rng = random.Random(1)
    size = src.stat().st_size
    starts = [rng.randrange(0, max(1, size - (1 << 20))) for _ in range(ranges)]
    range_s = _timed(lambda: [b"".join(store.stream_range(key, s, 1 << 20)) for s in starts])
    return {
        "store": label,
        "write MB/s": mb / put_s,
        "read MB/s": mb / read_s,
        "verify MB/s": mb / verify_s,
        "1MiB ranges/s": ranges / range_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--ranges", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aima-enc-bench-") as tmp:
        root = Path(tmp)
        src = root / "blob.bin"
        with src.open("wb") as out:
            for _ in range(args.mb):
                out.write(os.urandom(1 << 20))
        settings = Settings(
            env="test",
            data_dir=root / "data",
            database_url=f"sqlite:///{root / 'aima.db'}",
            auth={"jwt_secret": "b" * 40},
            audit={"key_file": root / "keys" / "audit.key"},
            encryption={"kek_file": root / "keys" / "kek.json"},
            log_level="WARNING",
        )
        rt = build_runtime(settings)
        try:
            rows = [
                measure("plain (local)", LocalBlobStore(root / "plain"), src, args.mb, args.ranges),
                measure("encrypted (local)", rt.blobs, src, args.mb, args.ranges),
            ]
        finally:
            rt.close()
    say(f"{args.mb} MiB random file, {args.ranges} random 1 MiB ranges, AES-256-GCM 64 KiB chunks")
    say(table(rows))
    say(f"peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
