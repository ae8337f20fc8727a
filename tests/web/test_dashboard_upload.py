"""Upload and Dashboard in a real browser: per-file outcomes (a fake .jpg is rejected with the
server's reason), the plan, a job followed live over SSE on the cookie session, the dashboard's
counts; axe-core on both pages, phone width, screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_SECRET
from tests.mediagen.synth import make_image
from tests.web.conftest import PASSWORDS, Server, serious_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def worker(server: Server) -> Iterator[None]:
    """`aima worker` on the served library (the server fixture runs with --no-worker)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMA_")}
    env.update(
        {
            "AIMA_ENV": "test",
            "AIMA_DATA_DIR": str(server.data_dir),
            "AIMA_DATABASE_URL": f"sqlite:///{server.data_dir}/aima.db",
            "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
            "AIMA_LOG_LEVEL": "WARNING",
            "AIMA_WORKER__POLL_INTERVAL_S": "0.2",
        }
    )
    log = server.data_dir / "worker.log"
    aima = Path(sys.executable).with_name("aima")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(aima), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def media_files(tmp_path: Path) -> list[Path]:
    image = make_image(tmp_path / "harbour.jpg", width=320, height=240, seed=8317)
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is a text file wearing a .jpg name\n" * 20)
    return [image, fake]


def log_in(page: Any, server: Server, username: str) -> None:
    page.goto(f"{server.url}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {username}").wait_for()


def only_analyzer(page: Any, name: str) -> None:
    group = page.get_by_role("group", name="Analyzers")
    group.get_by_role("checkbox").first.wait_for()
    for box in group.get_by_role("checkbox").all():
        if box.is_checked():
            box.uncheck()
    group.get_by_role("checkbox", name=name, exact=True).check()


def test_upload_rejects_a_fake_jpg_and_follows_the_job_live_then_the_dashboard_counts_it(
    page: Any, server: Server, worker: None, media_files: list[Path], artifacts: Path
) -> None:
    log_in(page, server, "admin")
    # the session lives in cookies: nothing in storage, the access token unreadable to scripts
    assert page.evaluate("sessionStorage.length + localStorage.length") <= 1  # only the language
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["aima_access"]["httpOnly"] and not cookies["aima_csrf"]["httpOnly"]
    assert "aima_access" not in page.evaluate("document.cookie")

    page.get_by_role("link", name="Upload").click()
    page.get_by_role("heading", level=2, name="Upload").wait_for()
    only_analyzer(page, "thumbnails")
    page.get_by_test_id("file-input").set_input_files([str(p) for p in media_files])
    page.get_by_role("button", name="Upload 2 files").click()

    rows = page.get_by_test_id("upload-row")
    fake_row = rows.filter(has_text="notes.jpg")
    fake_row.get_by_text("Rejected:").wait_for()
    reason = fake_row.get_by_role("status").inner_text()
    assert "Rejected:" in reason and len(reason) > len("Rejected: ") + 3  # the server's reason
    rows.filter(has_text="harbour.jpg").get_by_text("Created").wait_for()
    page.get_by_test_id("upload-summary").get_by_text(
        "1 created, 0 duplicates, 1 rejected"
    ).wait_for()
    page.get_by_test_id("plan-total").wait_for()
    assert "thumbnails" in page.get_by_role("region", name="Plan").inner_text()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "upload-outcomes.png"), full_page=True)

    page.get_by_role("button", name="Start analysis of 1 media").click()
    job = page.get_by_test_id("job-progress")
    job.get_by_text("Succeeded").wait_for(timeout=90_000)  # pushed over SSE, not polled
    assert job.get_attribute("data-state") == "succeeded"
    assert job.get_by_role("link", name="Open harbour.jpg").get_attribute("href")
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "upload-job-succeeded.png"), full_page=True)

    page.goto(f"{server.url}/")  # a reload: the cookie session carries on
    page.get_by_role("heading", level=2, name="Dashboard").wait_for()
    succeeded = page.get_by_test_id("count-succeeded")
    succeeded.get_by_text("Succeeded").wait_for()
    assert int(succeeded.locator("p").nth(1).inner_text()) >= 1
    page.get_by_role("region", name="Workers").get_by_text("alive").first.wait_for()
    page.get_by_role("region", name="Storage").wait_for()
    page.get_by_role("region", name="Models").wait_for()
    assert serious_axe_violations(page) == []
    page.screenshot(path=str(artifacts / "dashboard-admin.png"), full_page=True)


def test_dashboard_and_upload_fit_a_phone_and_the_viewer_sees_jobs_only(
    browser: Any, server: Server, artifacts: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        log_in(page, server, "admin")
        page.get_by_role("region", name="Queue").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(artifacts / "dashboard-375.png"), full_page=True)
        page.goto(f"{server.url}/upload")
        page.get_by_role("button", name="Choose folder").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "upload-375.png"), full_page=True)
    finally:
        context.close()

    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    try:
        log_in(page, server, "vera")
        page.get_by_role("heading", level=2, name="Dashboard").wait_for()
        page.get_by_role("region", name="Jobs").wait_for()
        assert page.get_by_role("region", name="Workers").count() == 0
        assert serious_axe_violations(page) == []
        page.screenshot(path=str(artifacts / "dashboard-viewer.png"), full_page=True)
    finally:
        page.close()
