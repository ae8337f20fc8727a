"""The web app in a real browser against a real `aima serve`: login, shell, language, roles, a11y."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import PASSWORDS, Server, serious_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAV = "nav[aria-label='{label}'] a"


def log_in(page: Any, server: Server, username: str) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_url("**/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {username}").wait_for()


def nav_links(page: Any, label: str = "Main navigation") -> list[str]:
    links = page.locator(NAV.format(label=label))
    links.first.wait_for()
    return [text.strip() for text in links.all_inner_texts()]


def test_admin_logs_in_switches_to_german_and_logs_out(
    page: Any, server: Server, artifacts: Path
) -> None:
    page.goto(f"{server.url}/library")
    page.wait_for_url("**/login")
    page.get_by_role("heading", name="Sign in to AIMA").wait_for()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "login.png"), full_page=True)

    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert "Wrong username or password" in page.get_by_role("alert").inner_text()

    page.locator("input[name=password]").fill(PASSWORDS["admin"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as admin").wait_for()
    page.wait_for_url("**/library")  # back where the visitor wanted to go
    page.get_by_role("heading", level=2, name="Library").wait_for()
    assert nav_links(page) == [
        "Dashboard",
        "Upload",
        "Library",
        "People",
        "Search",
        "Review",
        "Cases",
        "Admin",
    ]
    assert page.get_by_role("main").count() == 1
    assert page.get_by_role("banner").count() == 1
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "shell-admin.png"), full_page=True)

    page.get_by_label("Language").select_option("de")
    page.get_by_text("Angemeldet als admin").wait_for()
    assert nav_links(page, "Hauptnavigation") == [
        "Übersicht",
        "Hochladen",
        "Bibliothek",
        "Personen",
        "Suche",
        "Prüfung",
        "Fälle",
        "Verwaltung",
    ]
    assert page.evaluate("document.documentElement.lang") == "de"
    page.screenshot(path=str(artifacts / "shell-admin-de.png"), full_page=True)

    page.reload()  # the session and the language survive a reload
    page.get_by_text("Angemeldet als admin").wait_for()

    page.get_by_role("button", name="Abmelden").click()
    page.get_by_role("heading", name="Bei AIMA anmelden").wait_for()
    assert page.evaluate("sessionStorage.getItem('aima.tokens')") is None


def test_viewer_does_not_see_admin_and_the_shell_works_at_phone_width(
    browser: Any, server: Server, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, server, "vera")
        menu = page.get_by_role("button", name="Open navigation")
        menu.click()
        assert nav_links(page) == ["Dashboard", "Library", "People", "Search", "Cases"]
        assert page.locator("nav a", has_text="Admin").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "shell-viewer-375.png"), full_page=True)

        page.get_by_role("link", name="People").click()
        page.wait_for_url("**/people")
        page.get_by_role("heading", level=2, name="People").wait_for()
    finally:
        context.close()


def test_keyboard_reaches_the_skip_link_and_the_navigation(page: Any, server: Server) -> None:
    log_in(page, server, "admin")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # visible focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Tab order reaches the navigation links; Enter follows them
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Search":
            break
    page.keyboard.press("Enter")
    page.wait_for_url("**/search")
    page.get_by_role("heading", level=2, name="Search").wait_for()


def test_first_load_of_the_login_page(browser: Any, server: Server, artifacts: Path) -> None:
    """Navigation timing, cold (empty cache) then warm (same context): written to timing.json."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    timings: dict[str, dict[str, float]] = {}
    try:
        for run in ("cold", "warm"):
            page.goto(f"{server.url}/login")
            page.get_by_role("heading", name="Sign in to AIMA").wait_for()
            nav = page.evaluate(
                "() => { const [n] = performance.getEntriesByType('navigation');"
                " return { domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,"
                " transferred: performance.getEntriesByType('resource')"
                ".reduce((s, r) => s + r.transferSize, n.transferSize) }; }"
            )
            visible = page.evaluate("performance.now()")
            timings[run] = {**nav, "login_visible": visible}
    finally:
        context.close()
    (artifacts / "timing.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings))
    assert timings["cold"]["transferred"] > timings["warm"]["transferred"]  # assets came from cache
