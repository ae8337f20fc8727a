"""The Library page with 5,000 media: first paint, time until the grid shows cards, scroll frames.

Seeds 5,000 media rows (direct inserts through ``aima.store.models``; every row points at one
tiny fake blob, so no bytes are generated) plus a succeeded job per media into a temporary data
directory, starts ``aima serve`` on it, opens ``/library`` in Debian's Chromium (Playwright) and
prints:

- first paint / first contentful paint (PerformanceObserver ``paint``, from navigation start);
- grid ready: from navigation start until the first media card is in the DOM;
- scrolling to the bottom in steps of --step px (600) per animation frame: requestAnimationFrame deltas
  (p50 / p95 / max ms), and the time until the last card shows (pages of 200 load as needed);
- how many tiles exist in the DOM at the end (virtualisation keeps it small).

    .venv/bin/python -m benchmarks.web_library_bench [--media 5000] [--view grid|list]

Needs the built web app (npm --prefix web run build) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import make_settings
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, start_serve

from aima.core.clock import utcnow
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from aima.store.models import Job, Media

PASSWORD = "bench-password-123"

SCROLL_JS = """async (step) => {
  const deltas = [];
  let last = performance.now();
  const start = last;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  while (window.scrollY + window.innerHeight < document.documentElement.scrollHeight - 2) {
    window.scrollBy(0, step);
    await frame();
    const now = performance.now();
    deltas.push(now - last);
    last = now;
    if (now - start > 120000) break;
  }
  return { deltas, scroll_ms: performance.now() - start };
}"""


def seed(data: Path, count: int) -> str:
    db_url = f"sqlite:///{data}/aima.db"
    runtime = build_runtime(make_settings(data, db_url))
    try:
        admin = runtime.users.create(cli_principal(), "bench", PASSWORD, "admin")
        runtime.blobs.put_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")  # the one fake blob
        now = utcnow()
        kinds = ("image", "video", "audio")
        with runtime.db.session() as s:
            for i in range(count):
                kind = kinds[i % 3]
                media_id = f"med_bench{i:027d}"
                s.add(
                    Media(
                        id=media_id,
                        # unique per row (the column is unique); content is the one fake blob
                        sha256=hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
                        size=1000 + i,
                        kind=kind,
                        format={"image": "jpg", "video": "mp4", "audio": "wav"}[kind],
                        mime={"image": "image/jpeg", "video": "video/mp4", "audio": "audio/wav"}[
                            kind
                        ],
                        original_name=f"bench-{i:05d}.{kind}",
                        info={"duration_s": None if kind == "image" else 10.0 + i % 600},
                        uploaded_by=admin.id,
                        created_at=now - timedelta(seconds=i),
                    )
                )
                if i % 500 == 499:
                    s.flush()
            s.flush()
            for i in range(count):
                s.add(
                    Job(
                        id=f"job_bench{i:027d}",
                        media_id=f"med_bench{i:027d}",
                        analyzers=["thumbnails"],
                        state="succeeded",
                        created_at=now - timedelta(seconds=i),
                    )
                )
    finally:
        runtime.close()
    return db_url


def measure(url: str, view: str, count: int, step: int) -> dict[str, Any]:
    import playwright.sync_api as pw

    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{url}/login")
        page.locator("input[name=username]").fill("bench")
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.get_by_text("Signed in as bench").wait_for()
        except Exception:
            page.screenshot(path="/tmp/bench-login.png")
            raise
        # a fresh document: paint timings belong to the Library's own load
        page.add_init_script(
            "window.__paint = {}; new PerformanceObserver((l) => l.getEntries().forEach("
            "(e) => { window.__paint[e.name] = e.startTime; })).observe({ type: 'paint', buffered: true });"
        )
        wall = time.perf_counter()
        page.goto(f"{url}/library?view={view}")
        page.get_by_test_id("media-tile").first.wait_for()
        grid_ready = page.evaluate("performance.now()")
        wall_ready = time.perf_counter() - wall
        paint = page.evaluate("window.__paint")
        total = page.get_by_test_id("library-total").inner_text()
        scrolled = page.evaluate(SCROLL_JS, step)
        t0 = time.perf_counter()
        # the oldest media sorts last: its card shows once its page arrived after the scroll
        page.get_by_text(f"bench-{count - 1:05d}.", exact=False).wait_for()
        last_visible_ms = (time.perf_counter() - t0) * 1000
        tiles = page.locator("[data-testid=media-tile]").count()
        browser.close()
    deltas = scrolled["deltas"]
    q = statistics.quantiles(deltas, n=20) if len(deltas) >= 20 else [max(deltas)] * 19
    return {
        "view": view,
        "step_px": step,
        "total_label": total,
        "first_paint_ms": round(paint.get("first-paint", -1), 1),
        "first_contentful_paint_ms": round(paint.get("first-contentful-paint", -1), 1),
        "grid_ready_ms": round(grid_ready, 1),
        "grid_ready_wall_ms": round(wall_ready * 1000, 1),
        "scroll_frames": len(deltas),
        "scroll_ms": round(scrolled["scroll_ms"], 1),
        "frame_ms_p50": round(statistics.median(deltas), 2),
        "frame_ms_p95": round(q[18], 2),
        "frame_ms_max": round(max(deltas), 2),
        "last_card_after_scroll_ms": round(last_visible_ms, 1),
        "tiles_in_dom_at_end": tiles,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=5000)
    parser.add_argument("--view", choices=("grid", "list"), default="grid")
    parser.add_argument("--step", type=int, default=600, help="pixels scrolled per frame")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aima-library-bench-") as tmp:
        data = Path(tmp)
        t = time.perf_counter()
        db_url = seed(data, args.media)
        seeded_s = time.perf_counter() - t
        proc, url = start_serve(data, db_url)
        try:
            token = httpx.post(
                f"{url}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}
            ).json()["access_token"]
            t = time.perf_counter()
            page = httpx.get(
                f"{url}/api/v1/media",
                params={"limit": 200},
                headers={"Authorization": f"Bearer {token}"},
            )
            api_ms = (time.perf_counter() - t) * 1000
            assert page.json()["total"] == args.media, page.text[:200]
            result = measure(url, args.view, args.media, args.step)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    result |= {
        "media": args.media,
        "seed_s": round(seeded_s, 2),
        "api_page_200_ms": round(api_ms, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
