"""Concurrent pixel bombs cannot exhaust memory: decodes share one memory budget.

Each PNG is a few hundred KB on disk but 6000 × 6000 RGB (108 MB) decoded: under the pixel
limit, so each is valid. Eight are ingested at once in a fresh process with a 150 MB decode
budget; the process's peak memory must stay near one decode, not eight.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from aima.media.decode_budget import DecodeBudget

SIDE = 6000
COUNT = 8
DECODED = SIDE * SIDE * 3

SCRIPT = r"""
import json, resource, sys, threading
from pathlib import Path
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings

pytestmark = pytest.mark.reliability

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
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(budget)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["outcomes"] == ["created"] * COUNT
    assert report["peak_reserved"] <= budget  # never two 108 MB decodes at once
    grew = report["after"] - report["before"]
    # unbounded, eight decodes at once would add ~860 MB; bounded, about one (~108 MB + copies)
    assert grew < 3 * DECODED, f"peak memory grew by {grew / 1e6:.0f} MB"


def test_an_image_larger_than_the_budget_still_decodes_alone() -> None:
    budget = DecodeBudget(100)
    with budget.reserve(10_000):
        assert budget.peak_reserved == 100
    with budget.reserve(40), budget.reserve(60):
        assert budget.peak_reserved == 100
