"""Cost in a real browser: the upload plan shows the estimate, a priced job waits for its
creator's confirmation and starts when confirmed; an Administrator manages budgets."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.mediagen.synth import make_image
from tests.web.conftest import PASSWORDS, ROLES, Server, serious_axe_violations, start_serve
from tests.web.test_browser import log_in
from tests.web.test_dashboard_upload import only_analyzer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# CPU time billed at 60 per hour in whole minutes: one image chunk costs exactly 1.00 USD
PRICED = {"AIMA_COMPUTE__CPU_PRICE_PER_HOUR": "60", "AIMA_COMPUTE__BILLING_INCREMENT_S": "60"}


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """conftest's page with the app's Content-Security-Policy bypassed for the axe script."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.set_default_navigation_timeout(90_000)
    yield page
    context.close()


@pytest.fixture(scope="module")
def priced_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`aima serve --no-worker` whose compute costs money, with one user per role."""
    data = tmp_path_factory.mktemp("web-priced")
    db_url = f"sqlite:///{data}/aima.db"
    runtime = build_runtime(make_settings(data, db_url))
    try:
        for name, password in PASSWORDS.items():
            runtime.users.create(cli_principal(), name, password, ROLES[name])
    finally:
        runtime.close()
    proc, url = start_serve(data, db_url, PRICED)
    try:
        yield Server(url, data, data / "serve.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bearer(server: Server, username: str) -> dict[str, str]:
    r = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": username, "password": PASSWORDS[username]},
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_uploader_sees_the_estimate_and_confirms_the_job(
    page: Any, priced_server: Server, tmp_path: Path, artifacts: Path
) -> None:
    server = priced_server
    image = make_image(tmp_path / "quay.jpg", width=320, height=240, seed=4242)
    log_in(page, server, "uli")
    page.goto(f"{server.url}/upload")
    page.get_by_role("heading", level=2, name="Upload").wait_for()
    only_analyzer(page, "thumbnails")
    page.get_by_test_id("file-input").set_input_files([str(image)])
    page.get_by_role("button", name="Upload 1 file").click()
    estimate = page.get_by_role("region", name="Cost estimate").get_by_test_id("estimate")
    estimate.wait_for()
    text = estimate.inner_text()
    assert "Cost: $1.00" in text and "Device: cpu" in text, text
    assert "waits for confirmation" in text
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "upload-estimate.png"), full_page=True)

    page.get_by_role("button", name="Start analysis of 1 media").click()
    job = page.get_by_test_id("job-progress")
    job.get_by_text("Awaiting confirmation").first.wait_for()
    assert job.get_attribute("data-state") == "awaiting_confirmation"
    job.get_by_test_id("estimate").wait_for()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "upload-awaiting-confirmation.png"), full_page=True)
    job.get_by_role("button", name="Confirm and start").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=job-progress]')"
        ".getAttribute('data-state') === 'queued'"
    )
    assert job.get_by_role("button", name="Confirm and start").count() == 0

    # the server agrees: confirmed by its creator and queued (no worker runs here)
    jobs = httpx.get(
        f"{server.url}/api/v1/jobs", headers=bearer(server, "uli"), params={"limit": 5}
    ).json()["items"]
    assert [(j["state"], j["estimate"]["amount"]) for j in jobs] == [("queued", 1.0)]
    assert jobs[0]["confirmed_by"]

    # the media view shows the job with estimate vs actual
    page.goto(f"{server.url}/media/{jobs[0]['media_id']}")
    cost = page.get_by_test_id("media-jobs").get_by_test_id("estimate-vs-actual")
    cost.wait_for()
    assert cost.inner_text() == "Estimated $1.00 · actual $0.00"
    page.screenshot(path=str(artifacts / "media-job-cost.png"), full_page=True)


def test_admin_creates_and_deletes_a_budget(
    page: Any, priced_server: Server, artifacts: Path
) -> None:
    server = priced_server
    log_in(page, server, "admin")
    page.goto(f"{server.url}/admin?tab=budgets")
    page.get_by_text("No budget set").wait_for()
    page.get_by_role("textbox", name="User id or project").fill("harbour")
    page.get_by_role("textbox", name="Soft limit").fill("5")
    page.get_by_role("textbox", name="Hard limit").fill("10")
    page.get_by_role("button", name="Save budget").click()
    row = page.get_by_test_id("budget-harbour")
    row.wait_for()
    assert "$10.00" in row.inner_text()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "admin-budgets.png"), full_page=True)
    listed = httpx.get(f"{server.url}/api/v1/budgets", headers=bearer(server, "admin")).json()
    assert [(b["scope"], b["subject"], b["hard_limit"]) for b in listed] == [
        ("project", "harbour", 10.0)
    ]
    row.get_by_role("button", name="Delete the budget of harbour").click()
    page.get_by_text("No budget set").wait_for()
    assert httpx.get(f"{server.url}/api/v1/budgets", headers=bearer(server, "admin")).json() == []
