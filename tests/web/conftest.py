"""Fixtures for the web app: a real ``aima serve`` subprocess and Debian's Chromium via Playwright."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`aima serve` on a free port with a throw-away library and two known users."""
    if not (STATIC / "index.html").is_file():
        pytest.skip("web app not built: run scripts/setup.sh (npm --prefix web run build)")
    data = tmp_path_factory.mktemp("web-serve")
    db_url = f"sqlite:///{data}/aima.db"
    runtime = build_runtime(make_settings(data, db_url))
    try:
        for name, password in PASSWORDS.items():
            runtime.users.create(cli_principal(), name, password, ROLES[name])
    finally:
        runtime.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMA_")}
    env.update(
        {
            "AIMA_ENV": "test",
            "AIMA_DATA_DIR": str(data),
            "AIMA_DATABASE_URL": db_url,
            "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
            "AIMA_LOG_LEVEL": "WARNING",
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
        yield Server(url, data, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    import playwright.sync_api as playwright_api  # a dev dependency: CI must not skip these

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make setup` (it installs Debian's chromium)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
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
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
