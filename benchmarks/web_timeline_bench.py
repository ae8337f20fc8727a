"""The Media view with a 10,000-event timeline: time until the lanes are drawn and the transcript shows.

Seeds one media (a small real video made by ``tests/mediagen/synth.py``, ingested without
analysis; its ``duration_s`` is then stretched to --duration so the events spread over an hour)
plus one succeeded job with accepted results built directly from the typed models in
``aima.results`` (each validated through ``Model.build(...).dump()`` before it is inserted):

- ``ocr``: --ocr lines (4,000), one per keyframe slot;
- ``transcribe``: --segments segments (3,000) of 6 words each;
- ``vad``: --vad speech segments (3,000);
- ``faces``: --tracks face tracks (600) of 2 detections each, keyframes every 2 s.

It starts ``aima serve`` on the data directory, times ``GET /timeline`` (and ``/results``) over
HTTP, then opens ``/media/<id>`` in Debian's Chromium (Playwright) and prints, from navigation
start (``performance.now()`` in the page, sampled every animation frame):

- timeline drawn: the ``timeline-canvas`` exists, has a size and non-transparent pixels;
- transcript visible: the first transcript segment has a box;
- the browser-side fetch time of the ``/timeline`` response (Resource Timing);
- how many items the served timeline holds (all lanes, speaker turns counted one by one).

    .venv/bin/python -m benchmarks.web_timeline_bench [--duration 3600] [--runs 3]

Needs the built web app (npm --prefix web run build), ffmpeg and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import make_settings
from tests.mediagen.synth import make_video
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, start_serve

from aima.core.clock import utcnow
from aima.results import AnalyzerResult
from aima.results.audio import TranscribeResult, VadResult
from aima.results.vision import FacesResult, OcrResult
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from aima.store.models import AnalysisResult, Job, Media
from benchmarks.common import say, table

PASSWORD = "bench-password-123"
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "again", "today")

# Sampled every animation frame from the first script run: when the lanes canvas has pixels
# and when the first transcript segment has a box (both as performance.now(), from navigation).
MARKS_JS = """(() => {
  window.__marks = {};
  const drawn = (c) => {
    if (!c.width || !c.height) return false;
    const ctx = c.getContext("2d");
    if (!ctx) return false;
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  };
  const tick = () => {
    const m = window.__marks;
    if (m.canvas === undefined) {
      const c = document.querySelector("[data-testid=timeline-canvas]");
      if (c && drawn(c)) m.canvas = performance.now();
    }
    if (m.transcript === undefined) {
      const li = document.querySelector("ol.transcript li");
      if (li && li.getBoundingClientRect().height > 0) m.transcript = performance.now();
    }
    if (m.canvas === undefined || m.transcript === undefined) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""

RESOURCE_JS = """(suffix) => {
  const e = performance.getEntriesByType("resource").find((r) => r.name.endsWith(suffix));
  return e ? { start: e.startTime, end: e.responseEnd, bytes: e.encodedBodySize } : null;
}"""


def build_results(
    duration: float, n_ocr: int, n_seg: int, n_vad: int, n_tracks: int
) -> dict[str, AnalyzerResult]:
    """The typed results, validated the way the runner validates an analyzer's output."""
    keyframes = [round(t * 2.0, 3) for t in range(int(duration // 2))]
    slot = duration / n_ocr
    ocr = OcrResult.build(
        {
            "lines": [
                {
                    "start": round(i * slot, 3),
                    "end": round(i * slot + slot * 0.8, 3),
                    "text": f"SIGN {i:05d} {WORDS[i % len(WORDS)].upper()}",
                    "box": [0.1, 0.8, 0.5, 0.08],
                    "confidence": 0.9,
                    "language": "en",
                    "engine": "bench",
                }
                for i in range(n_ocr)
            ],
            "text": "bench",
        }
    )
    step = duration / n_seg
    segments = []
    for i in range(n_seg):
        start = i * step
        w = step * 0.9 / 6
        said = [" " + WORDS[(i + j) % len(WORDS)] for j in range(6)]
        words = [
            {
                "start": round(start + j * w, 3),
                "end": round(start + (j + 1) * w, 3),
                "word": said[j],
                "probability": 0.8,
            }
            for j in range(6)
        ]
        segments.append(
            {
                "start": round(start, 3),
                "end": round(start + step * 0.9, 3),
                "text": "".join(said),
                "confidence": 0.8,
                "words": words,
            }
        )
    transcribe = TranscribeResult.build(
        {"segments": segments, "text": "bench", "language": "en", "engine": "bench"}
    )
    vstep = duration / n_vad
    vad = VadResult.build(
        {
            "segments": [
                {
                    "start": round(i * vstep, 3),
                    "end": round(i * vstep + vstep * 0.7, 3),
                    "confidence": 0.9,
                }
                for i in range(n_vad)
            ],
            "speech_s": round(duration * 0.7, 3),
        }
    )
    faces: list[dict[str, Any]] = []
    tracks: list[dict[str, Any]] = []
    tstep = duration / n_tracks
    for k in range(n_tracks):
        t0, t1 = round(k * tstep, 3), round(k * tstep + tstep * 0.5, 3)
        first = len(faces)
        for t in (t0, t1):
            faces.append(
                {
                    "t": t,
                    "box": [0.3, 0.2, 0.2, 0.3],
                    "confidence": 0.95,
                    "face_index": 0,
                    "track": k,
                }
            )
        tracks.append(
            {"id": k, "start": t0, "end": t1, "detections": [first, first + 1], "best": first}
        )
    face_result = FacesResult.build(
        {
            "faces": faces,
            "tracks": tracks,
            "count": len(faces),
            "frames": len(keyframes),
            "keyframes": keyframes,
            "model_id": "bench",
        }
    )
    return {"ocr": ocr, "transcribe": transcribe, "vad": vad, "faces": face_result}


def seed(data: Path, args: argparse.Namespace) -> tuple[str, str]:
    db_url = f"sqlite:///{data}/aima.db"
    runtime = build_runtime(make_settings(data, db_url))
    try:
        runtime.users.create(cli_principal(), "bench", PASSWORD, "admin")
        video = make_video(data / "bench.mp4", seconds=2.0, width=160, height=120)
        outcome = runtime.ingest.ingest_file(video, cli_principal(), analyze=False)
        assert outcome.media_id, outcome
        media_id = str(outcome.media_id)
        results = build_results(args.duration, args.ocr, args.segments, args.vad, args.tracks)
        now = utcnow()
        with runtime.db.session() as s:
            media = s.get(Media, media_id)
            assert media is not None
            media.info = {**media.info, "duration_s": args.duration}
            job_id = "job_timelinebench0000000000000000"
            s.add(
                Job(
                    id=job_id,
                    media_id=media_id,
                    analyzers=sorted(results),
                    state="succeeded",
                    created_at=now,
                )
            )
            s.flush()
            for name, result in results.items():
                s.add(
                    AnalysisResult(
                        id=f"res_bench_{name}"[:40],
                        media_id=media_id,
                        job_id=job_id,
                        analyzer=name,
                        analyzer_version="bench",
                        model_id="bench",
                        config={},
                        config_hash=hashlib.sha256(name.encode()).hexdigest(),
                        data=result.dump(),
                        created_at=now,
                        accepted=True,
                        accepted_at=now,
                        accepted_by="bench",
                    )
                )
    finally:
        runtime.close()
    return db_url, media_id


def count_items(timeline: dict[str, Any]) -> dict[str, int]:
    counts = {name: len(items) for name, items in timeline["tracks"].items()}
    turns = sum(len(s.get("turns", [])) for s in timeline["tracks"].get("speakers", []))
    return counts | ({"speaker_turns": turns} if turns else {})


def timed_get(client: httpx.Client, path: str, runs: int) -> tuple[list[float], httpx.Response]:
    times = []
    resp = None
    for _ in range(runs):
        t = time.perf_counter()
        resp = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        resp.raise_for_status()
    assert resp is not None
    return times, resp


def measure(url: str, media_id: str, runs: int) -> list[dict[str, Any]]:
    import playwright.sync_api as pw

    rows = []
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{url}/login")
        page.locator("input[name=username]").fill("bench")
        page.locator("input[name=password]").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        try:
            page.get_by_text("Signed in as bench").wait_for()
        except Exception:
            page.screenshot(path="/tmp/bench-timeline-login.png")
            raise
        page.add_init_script(MARKS_JS)
        for run in range(runs):
            wall = time.perf_counter()
            page.goto(f"{url}/media/{media_id}")
            try:
                page.wait_for_function(
                    "window.__marks && window.__marks.canvas !== undefined"
                    " && window.__marks.transcript !== undefined",
                    polling=100,
                )
            except Exception:
                page.screenshot(path="/tmp/bench-timeline.png")
                raise
            wall_ms = (time.perf_counter() - wall) * 1000
            marks = page.evaluate("window.__marks")
            res = page.evaluate(RESOURCE_JS, f"/media/{media_id}/timeline")
            segs = page.locator("ol.transcript li").count()
            rows.append(
                {
                    "run": run + 1,
                    "timeline_drawn_ms": round(float(marks["canvas"]), 1),
                    "transcript_visible_ms": round(float(marks["transcript"]), 1),
                    "both_wall_ms": round(wall_ms, 1),
                    "timeline_fetch_ms": round(res["end"] - res["start"], 1) if res else -1.0,
                    "timeline_response_end_ms": round(res["end"], 1) if res else -1.0,
                    "transcript_li": segs,
                }
            )
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3600.0, help="media seconds")
    parser.add_argument("--ocr", type=int, default=4000)
    parser.add_argument("--segments", type=int, default=3000)
    parser.add_argument("--vad", type=int, default=3000)
    parser.add_argument("--tracks", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3, help="page loads (and API calls)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aima-timeline-bench-") as tmp:
        data = Path(tmp)
        t = time.perf_counter()
        db_url, media_id = seed(data, args)
        seeded_s = time.perf_counter() - t
        proc, url = start_serve(data, db_url)
        try:
            token = httpx.post(
                f"{url}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}
            ).json()["access_token"]
            with httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120
            ) as client:
                api, resp = timed_get(client, f"/api/v1/media/{media_id}/timeline", args.runs)
                res_api, res_resp = timed_get(client, f"/api/v1/media/{media_id}/results", 1)
            counts = count_items(resp.json())
            total = sum(counts.values())
            assert total >= 10_000, counts
            rows = measure(url, media_id, args.runs)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    say(f"seeded in {seeded_s:.2f} s; timeline items {total}: {counts}")
    say(
        table(
            [
                {
                    "endpoint": "GET /timeline",
                    "bytes": len(resp.content),
                    "runs": len(api),
                    "median_ms": statistics.median(api),
                    "min_ms": min(api),
                    "max_ms": max(api),
                },
                {
                    "endpoint": "GET /results",
                    "bytes": len(res_resp.content),
                    "runs": 1,
                    "median_ms": res_api[0],
                    "min_ms": res_api[0],
                    "max_ms": res_api[0],
                },
            ]
        )
    )
    say("")
    say(table(rows))


if __name__ == "__main__":
    main()
