"""Fixtures for the web app: a real ``aima serve`` subprocess and Debian's Chromium via Playwright."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from aima.runtime import build_runtime
from aima.services.access import cli_principal
from aima.web import STATIC
from tests.conftest import TEST_SECRET, make_settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).with_name("artifacts")
AXE_JS = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORDS = {"admin": "admin-password-for-tests", "vera": "viewer-password-for-tests"}
ROLES = {"admin": "admin", "vera": "viewer"}
# one user per remaining role, for the role journey (tests/web/test_roles_journey.py)
PASSWORDS |= {
    "ana": "analyst-password-for-tests",
    "uli": "uploader-password-for-tests",
    "audrey": "auditor-password-for-tests",
}
ROLES |= {"ana": "analyst", "uli": "uploader", "audrey": "auditor"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium against a real `aima serve` (Playwright)"
    )


@dataclass
class Server:
    url: str
    data_dir: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"aima serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling for a condition, bounded by the deadline
    raise RuntimeError(f"aima serve not ready after {timeout_s} s:\n{log.read_text()}")


def start_serve(
    data: Path, db_url: str, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`aima serve --no-worker` on a free loopback port over ``data``; returns once healthy.

    Its output goes to ``data/serve.log``. Used by the browser tests and the web benchmarks.
    """
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMA_")}
    env.update(
        {
            "AIMA_ENV": "test",
            "AIMA_DATA_DIR": str(data),
            "AIMA_DATABASE_URL": db_url,
            "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
            "AIMA_LOG_LEVEL": "WARNING",
            "AIMA_AUDIT__KEY_FILE": str(data.parent / f"{data.name}-keys" / "audit.key"),
            # load tests, pollers and benchmarks send more than a user would: no request limit
            "AIMA_QUOTAS__REQUESTS_PER_MINUTE": "0",
            **(extra_env or {}),
        }
    )
    log = data / "serve.log"
    aima = Path(sys.executable).with_name("aima")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(aima), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, proc, log, timeout_s=60)
    except RuntimeError:
        proc.kill()
        proc.wait()
        raise
    return proc, url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`aima serve` on a free port with a throw-away library and known users: one per test
    module, so what one module creates never shows up in another's listings."""
    if not (STATIC / "index.html").is_file():
        pytest.fail("web app not built: run scripts/setup.sh (npm --prefix web run build)")
    data = tmp_path_factory.mktemp("web-serve")
    db_url = f"sqlite:///{data}/aima.db"
    runtime = build_runtime(make_settings(data, db_url))
    try:
        for name, password in PASSWORDS.items():
            runtime.users.create(cli_principal(), name, password, ROLES[name])
    finally:
        runtime.close()
    # purpose binding on (the default): face search, dossiers, exports need a case; tests open
    # one through the API (`open_case`) and make it the page's current case (`use_case`)
    proc, url = start_serve(data, db_url)
    log = data / "serve.log"
    try:
        yield Server(url, data, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bearer(server: Server, username: str) -> dict[str, str]:
    """An Authorization header for ``username`` (password login through the API)."""
    r = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": username, "password": PASSWORDS[username]},
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def open_case(
    server: Server,
    username: str = "admin",
    *,
    title: str = "Browser tests",
    members: tuple[str, ...] = (),
) -> str:
    """Opens a case through the API (``username`` needs cases:manage); returns its id."""
    r = httpx.post(
        f"{server.url}/api/v1/cases",
        headers=bearer(server, username),
        json={
            "title": title,
            "legal_basis": "legitimate_interests",
            "justification": "exercising the web app's guarded pages in browser tests",
            "members": list(members),
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def use_case(page: Any, case_id: str) -> None:
    """Makes ``case_id`` the web app's current case (sessionStorage) before every navigation."""
    page.add_init_script(f"window.sessionStorage.setItem('aima.case', {json.dumps(case_id)})")


@pytest.fixture(scope="module")
def case_id(server: Server) -> str:
    """An open case of the admin's with every other user who may search as a member."""
    return open_case(server, members=("ana", "vera", "uli"))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    import playwright.sync_api as playwright_api  # a dev dependency: CI must not skip these

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make setup` (it installs Debian's chromium)")
    playwright_api.expect.set_options(timeout=60_000)
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: the test instrumentation (axe, wait_for_function predicates) runs as page
    # scripts the app's strict CSP refuses; tests/web/test_csp.py drives the app under it.
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", bypass_csp=True
    )
    page = context.new_page()
    # generous limits: they only bite when something is wrong, and CI is a loaded 2-core machine
    page.set_default_timeout(90_000)
    page.set_default_navigation_timeout(90_000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def serious_axe_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the current page, one line each."""
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} missing: npm --prefix web ci")
    # Evaluated through the DevTools protocol, which the app's Content-Security-Policy does
    # not govern: a <script> tag would (rightly) be refused, and the app keeps its real CSP.
    page.evaluate(f"() => {{ {AXE_JS.read_text()}\n }}")
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@dataclass
class PeopleLibrary:
    """Photos analysed for faces in the served library; persons synced through the API."""

    media: dict[str, str]  # file name -> media id
    token: str  # the admin's bearer token, for API calls from the test


@pytest.fixture(scope="module")
def people_library(server: Server, tmp_path_factory: pytest.TempPathFactory) -> PeopleLibrary:
    """astronaut.jpg + a mirrored copy, messi.jpg and pair.jpg (both side by side), analysed by
    the real faces analyzer in this process on the server's database, then `POST /persons/sync`."""
    from PIL import Image

    from aima.cli.jobs import run_jobs_here
    from tests.analyzers.faces_fixtures import astronaut, messi, save

    folder = tmp_path_factory.mktemp("people-media")
    a, m = astronaut(), messi()
    pictures = {
        "astronaut.jpg": a,
        "astronaut-mirrored.jpg": a.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "messi.jpg": m,
    }
    runtime = build_runtime(make_settings(server.data_dir, f"sqlite:///{server.data_dir}/aima.db"))

    def analyse(paths: list[Path]) -> dict[str, str]:
        outcomes = runtime.ingest.ingest_paths(paths, cli_principal(), analyzers=["faces"])
        states = run_jobs_here(runtime, [o.job_id for o in outcomes if o.job_id], show=False)
        assert set(states.values()) == {"succeeded"}, states
        return {p.name: str(o.media_id) for p, o in zip(paths, outcomes, strict=True)}

    try:
        media = analyse([save(img, folder / name) for name, img in pictures.items()])
        # pair.jpg: both faces side by side, Messi's cut out around his detected face and
        # enlarged (in the full picture it is too small to be found next to a second face)
        faces = next(
            r.data
            for r in runtime.media.results(cli_principal(), media["messi.jpg"])
            if r.analyzer == "faces"
        )
        x, y, w, h = faces["faces"][0]["box"]
        cx, cy, side = (
            (x + w / 2) * m.width,
            (y + h / 2) * m.height,
            2.5 * max(w * m.width, h * m.height),
        )
        head = m.crop(
            (int(cx - side / 2), int(cy - side / 2), int(cx + side / 2), int(cy + side / 2))
        )
        head = head.resize((a.height, a.height))
        pair = Image.new("RGB", (a.width + head.width + 20, a.height), (235, 235, 235))
        pair.paste(a, (0, 0))
        pair.paste(head, (a.width + 20, 0))
        media |= analyse([save(pair, folder / "pair.jpg")])
    finally:
        runtime.close()
    login = httpx.post(
        f"{server.url}/api/v1/auth/login",
        json={"username": "admin", "password": PASSWORDS["admin"]},
    )
    token = login.json()["access_token"]
    synced = httpx.post(
        f"{server.url}/api/v1/persons/sync",
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert synced.status_code == 200, synced.text
    return PeopleLibrary(media, token)
