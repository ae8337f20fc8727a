"""The Library in a real browser against a real `aima serve`: 30 generated media (images and
audio) uploaded through the API, filtered by kind, searched by name, two selected (click, then
Space) and deleted after a confirmation that names the count; axe and screenshots (desktop, 375 px)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from aima.media.wav import write_wav
from tests.mediagen import synth
from tests.web.conftest import PASSWORDS, Server, serious_axe_violations
from tests.web.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PREFIX = "libtest"
IMAGES, AUDIO = 26, 4


@pytest.fixture(scope="module")
def seeded(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """30 media named ``libtest-…`` uploaded by the admin (analysis queued: no worker runs)."""
    folder = tmp_path_factory.mktemp("library-media")
    paths = [
        synth.make_image(folder / f"{PREFIX}-photo-{i:02d}.jpg", 96, 64, seed=100 + i)
        for i in range(IMAGES)
    ]
    rate = 16_000
    for i in range(AUDIO):
        t = np.arange(rate, dtype=np.float32) / rate
        tone = (0.3 * np.sin(2 * np.pi * (220 + 40 * i) * t)).astype(np.float32)
        paths.append(write_wav(folder / f"{PREFIX}-voice-{i:02d}.wav", tone, rate))
    login = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": "admin", "password": PASSWORDS["admin"]},
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    r = httpx.post(f"{server.url}/api/v1/media", files=files, headers=headers, timeout=120)
    assert r.status_code == 201, r.text
    outcomes = r.json()["files"]
    assert [o["status"] for o in outcomes] == ["created"] * (IMAGES + AUDIO), outcomes
    return {o["name"]: o["media_id"] for o in outcomes}


def _total(page: Any) -> str:
    text: str = page.get_by_test_id("library-total").inner_text()
    return text


def test_filter_search_select_and_delete(
    page: Any, server: Server, seeded: dict[str, str], artifacts: Path
) -> None:
    log_in(page, server, "admin")
    page.goto(f"{server.url}/library?q={PREFIX}")
    page.get_by_role("heading", level=2, name="Library").wait_for()
    page.get_by_test_id("library-total").filter(has_text="30 media").wait_for()
    tiles = page.get_by_test_id("media-tile")
    tiles.first.wait_for()
    assert tiles.count() >= 8  # the first rows of the grid; the rest are virtual
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "library-grid.png"), full_page=False)

    # filter by kind: audio only (the filter panel opens, the address keeps it)
    page.get_by_role("button", name="Filters").click()
    page.get_by_label("Kind", exact=True).first.click()
    page.get_by_role("option", name="Audio").click()
    page.get_by_test_id("library-total").filter(has_text=f"{AUDIO} media").wait_for()
    page.wait_for_url("**kind=audio**")
    assert tiles.count() == AUDIO
    assert all("voice" in name for name in tiles.locator(".lib-name").all_inner_texts())
    page.get_by_role("button", name="Reset filters").click()

    # search by name (debounced into the address bar)
    name = page.get_by_role("searchbox", name="Name")
    name.fill(f"{PREFIX}-photo-1")
    page.get_by_test_id("library-total").filter(has_text="10 media").wait_for()  # 10..19
    page.wait_for_url("**q=libtest-photo-1**")

    # list view, then select two: a click on the first checkbox, Space on the second card's link
    page.get_by_text("List", exact=True).click()
    page.locator("[data-view=list]").wait_for()
    first = tiles.nth(0)
    second = tiles.nth(1)
    doomed = {first.get_attribute("data-media-id"), second.get_attribute("data-media-id")}
    first.get_by_role("checkbox").click()
    second.get_by_role("link").focus()
    page.keyboard.press("Space")
    assert page.get_by_test_id("selected-count").inner_text() == "2 selected"
    assert page.url.endswith("view=list") or "view=list" in page.url  # Space did not navigate
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "library-list-selected.png"), full_page=False)

    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete 2 media?")
    dialog.wait_for()
    page.wait_for_function(  # the dialog's fade-in is over (axe judges contrast mid-fade)
        "() => { const d = document.querySelector('[role=dialog]');"
        " const root = d && (d.closest('.mantine-Modal-root') || d.parentElement);"
        " return !!root && root.getAnimations({ subtree: true }).length === 0; }"
    )
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "library-delete-confirm.png"), full_page=False)
    dialog.get_by_role("button", name="Delete 2 media").click()
    page.get_by_role("status").filter(has_text="2 media deleted.").wait_for()
    page.get_by_test_id("library-total").filter(has_text="8 media").wait_for()
    assert page.get_by_test_id("selected-count").inner_text() == "0 selected"
    remaining = {t.get_attribute("data-media-id") for t in tiles.all()}
    assert not (doomed & remaining)

    page.goto(f"{server.url}/library?q={PREFIX}")
    page.get_by_test_id("library-total").filter(has_text="28 media").wait_for()


def test_library_at_phone_width(
    browser: Any, server: Server, seeded: dict[str, str], artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, server, "admin")
        page.goto(f"{server.url}/library?q={PREFIX}")
        page.get_by_test_id("media-tile").first.scroll_into_view_if_needed()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "library-375.png"), full_page=False)
    finally:
        context.close()
