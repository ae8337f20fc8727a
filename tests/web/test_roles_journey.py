"""Each role end to end: the navigation shows exactly what the role may use, a forbidden page
typed into the address bar says "not allowed", and the API refuses the same thing itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web.conftest import PASSWORDS, Server, serious_axe_violations
from tests.web.test_browser import log_in, nav_links

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ALL = ["Dashboard", "Upload", "Library", "People", "Search", "Review", "Cases", "Admin"]
# user -> (navigation, admin tabs, page URLs the role may not use, an API call it may not make)
JOURNEYS: dict[str, tuple[list[str], list[str], list[str], str]] = {
    "admin": (
        ALL,
        ["Users", "Audit log", "Settings", "Models", "Workers", "Budgets", "Quotas", "Retention"],
        [],
        "",
    ),
    "ana": (ALL, ["Models", "Workers"], [], "/api/v1/users"),
    "uli": (
        ["Dashboard", "Upload", "Library", "Search", "Cases"],
        [],
        ["/people", "/admin"],
        "/api/v1/audit",
    ),
    "vera": (
        ["Dashboard", "Library", "People", "Search", "Cases"],
        [],
        ["/upload", "/admin"],
        "/api/v1/dashboard",
    ),
    "audrey": (
        ["Dashboard", "Review", "Admin"],
        ["Audit log", "Models", "Workers"],
        ["/search", "/library"],
        "/api/v1/settings",
    ),
}


@pytest.mark.parametrize("username", list(JOURNEYS))
def test_role_journey(page: Any, server: Server, artifacts: Path, username: str) -> None:
    nav, admin_tabs, forbidden, refused = JOURNEYS[username]
    log_in(page, server, username)
    assert nav_links(page) == nav

    if admin_tabs:
        page.goto(f"{server.url}/admin")
        tabs = page.get_by_role("tab")
        tabs.first.wait_for()
        assert tabs.all_inner_texts() == admin_tabs
        assert serious_axe_violations(page) == []

    for path in forbidden:
        page.goto(f"{server.url}{path}")
        page.get_by_role("heading", level=2, name="Not allowed").wait_for()
        assert page.get_by_test_id("not-allowed").is_visible()
        assert nav_links(page) == nav  # the shell stays usable
        assert serious_axe_violations(page) == []
    if forbidden:
        page.screenshot(path=str(artifacts / f"not-allowed-{username}.png"), full_page=True)

    if refused:  # the UI only hides: the API decides
        token = httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"username": username, "password": PASSWORDS[username]},
        ).json()["access_token"]
        r = httpx.get(f"{server.url}{refused}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403, (refused, r.text)
