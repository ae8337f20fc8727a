"""The media view in a real browser: the generated scenario video (faces, on-screen text, two voices)
analysed by a real worker, then played, sought from the timeline and the transcript, exported."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aima.media.ffmpeg import ffmpeg_available
from tests.conftest import TEST_SECRET
from tests.web.conftest import PASSWORDS, Server, serious_axe_violations, use_case
from tests.web.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANALYZERS = "faces,ocr,vad,transcribe,speakers,thumbnails"
PERSON = "Astrid Naut"


@dataclass
class Analysed:
    media_id: str
    timeline: dict[str, Any]


def _worker_env(server: Server) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMA_")}
    env.update(
        {
            "AIMA_ENV": "test",
            "AIMA_DATA_DIR": str(server.data_dir),
            "AIMA_DATABASE_URL": f"sqlite:///{server.data_dir}/aima.db",
            "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
            "AIMA_LOG_LEVEL": "WARNING",
        }
    )
    return env


@pytest.fixture(scope="module")
def analysed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Analysed]:
    """The scenario video uploaded through the API and analysed by `aima worker --drain`."""
    if not ffmpeg_available():
        pytest.skip("ffmpeg missing")
    from tests.mediagen.scenario import make_scenario

    scenario = make_scenario(tmp_path_factory.mktemp("media-view"))
    with httpx.Client(base_url=server.url, timeout=60) as api:
        token = api.post(
            "/api/v1/auth/login", json={"username": "admin", "password": PASSWORDS["admin"]}
        ).json()["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        up = api.post(
            "/api/v1/media",
            files=[("files", ("scenario.mp4", scenario.video.read_bytes(), "video/mp4"))],
            data={"analyze": "true", "analyzers": ANALYZERS},
        )
        assert up.status_code in (200, 201), up.text
        outcome = up.json()["files"][0]
        media_id, job_id = outcome["media_id"], outcome["job_id"]
        aima = Path(sys.executable).with_name("aima")
        done = subprocess.run(
            [str(aima), "worker", "--drain"],
            env=_worker_env(server),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        job = api.get(f"/api/v1/jobs/{job_id}").json()
        assert job["state"] in ("succeeded", "partial"), job
        # name the person of the first face track: lanes, transcript and exports show names
        timeline = api.get(f"/api/v1/media/{media_id}/timeline").json()
        first = timeline["tracks"]["faces"][0]
        if first.get("person_id"):
            r = api.patch(f"/api/v1/persons/{first['person_id']}", json={"name": PERSON})
            assert r.status_code == 200, r.text
            timeline = api.get(f"/api/v1/media/{media_id}/timeline").json()
        yield Analysed(media_id, timeline)


def _current_time(page: Any) -> float:
    return float(page.evaluate("document.querySelector('video').currentTime"))


def _wait_time(page: Any, low: float, high: float) -> None:
    page.wait_for_function(
        "([lo, hi]) => { const v = document.querySelector('video');"
        " return v && v.readyState >= 1 && v.currentTime >= lo && v.currentTime <= hi; }",
        arg=[low, high],
    )


def _open(page: Any, server: Server, media_id: str, query: str = "") -> None:
    page.goto(f"{server.url}/media/{media_id}{query}")
    page.get_by_test_id("timeline-canvas").wait_for()
    page.wait_for_function("document.querySelector('video')?.readyState >= 1")


def _click_span(page: Any, spans: list[dict[str, Any]], row: int) -> dict[str, Any]:
    """Click the middle of the first span on lane ``row``; the span the page will pick."""
    lanes = page.locator(".lane-canvas")
    view_start = float(lanes.get_attribute("data-view-start"))
    view_end = float(lanes.get_attribute("data-view-end"))
    ruler, height = float(lanes.get_attribute("data-ruler")), float(lanes.get_attribute("data-row"))
    width = page.get_by_test_id("timeline-canvas").bounding_box()["width"]
    first = min(spans, key=lambda s: s["start"])
    t = (first["start"] + first["end"]) / 2
    page.get_by_test_id("timeline-canvas").click(
        position={
            "x": (t - view_start) / (view_end - view_start) * width,
            "y": ruler + row * height + height / 2,
        }
    )
    tolerance = 3 / width * (view_end - view_start)
    hits = [s for s in spans if s["start"] <= t + tolerance and s["end"] >= t - tolerance]
    return sorted(hits, key=lambda s: s["start"])[-1]


def test_media_view_plays_seeks_and_exports(
    page: Any, server: Server, analysed: Analysed, case_id: str, artifacts: Path
) -> None:
    tracks = analysed.timeline["tracks"]
    faces, transcript = tracks["faces"], tracks["transcript"]
    assert faces and transcript, analysed.timeline["summary"]
    use_case(page, case_id)  # exports run under a case (purpose binding)
    log_in(page, server, "admin")
    _open(page, server, analysed.media_id)
    page.get_by_role("heading", level=2, name="scenario.mp4").wait_for()

    # a face lane span: lane 0 holds the faces of the first face item's person
    lane0 = [f for f in faces if f.get("person_id") == faces[0].get("person_id")]
    if faces[0].get("person_name") == PERSON:
        page.locator(".lane-titles li").first.get_by_text(PERSON).wait_for()
    span = _click_span(page, lane0, row=0)
    _wait_time(page, span["start"] - 0.05, span["end"])
    assert abs(_current_time(page) - span["start"]) < 0.1

    # a transcript word
    segment = transcript[min(1, len(transcript) - 1)]
    word = segment["words"][0]
    page.locator(f".transcript .word[data-start='{word['start']}']").first.click()
    _wait_time(page, word["start"] - 0.05, word["start"] + 0.05)
    page.locator(".transcript .word.current").first.wait_for()
    if segment.get("person_name"):
        assert (
            page.locator(".segment.current .segment-speaker").inner_text() == segment["person_name"]
        )

    # playing: the playhead and the transcript follow
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.play(); }")
    start = _current_time(page)
    _wait_time(page, start + 1.0, 1e9)
    page.locator(".playhead").wait_for()
    page.screenshot(path=str(artifacts / "media-view-playing.png"), full_page=True)
    page.evaluate("document.querySelector('video').pause()")
    assert serious_axe_violations(page) == []

    # exports through the page's menu
    files: dict[str, bytes] = {}
    for fmt, label in (
        ("json", "Timeline (JSON)"),
        ("csv", "Timeline (CSV)"),
        ("vtt", "Transcript (WebVTT)"),
        ("srt", "Transcript (SRT)"),
        ("pdf", "Report (PDF)"),
    ):
        page.get_by_role("button", name="Export").click()
        with page.expect_download() as info:
            page.get_by_role("menuitem", name=label).click()
        download = info.value
        assert download.suggested_filename == f"{analysed.media_id}.{fmt}"
        files[fmt] = Path(download.path()).read_bytes()
    vtt = files["vtt"].decode()
    assert vtt.startswith("WEBVTT") and re.search(r"\d\d:\d\d:\d\d\.\d{3} --> ", vtt)
    blocks = [b.splitlines() for b in files["srt"].decode().strip().split("\n\n")]
    assert blocks and all(b[0].isdigit() and " --> " in b[1] and len(b) >= 3 for b in blocks)
    rows = list(csv.DictReader(io.StringIO(files["csv"].decode())))
    assert list(rows[0]) == ["lane", "start", "end", "label", "speaker", "person", "confidence"]
    assert {"faces", "transcript", "ocr"} <= {r["lane"] for r in rows}
    assert files["pdf"].startswith(b"%PDF")
    assert b'"tracks"' in files["json"]


def test_media_view_opens_at_t_and_fits_a_phone(
    browser: Any, server: Server, analysed: Analysed, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, server, "admin")
        _open(page, server, analysed.media_id, "?t=15")
        _wait_time(page, 14.9, 15.1)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "media-view-375.png"), full_page=True)
    finally:
        context.close()
