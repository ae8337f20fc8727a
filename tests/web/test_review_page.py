"""The review queue in a real browser: a restraint flagged by the real ``scenes`` analyzer
(through the real LLM client against the local VLM stand-in) is confirmed by an analyst; a
viewer sees no review page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aima.runtime import build_runtime
from tests.conftest import make_settings
from tests.web.conftest import PASSWORDS, Server, serious_axe_violations
from tests.web.test_browser import log_in, nav_links

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def bearer(server: Server, username: str) -> dict[str, str]:
    r = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": username, "password": PASSWORDS[username]},
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """conftest's page, but with the page's Content-Security-Policy bypassed so the axe-core
    check can inject its script (the served app forbids inline scripts, rightly)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.set_default_navigation_timeout(90_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def flagged_media(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A photo with a red band at the hands, analysed by ``scenes`` on the served database:
    the VLM stand-in reports handcuffs there, so one restraint waits for review."""
    from tests.analyzers import faces_fixtures as ff
    from tests.analyzers.test_scenes import scene_picture, vlm_settings
    from tests.fakes.vlm_server import running

    folder = tmp_path_factory.mktemp("review-media")
    with running() as fake:
        settings = make_settings(
            server.data_dir,
            f"sqlite:///{server.data_dir}/aima.db",
            allow_sensitive_analyzers=True,
            llm={"vlm": vlm_settings(fake)},
        )
        runtime = build_runtime(settings)
        try:
            job = ff.run_job(
                runtime, ff.save(scene_picture(), folder / "hallway.jpg"), ("thumbnails", "scenes")
            )
            assert job.state == "succeeded", job.outcome
        finally:
            runtime.close()
    yield str(job.media_id)


def test_analyst_confirms_a_flagged_restraint(
    page: Any, server: Server, flagged_media: str, artifacts: Path
) -> None:
    log_in(page, server, "ana")
    assert "Review" in nav_links(page)
    page.goto(f"{server.url}/review")
    page.get_by_role("heading", level=2, name="Review queue").wait_for()
    card = page.get_by_test_id("review-item").filter(has_text="handcuffs")
    card.wait_for()
    assert card.get_attribute("data-state") == "unreviewed"
    card.get_by_role("img", name="Evidence frame: handcuffs").wait_for()
    link = card.get_by_role("link")
    assert (link.get_attribute("href") or "").startswith(f"/media/{flagged_media}?t=")
    assert "Confidence" in card.inner_text()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "review-queue.png"), full_page=True)

    # dismissing needs a note: the dialog says so and nothing is sent
    card.get_by_role("button", name="Dismiss").click()
    dialog = page.get_by_role("dialog", name="Dismiss “handcuffs”")
    dialog.get_by_role("button", name="Dismiss").click()
    dialog.get_by_text("Enter a note to dismiss the finding.").wait_for()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "review-dismiss-dialog.png"))
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")

    card.get_by_role("button", name="Confirm").click()
    dialog = page.get_by_role("dialog", name="Confirm “handcuffs”")
    dialog.get_by_role("textbox", name="Note").fill("cuffs clearly visible on both wrists")
    dialog.get_by_role("button", name="Confirm").click()
    page.get_by_text("Nothing here.").wait_for()

    page.get_by_role("radiogroup", name="Show").locator("label", has_text="Confirmed").click()
    done = page.get_by_test_id("review-item").filter(has_text="handcuffs")
    done.wait_for()
    assert done.get_attribute("data-state") == "confirmed"
    assert "Note: cuffs clearly visible on both wrists" in done.inner_text()
    assert done.get_by_role("button", name="Confirm").count() == 0
    page.screenshot(path=str(artifacts / "review-confirmed.png"), full_page=True)

    # the decision is the server's, not the page's
    items = httpx.get(
        f"{server.url}/api/v1/review",
        params={"media_id": flagged_media},
        headers=bearer(server, "audrey"),
    ).json()
    assert [(i["label"], i["state"], i["note"]) for i in items] == [
        ("handcuffs", "confirmed", "cuffs clearly visible on both wrists")
    ]


def test_viewer_has_no_review_page(page: Any, server: Server, flagged_media: str) -> None:
    log_in(page, server, "vera")
    assert "Review" not in nav_links(page)
    page.goto(f"{server.url}/review")
    page.get_by_role("heading", level=2, name="Not allowed").wait_for()
    assert page.get_by_test_id("review-item").count() == 0
