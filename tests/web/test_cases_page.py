"""Cases (purpose binding) in a real browser: without a case a guarded page prompts for one, a
case opened in the UI becomes the current one and face search and the dossier work under it,
members are added and removed, a closed case's refusal is shown; axe and a 375 px phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.web.conftest import (
    PASSWORDS,
    PeopleLibrary,
    Server,
    bearer,
    open_case,
    serious_axe_violations,
    start_serve,
    use_case,
)
from tests.web.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/shots")


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def current_case(page: Any) -> str | None:
    value: str | None = page.evaluate("sessionStorage.getItem('aima.case')")
    return value


def test_no_case_prompts_then_a_case_opened_in_the_ui_lets_face_search_run(
    page: Any, server: Server, people_library: PeopleLibrary, artifacts: Path, tmp_path: Path
) -> None:
    from tests.analyzers.faces_fixtures import astronaut, save, variants

    query = save(variants(astronaut())["crop"], tmp_path / "who-is-this.jpg")
    log_in(page, server, "ana")  # an analyst: a member of the cases they open, of no other
    page.goto(f"{server.url}/search?tab=face")
    page.locator("input[type=file]").set_input_files(str(query))
    prompt = page.get_by_test_id("case-prompt")
    prompt.wait_for()
    assert "Choose or open a case to search by face" in prompt.inner_text()
    assert page.get_by_test_id("person-hits").count() == 0
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "cases-prompt-search")

    # the prompt's link opens the form; the new case becomes the current one
    prompt.get_by_role("link", name="Open a new case").click()
    page.wait_for_url("**/cases?new=1")
    form = page.locator("form[aria-labelledby='new-case-title']")
    form.get_by_label("Title").fill("Who is the astronaut?")
    form.get_by_label("Legal basis").select_option("public_task")
    form.get_by_label("Justification").fill("Identify the person in the press photos we received.")
    form.get_by_role("button", name="Open case").click()
    page.get_by_text("Case “Who is the astronaut?” opened").wait_for()
    created = current_case(page)
    assert created and created.startswith("case")
    header_picker = page.get_by_test_id("case-picker-header")
    assert header_picker.input_value() == created
    card = page.get_by_test_id("case-card").filter(has_text="Who is the astronaut?")
    card.get_by_text("Current case").wait_for()
    assert "Public task" in card.inner_text() and "ana" in card.inner_text()
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "cases-created")

    # the same search now runs under the case
    page.goto(f"{server.url}/search?tab=face")
    page.locator("input[type=file]").set_input_files(str(query))
    page.get_by_test_id("person-hits").locator("li").first.wait_for()
    assert page.get_by_test_id("case-prompt").count() == 0
    shot(page, artifacts, "cases-search-under-case")

    # the API saw the case: the face search's audit event names it
    audit = httpx.get(
        f"{server.url}/api/v1/audit",
        headers=bearer(server, "admin"),
        params={"limit": 50},
    )
    assert audit.status_code == 200, audit.text
    assert created in audit.text


def test_members_and_closing_in_the_ui_and_a_closed_case_is_refused(
    page: Any, server: Server, people_library: PeopleLibrary, artifacts: Path
) -> None:
    person = httpx.get(
        f"{server.url}/api/v1/persons",
        headers={"Authorization": f"Bearer {people_library.token}"},
        params={"limit": 1},
    ).json()["items"][0]
    log_in(page, server, "admin")

    # the person page without a case: the dossier and "seen before?" prompt for one
    page.goto(f"{server.url}/people/{person['id']}")
    prompts = page.get_by_test_id("case-prompt")
    # the dossier and "seen before?" each ask; which answer arrives first is not fixed
    prompts.filter(has_text="Choose or open a case to see this dossier").wait_for()
    prompts.filter(has_text="where this person was seen before").wait_for()
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "cases-prompt-dossier")

    # picking an open case in the prompt loads the dossier in place
    case_id = open_case(server, "admin", title="Dossier review")
    page.reload()
    prompts.first.wait_for()
    page.get_by_test_id("case-picker-inline").first.select_option(case_id)
    page.get_by_role("link", name=re.compile(r"^\[F\d+: ")).first.wait_for()
    assert page.get_by_test_id("case-prompt").count() == 0
    md = page.get_by_role("link", name="Download Markdown").get_attribute("href")
    assert md and md.endswith(f"&case={case_id}")

    # members: add vera, remove her again, then close the case
    page.goto(f"{server.url}/cases")
    card = page.get_by_test_id("case-card").filter(has_text="Dossier review")
    card.get_by_label("Add member").fill("vera")
    card.get_by_role("button", name="Add", exact=True).click()
    card.get_by_role("button", name="Remove vera from the case").wait_for()
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "cases-members")
    card.get_by_role("button", name="Remove vera from the case").click()
    card.get_by_text("Members (1)").wait_for()
    card.get_by_role("button", name="Close case…").click()
    card.get_by_role("button", name="Close case", exact=True).click()
    closed = page.get_by_test_id("case-card").filter(has_text="Dossier review")
    closed.wait_for(state="detached")  # the list shows open cases
    page.locator(".mantine-SegmentedControl-label", has_text="Closed").click()
    page.get_by_test_id("case-card").filter(has_text="Dossier review").get_by_text(
        "Closed", exact=True
    ).wait_for()

    # still the current case: the API's message about the closed case shows
    assert current_case(page) == case_id
    page.goto(f"{server.url}/people/{person['id']}")
    page.get_by_test_id("case-prompt").filter(has_text=f"case {case_id} is closed").first.wait_for()
    header_picker = page.get_by_test_id("case-picker-header")
    assert header_picker.input_value() == case_id
    header_picker.locator("option", has_text="Dossier review (not open)").wait_for(state="attached")
    assert page.get_by_role("link", name="Download Markdown").count() == 0
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "cases-closed-refused")


def test_cases_page_at_phone_width(browser: Any, server: Server, artifacts: Path) -> None:
    case_id = open_case(server, "ana", title="A case with a rather long title, to see it wrap")
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        use_case(page, case_id)
        log_in(page, server, "ana")
        page.goto(f"{server.url}/cases?new=1")
        page.get_by_test_id("case-card").first.wait_for()
        page.get_by_label("Justification").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert serious_axe_violations(page) == []
        shot(page, artifacts, "cases-375")
        page.get_by_role("button", name="Open navigation").click()
        nav_picker = page.get_by_test_id("case-picker-nav")
        nav_picker.wait_for()
        assert nav_picker.input_value() == case_id
        shot(page, artifacts, "cases-375-nav")
    finally:
        context.close()


@pytest.fixture(scope="module")
def policed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second `aima serve` whose jurisdiction forbids the emotion analyzer."""
    data = tmp_path_factory.mktemp("web-policed")
    db_url = f"sqlite:///{data}/aima.db"
    runtime = build_runtime(make_settings(data, db_url))
    try:
        runtime.users.create(cli_principal(), "admin", PASSWORDS["admin"], "admin")
    finally:
        runtime.close()
    proc, url = start_serve(
        data,
        db_url,
        {
            "AIMA_PRIVACY__JURISDICTION": "EU AI Act, workplace",
            "AIMA_PRIVACY__FORBIDDEN_ANALYZERS": '["emotion"]',
        },
    )
    try:
        yield Server(url, data, data / "serve.log")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_jurisdiction_and_forbidden_analyzers_where_analyzers_are_chosen(
    page: Any, policed: Server, artifacts: Path
) -> None:
    log_in(page, policed, "admin")
    page.goto(f"{policed.url}/upload")
    note = page.get_by_test_id("jurisdiction-note")
    note.wait_for()
    assert "EU AI Act, workplace" in note.inner_text() and "emotion" in note.inner_text()
    emotion = page.get_by_role("checkbox", name=re.compile(r"^emotion \(forbidden"))
    assert emotion.is_disabled()
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "cases-upload-jurisdiction")

    page.goto(f"{policed.url}/admin")
    page.get_by_role("tab", name="Settings").click()
    policy = page.get_by_test_id("privacy-policy")
    policy.wait_for()
    text = policy.inner_text()
    assert "Jurisdiction: EU AI Act, workplace" in text and "Forbidden analyzers: emotion" in text
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "cases-admin-policy")
