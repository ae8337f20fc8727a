"""Search (face photo, text) and Administration (users, audit chain, settings) in a real browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from aima.runtime import build_runtime
from tests.conftest import TEST_SECRET, make_settings
from tests.web.conftest import (
    PASSWORDS,
    PeopleLibrary,
    Server,
    serious_axe_violations,
    use_case,
)
from tests.web.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def bearer(server: Server, username: str) -> dict[str, str]:
    r = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": username, "password": PASSWORDS[username]},
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def spoken_media(server: Server) -> str:
    """A video whose transcript says "budget" at 12 s (results written like the analyzers')."""
    from tests.api.test_persons_api import Library

    runtime = build_runtime(make_settings(server.data_dir, f"sqlite:///{server.data_dir}/aima.db"))
    try:
        media_id = Library(runtime).add(
            "board-meeting.mp4",
            said=[(12.0, 15.0, "the quarterly budget meeting starts now")],
            voices={"narrator": (12.0, 15.0)},
        )
    finally:
        runtime.close()
    synced = httpx.post(
        f"{server.url}/api/v1/persons/sync", headers=bearer(server, "admin"), timeout=120
    )
    assert synced.status_code == 200, synced.text
    return media_id


def test_search_by_photo_finds_the_person(
    page: Any,
    server: Server,
    people_library: PeopleLibrary,
    case_id: str,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    from tests.analyzers.faces_fixtures import astronaut, save, variants

    query = save(variants(astronaut())["crop"], tmp_path / "who-is-this.jpg")
    use_case(page, case_id)  # face search runs under a case (purpose binding)
    log_in(page, server, "admin")
    page.goto(f"{server.url}/search?tab=face")
    page.get_by_role("tab", name="Face photo").wait_for()
    page.locator("input[type=file]").set_input_files(str(query))
    persons = page.get_by_test_id("person-hits").locator("li")
    persons.first.wait_for()
    assert "1 face found in the photo." in page.get_by_role("main").inner_text()
    astronaut_media = {
        people_library.media[n] for n in ("astronaut.jpg", "astronaut-mirrored.jpg", "pair.jpg")
    }
    links = page.get_by_test_id("query-result").get_by_role("link")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs and all(re.fullmatch(r"/media/med_\w+\?t=[\d.]+", h or "") for h in hrefs)
    assert {h.split("?")[0].removeprefix("/media/") for h in hrefs if h} <= astronaut_media
    assert re.search(r"\d+ %", persons.first.inner_text())
    page.get_by_role("img", name="Matching face").first.wait_for()  # crops load with the session
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "search-face.png"), full_page=True)

    # a text file is no photo: the API's own message is shown
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    page.locator("input[type=file]").set_input_files(str(notes))
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "The search was refused" in alert.inner_text() and "notes.txt" in alert.inner_text()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "search-face-rejected.png"), full_page=True)


def test_text_search_hit_opens_the_media_at_its_moment(
    page: Any, server: Server, spoken_media: str, artifacts: Path
) -> None:
    log_in(page, server, "admin")
    page.goto(f"{server.url}/search")
    page.get_by_role("textbox", name="Words in transcripts and on-screen text").fill("budget")
    page.get_by_role("button", name="Search", exact=True).click()
    hit = page.get_by_test_id("text-hits").get_by_role("link", name="board-meeting.mp4 at 0:12")
    hit.wait_for()
    assert "budget" in page.locator("mark").first.inner_text()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "search-text.png"), full_page=True)
    hit.click()
    page.wait_for_url(f"**/media/{spoken_media}?t=12")


def test_search_at_phone_width_in_german(
    browser: Any, server: Server, spoken_media: str, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, server, "admin")
        page.get_by_label("Language").select_option("de")
        page.goto(f"{server.url}/search")
        page.get_by_role("heading", level=2, name="Suche").wait_for()
        page.get_by_role("textbox", name="Wörter in Transkripten und eingeblendetem Text").fill(
            "budget"
        )
        page.get_by_role("button", name="Suchen", exact=True).click()
        page.get_by_role("link", name="board-meeting.mp4 bei 0:12").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "search-text-de-375.png"), full_page=True)
        page.goto(f"{server.url}/admin")
        page.get_by_role("tab", name="Benutzer").wait_for()
        page.get_by_role("cell", name="vera", exact=True).wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "admin-users-de-375.png"), full_page=True)
    finally:
        context.close()


def test_admin_creates_a_viewer_and_reads_redacted_settings(
    page: Any, server: Server, artifacts: Path
) -> None:
    log_in(page, server, "admin")
    page.goto(f"{server.url}/admin")
    tabs = page.get_by_role("tab")
    tabs.first.wait_for()
    assert tabs.all_inner_texts() == [
        "Users",
        "Audit log",
        "Settings",
        "Models",
        "Workers",
        "Budgets",
        "Quotas",
        "Retention",
    ]
    page.locator("input[name=new-username]").fill("victor")
    page.locator("input[name=new-password]").fill("victor-password-for-tests")
    page.locator("select[name=new-role]").select_option("viewer")
    page.get_by_role("button", name="Create user").click()
    page.get_by_text("User victor created.").wait_for()
    row = page.get_by_test_id("user-victor")
    assert row.get_by_label("Role of victor").input_value() == "viewer"
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "admin-users.png"), full_page=True)

    row.get_by_role("button", name="Disable victor").click()
    row.get_by_text("Disabled").wait_for()
    row.get_by_role("button", name="Enable victor").click()
    row.get_by_text("Active").wait_for()
    users = httpx.get(f"{server.url}/api/v1/users", headers=bearer(server, "admin")).json()
    assert {"username": "victor", "role": "viewer", "is_active": True}.items() <= next(
        u for u in users if u["username"] == "victor"
    ).items()

    page.get_by_role("tab", name="Settings").click()
    secret = page.get_by_role("row", name=re.compile(r"^auth\.jwt_secret"))
    secret.wait_for()
    assert "***" in secret.inner_text()
    assert TEST_SECRET not in page.content()
    policy = page.get_by_test_id("privacy-policy")  # purpose binding is on by default
    assert "dossiers and exports need an open case" in policy.inner_text()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "admin-settings.png"), full_page=True)

    page.get_by_role("tab", name="Models").click()
    page.get_by_role("table", name="Models").get_by_role("row").nth(1).wait_for()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "admin-models.png"), full_page=True)
    page.get_by_role("tab", name="Workers").click()
    page.get_by_role("table", name="Workers").wait_for()
    assert serious_axe_violations(page) == []


def test_auditor_verifies_the_audit_chain(page: Any, server: Server, artifacts: Path) -> None:
    log_in(page, server, "audrey")
    page.goto(f"{server.url}/admin")
    tabs = page.get_by_role("tab")
    tabs.first.wait_for()
    assert tabs.all_inner_texts() == ["Audit log", "Models", "Workers"]
    page.get_by_role("table", name="Audit events").get_by_role("row").nth(1).wait_for()
    page.get_by_role("button", name="Verify chain").click()
    result = page.get_by_test_id("verify-result")
    result.get_by_text(re.compile(r"Chain intact: \d+ events? verified\.")).wait_for()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "admin-audit.png"), full_page=True)
