"""The web app works under its own Content-Security-Policy (no bypass, no violations).

Every other browser test bypasses CSP for its instrumentation (axe, waits); this one does
not: it signs in and visits the main pages with the real policy and fails on any CSP
violation the browser reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import PASSWORDS, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def strict_page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.set_default_navigation_timeout(90_000)
    yield page
    context.close()


def test_the_app_runs_under_its_csp_without_violations(strict_page: Any, server: Server) -> None:
    page = strict_page
    violations: list[str] = []
    page.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    response = page.goto(f"{server.url}/")
    assert response is not None
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_url("**/login")
    page.locator("input[name=username]").fill("admin")
    page.locator("input[name=password]").fill(PASSWORDS["admin"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as admin").wait_for()
    for path, heading in (
        ("/library", "Library"),
        ("/search", "Search"),
        ("/admin", "Administration"),
    ):
        page.goto(f"{server.url}{path}")
        page.get_by_role("heading", name=heading).first.wait_for()
    assert violations == []
