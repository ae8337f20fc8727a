"""People pages in a real browser: gallery, rename, merge by drag & drop, undo, person page with
dossier citations, co-appearance graph; axe on each page; screenshots into tests/web/artifacts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import PeopleLibrary, Server, serious_axe_violations, use_case
from tests.web.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def persons(server: Server, lib: PeopleLibrary) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{server.url}/api/v1/persons",
        headers={"Authorization": f"Bearer {lib.token}"},
        params={"limit": 500},
    )
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def card(page: Any, person_id: str) -> Any:
    return page.locator(f"article[data-person-id='{person_id}']")


def test_rename_merge_by_drag_undo_and_the_person_page(
    page: Any, server: Server, people_library: PeopleLibrary, case_id: str, artifacts: Path
) -> None:
    everyone = persons(server, people_library)
    astronaut, other = everyone[0], everyone[1]  # most media first: the astronaut is in 3
    assert astronaut["media"] == 3 and astronaut["crop_media"], everyone
    use_case(page, case_id)  # the dossier and "seen before?" run under a case
    log_in(page, server, "admin")
    page.goto(f"{server.url}/people")
    page.get_by_role("heading", level=2, name="People").wait_for()
    page.get_by_text(f"Showing {len(everyone)} of {len(everyone)} persons").wait_for()
    first = card(page, astronaut["id"])
    first.get_by_role("img").wait_for()
    # the crop loads with the session cookie: wait for it to be decoded, not just attached
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=first.get_by_role("img").element_handle(),
    )
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "people.png"), full_page=True)

    # rename inline
    first.get_by_role("button", name=re.compile(r"^Rename ")).click()
    field = first.get_by_label("Name")
    field.fill("Eileen Collins")
    field.press("Enter")
    page.get_by_text("Renamed to Eileen Collins.").wait_for()
    first.get_by_role("link", name="Eileen Collins").wait_for()

    # merge by dragging the other card onto the astronaut's, then undo it from the notification
    card(page, other["id"]).drag_to(first)
    page.get_by_text("Merged into Eileen Collins.").wait_for()
    page.get_by_text(f"Showing {len(everyone) - 1} of {len(everyone) - 1} persons").wait_for()
    assert [p["id"] for p in persons(server, people_library)].count(other["id"]) == 0
    page.screenshot(path=str(artifacts / "people-merged.png"), full_page=True)
    page.get_by_role("status").get_by_role("button", name="Undo").last.click()
    page.get_by_text("Correction undone.").wait_for()
    page.get_by_text(f"Showing {len(everyone)} of {len(everyone)} persons").wait_for()
    card(page, other["id"]).wait_for()

    # the keyboard route to a merge: the menu opens and lists the others
    card(page, other["id"]).get_by_role("button", name="Merge into…").focus()
    page.keyboard.press("Enter")
    page.get_by_role("menuitem", name="Eileen Collins").wait_for()
    page.keyboard.press("Escape")

    # the person page: dossier with citations, graph, corrections with the undone merge
    first.get_by_role("link", name="Eileen Collins").click()
    page.wait_for_url(f"**/people/{astronaut['id']}")
    page.get_by_role("heading", level=2, name="Eileen Collins").wait_for()
    citation = page.get_by_role("link", name=re.compile(r"^\[F\d+: astronaut.*\.jpg ")).first
    citation.wait_for()
    graph = page.get_by_role("group", name="Who appears with Eileen Collins")
    node = graph.get_by_role("link").first
    node.wait_for()
    assert "shared media" in node.get_attribute("aria-label")
    corrections = page.locator("section[aria-labelledby='corr-title']")
    corrections.get_by_text(re.compile(r"^Merge · .*admin")).wait_for()
    corrections.get_by_text(re.compile(r"^Rename · .*admin")).wait_for()
    page.get_by_role("link", name="Download Markdown").wait_for()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "person.png"), full_page=True)

    # keyboard: a graph node takes focus and Enter follows it
    node.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/people/per_"))
    page.go_back()
    page.get_by_role("heading", level=2, name="Eileen Collins").wait_for()

    # a citation opens the media at the cited time
    href = citation.get_attribute("href")
    assert re.fullmatch(r"/media/med_\w+\?t=[\d.]+", href), href
    citation.click()
    page.wait_for_url(re.compile(r"/media/med_\w+\?t=[\d.]+$"))


def test_people_pages_at_phone_width_for_a_viewer(
    browser: Any, server: Server, people_library: PeopleLibrary, case_id: str, artifacts: Path
) -> None:
    everyone = persons(server, people_library)
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(90_000)  # generous: it only bites when something is wrong
    try:
        use_case(page, case_id)  # vera is a member of the admin's case
        log_in(page, server, "vera")
        page.goto(f"{server.url}/people")
        card(page, everyone[0]["id"]).wait_for()
        assert page.get_by_role("button", name="Merge into…").count() == 0  # viewers may not
        assert page.get_by_role("button", name=re.compile(r"^Rename ")).count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "people-viewer-375.png"), full_page=True)

        page.goto(f"{server.url}/people/{everyone[0]['id']}")
        page.get_by_role("heading", name="Dossier").wait_for()
        page.get_by_role("group", name=re.compile("^Who appears with")).wait_for()
        assert page.get_by_role("button", name=re.compile(r"^Split off")).count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "person-viewer-375.png"), full_page=True)
    finally:
        context.close()


def test_a_loader_on_screen_is_an_accessible_status(
    page: Any, server: Server, people_library: PeopleLibrary, case_id: str
) -> None:
    """axe while the person's summary is still loading. The test holds the summary request
    itself, so the loader is on screen for certain (axe does not race the answer); a loader's
    label must sit on an element with a role (``status``), where ARIA allows one."""
    everyone = persons(server, people_library)
    summary = re.compile(r"/api/v1/persons/[^/?]+/summary(\?.*)?$")
    held: list[Any] = []
    page.route(summary, lambda route: held.append(route))
    use_case(page, case_id)
    log_in(page, server, "admin")
    page.goto(f"{server.url}/people/{everyone[0]['id']}")
    panel = page.get_by_test_id("summary")
    loader = panel.get_by_label("Writing the summary…")
    loader.wait_for()
    assert held, "the summary was not requested through the held route"
    assert serious_axe_violations(page) == []

    for route in held:
        route.continue_()
    page.unroute(summary)  # (a request caught meanwhile goes on to the server)
    loader.wait_for(state="detached")  # the summary arrived and replaced it
    assert panel.get_by_role("alert").count() == 0
