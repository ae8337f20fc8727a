"""Concurrent pixel bombs cannot exhaust memory: decodes share one memory budget.

Each PNG is a few hundred KB on disk but 6000 × 6000 RGB (108 MB) decoded: under the pixel
limit, so each is valid. Eight are ingested at once in a fresh process with a 150 MB decode
budget; the process's peak memory must stay near one decode, not eight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from aima.media.decode_budget import DecodeBudget

SIDE = 6000
COUNT = 8
DECODED = SIDE * SIDE * 3

pytestmark = pytest.mark.reliability

SCRIPT = r"""
import json, resource, sys, threading
from pathlib import Path
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings

root = Path(sys.argv[1])
files = sorted((root / "bombs").glob("*.png"))
rt = build_runtime(make_settings(
    root / "data", f"sqlite:///{root / 'aima.db'}", limits={"decode_memory_bytes": int(sys.argv[2])}
))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
gate = threading.Barrier(len(files))
outcomes = []

def go(path):
    gate.wait()
    outcomes.append(rt.ingest.ingest_file(path, cli_principal(), analyze=False).status)

threads = [threading.Thread(target=go, args=(p,)) for p in files]
for t in threads: t.start()
for t in threads: t.join()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"before": before, "after": after, "outcomes": outcomes,
                  "peak_reserved": rt.ingest.decode_budget.peak_reserved}))
rt.close()
"""


def test_eight_concurrent_bombs_cost_about_one_decode(tmp_path: Path) -> None:
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    for i in range(COUNT):
        img = Image.new("RGB", (SIDE, SIDE), (i * 20, 10, 10))
        img.putpixel((i, i), (255, 255, 255))  # distinct bytes: no dedup between them
        img.save(bombs / f"bomb{i}.png", optimize=False, compress_level=9)
        del img
    sizes = [p.stat().st_size for p in bombs.glob("*.png")]
    assert max(sizes) < 1_000_000  # small on disk
    budget = 150 * 1024 * 1024
    bounded = _ingest_all(tmp_path, "bounded", budget)
    assert bounded["outcomes"] == ["created"] * COUNT
    assert bounded["peak_reserved"] <= budget  # never two 108 MB decodes at once
    grew = bounded["after"] - bounded["before"]
    # unbounded, eight decodes at once add ~900 MB (measured); bounded, at most about one
    assert grew < 2 * DECODED, f"bounded peak memory grew by {grew / 1e6:.0f} MB"


def _ingest_all(root: Path, name: str, budget: int) -> dict[str, Any]:
    """Ingest every bomb concurrently in a fresh process (its own library) and report."""
    run = root / name
    run.mkdir()
    (run / "bombs").symlink_to(root / "bombs")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(run), str(budget)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parents[2],
        # one malloc arena: memory a finished decode freed is reused by the next one instead
        # of staying resident in that thread's arena (which would blur the measurement)
        env={**os.environ, "MALLOC_ARENA_MAX": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_an_image_larger_than_the_budget_still_decodes_alone() -> None:
    budget = DecodeBudget(100)
    with budget.reserve(10_000):
        assert budget.peak_reserved == 100
    with budget.reserve(40), budget.reserve(60):
        assert budget.peak_reserved == 100
