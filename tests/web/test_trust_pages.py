"""Erasure, subject export, quotas and retention in a real browser against a real `aima serve`:
an admin exports a person's data and erases them through the dialog (receipt, signature check,
gone from People); sets a user's quota (the user sees it on the Upload page); adds a retention
rule, changes it and runs it (dry run first). axe on each page; screenshots into /tmp/shots."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.web.conftest import PeopleLibrary, Server, bearer, serious_axe_violations, use_case
from tests.web.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/shots")


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def api(server: Server, lib: PeopleLibrary) -> dict[str, str]:
    return {"Authorization": f"Bearer {lib.token}"}


def test_admin_exports_then_erases_a_person_and_gets_the_receipt(
    page: Any, server: Server, people_library: PeopleLibrary, case_id: str, artifacts: Path
) -> None:
    everyone = httpx.get(
        f"{server.url}/api/v1/persons", headers=api(server, people_library), params={"limit": 500}
    ).json()["items"]
    # the person seen in the fewest media (Messi: his photo and the pair); the astronaut stays
    target = min(everyone, key=lambda p: p["media"])
    named = httpx.patch(
        f"{server.url}/api/v1/persons/{target['id']}",
        headers=api(server, people_library),
        json={"name": "Lionel Messi"},
    )
    assert named.status_code == 200, named.text
    use_case(page, case_id)
    log_in(page, server, "admin")
    page.goto(f"{server.url}/people/{target['id']}")
    rights = page.locator("section[aria-labelledby='subject-rights-title']")
    rights.wait_for()

    # subject access export: a ZIP with the dossier, observations and crops
    with page.expect_download() as download_info:
        rights.get_by_role("button", name="Export everything held on this person").click()
    download = download_info.value
    assert download.suggested_filename == f"subject-{target['id']}.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        names = set(archive.namelist())
    assert {"person.json", "observations.json", "report.md"} <= names, names
    rights.get_by_text(re.compile(r"Export downloaded \(\d+ kB\)")).wait_for()

    # the erase dialog names what goes and refuses a reason holding the name
    rights.get_by_role("button", name="Erase this person…").click()
    dialog = page.get_by_role("dialog", name="Erase Lionel Messi")
    dialog.wait_for()
    scope = dialog.get_by_test_id("erase-scope").inner_text()
    assert f"{target['faces']} face tracks" in scope
    dialog.get_by_text(f"The {target['media']} media they appear in stay").wait_for()
    reason = dialog.get_by_label("Reason")
    reason.fill("erasure request of Lionel Messi")
    dialog.get_by_role("button", name="Erase permanently").click()
    dialog.get_by_text("The reason must not contain the person's name").wait_for()
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "trust-erase-dialog")
    reason.fill("data subject request 2026-17")
    dialog.get_by_role("button", name="Erase permanently").click()

    # the receipt: id, counts per store, a signature the server verifies
    receipt = page.get_by_test_id("erasure-receipt")
    receipt.wait_for()
    page.get_by_role("heading", level=2, name="Person erased").wait_for()
    receipt_id = receipt.get_by_test_id("receipt-id").inner_text().strip()
    assert receipt_id.startswith("rcp")
    receipt.get_by_text("Signature valid").wait_for()
    stores = receipt.get_by_role("table", name="Items removed per store")
    assert stores.get_by_role("row", name=re.compile(r"^Persons 1$")).count() == 1
    assert (
        stores.get_by_role(
            "row",
            name=re.compile(rf"^Face tracks and voices {target['faces'] + target['voices']}$"),
        ).count()
        == 1
    )
    assert "Lionel Messi" not in receipt.inner_text()
    link = receipt.get_by_role("link", name="View the stored receipt and its check")
    assert link.get_attribute("href") == f"/api/v1/receipts/{receipt_id}"
    with page.expect_download() as saved_info:
        receipt.get_by_role("button", name="Download receipt (JSON)").click()
    saved = json.loads(Path(saved_info.value.path()).read_text())
    assert saved["id"] == receipt_id and saved["kind"] == "person_erasure" and saved["signature"]
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "trust-erase-receipt")

    # the stored receipt verifies, and the person is gone from the People page
    stored = httpx.get(
        f"{server.url}/api/v1/receipts/{receipt_id}", headers=api(server, people_library)
    )
    assert stored.status_code == 200 and stored.json()["valid"] is True, stored.text
    page.get_by_role("link", name="← All people").click()
    page.get_by_role("heading", level=2, name="People").wait_for()
    left = len(everyone) - 1
    page.get_by_text(f"Showing {left} of {left} persons").wait_for()
    assert page.locator(f"article[data-person-id='{target['id']}']").count() == 0
    gone = httpx.get(
        f"{server.url}/api/v1/persons/{target['id']}", headers=api(server, people_library)
    )
    assert gone.status_code == 404


def test_no_erase_or_export_for_an_analyst(
    page: Any, server: Server, people_library: PeopleLibrary, case_id: str
) -> None:
    person = httpx.get(
        f"{server.url}/api/v1/persons", headers=api(server, people_library), params={"limit": 1}
    ).json()["items"][0]
    use_case(page, case_id)
    log_in(page, server, "ana")
    page.goto(f"{server.url}/people/{person['id']}")
    page.get_by_role("heading", name="Dossier").wait_for()
    page.get_by_role("link", name=re.compile(r"^\[F\d+: ")).first.wait_for()
    assert page.get_by_role("button", name="Erase this person…").count() == 0
    assert page.get_by_role("button", name="Export everything held on this person").count() == 0


def test_admin_sets_a_quota_and_the_user_sees_it(
    browser: Any, page: Any, server: Server, artifacts: Path
) -> None:
    log_in(page, server, "admin")
    page.goto(f"{server.url}/admin?tab=quotas")
    page.get_by_label("User", exact=True).select_option("uli")
    page.get_by_role("table", name="Quotas of uli").wait_for()
    page.get_by_label("Uploads per day", exact=True).fill("5")
    page.get_by_label("Upload size per day (MB)", exact=True).fill("250")
    page.get_by_role("button", name="Save limits").click()
    page.get_by_text("Limits of uli saved.").wait_for()
    row = page.get_by_test_id("quota-uploads_per_day")
    row.get_by_text("set for this user").wait_for()
    assert "5" in row.inner_text()
    assert "250 MB" in page.get_by_test_id("quota-bytes_per_day").inner_text()
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "trust-quotas")

    quota = httpx.get(f"{server.url}/api/v1/users/uli/quota", headers=bearer(server, "admin"))
    assert quota.status_code == 200, quota.text
    assert quota.json()["limits"]["uploads_per_day"] == 5
    assert quota.json()["limits"]["bytes_per_day"] == 250_000_000
    assert set(quota.json()["overridden"]) == {"uploads_per_day", "bytes_per_day"}

    # the uploader sees their own limits on the Upload page
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", bypass_csp=True
    )
    own = context.new_page()
    own.set_default_timeout(90_000)
    try:
        log_in(own, server, "uli")
        own.goto(f"{server.url}/upload")
        usage = own.get_by_test_id("my-usage")
        usage.wait_for()
        mine = usage.get_by_test_id("quota-uploads_per_day")
        mine.get_by_text("set for this user").wait_for()
        assert re.search(r"\b0\b", mine.inner_text()) and "5" in mine.inner_text()
        assert serious_axe_violations(own) == []
        shot(own, artifacts, "trust-my-usage")
    finally:
        context.close()


def test_admin_adds_changes_and_runs_a_retention_rule(
    page: Any, server: Server, artifacts: Path, tmp_path: Path
) -> None:
    picture = tmp_path / "old-camera-frame.png"
    Image.new("RGB", (64, 48), (40, 120, 200)).save(picture)
    admin = bearer(server, "admin")
    with picture.open("rb") as f:
        up = httpx.post(
            f"{server.url}/api/v1/media",
            headers=admin,
            files={"files": (picture.name, f, "image/png")},
            data={"analyze": "false", "library": "cams"},
        )
    assert up.status_code == 201, up.text
    media_id = up.json()["files"][0]["media_id"]

    log_in(page, server, "admin")
    page.goto(f"{server.url}/admin?tab=retention")
    form = page.locator("form[aria-labelledby='rule-add-title']")
    form.get_by_label("Library").fill("cams")
    form.get_by_label("Action").select_option("delete_raw")
    form.get_by_label("After (days)").fill("30")
    form.get_by_role("button", name="Add rule").click()
    row = page.locator("tr[data-testid^='rule-']").filter(has_text="cams")
    row.get_by_text("30 days").wait_for()
    assert "never" in row.inner_text()

    # change it in place: 0 days, so the upload above is old enough
    row.get_by_role("button", name="Edit the rule for library cams").click()
    edit = page.locator("form[aria-labelledby='rule-edit-title']")
    edit.get_by_label("After (days)").fill("0")
    edit.get_by_role("button", name="Save changes").click()
    row.get_by_text("0 days").wait_for()
    rules = httpx.get(f"{server.url}/api/v1/retention/rules", headers=admin).json()
    assert [(r["library"], r["after_days"]) for r in rules] == [("cams", 0)]

    # run now: the dry run lists the media, nothing is deleted until confirmed
    row.get_by_role("button", name="Run now… (library cams)").click()
    panel = page.get_by_test_id("retention-run")
    panel.get_by_text("Dry run: 1 media would be deleted now").wait_for()
    assert media_id in panel.inner_text()
    content = httpx.get(f"{server.url}/api/v1/media/{media_id}/content", headers=admin)
    assert content.status_code == 200
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "trust-retention-preview")
    panel.get_by_role("button", name="Delete 1 media now").click()
    panel.get_by_text("Deleted 1 media, skipped 0").wait_for()
    row.get_by_text(re.compile(r"· 1 media")).wait_for()
    assert serious_axe_violations(page) == []
    shot(page, artifacts, "trust-retention-ran")

    gone = httpx.get(f"{server.url}/api/v1/media/{media_id}/content", headers=admin)
    assert gone.status_code == 410, gone.text
