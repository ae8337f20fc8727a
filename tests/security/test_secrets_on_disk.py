"""Secrets stay out of logs and other users' reach: first-run password, database files."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import start_serve

pytestmark = pytest.mark.reliability


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_password_is_in_a_private_file_not_the_log(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "aima.db"
    proc, url = start_serve(data, f"sqlite:///{db}")
    try:
        secret = data / "first-admin-password.txt"
        password = secret.read_text().strip()
        assert _mode(secret) == 0o600
        log = (data / "serve.log").read_text()
        assert password not in log
        assert str(secret) in log  # the operator is told where to read it
        r = httpx.post(
            f"{url}/api/v1/auth/login",
            json={"username": "admin", "password": password},
            timeout=60,
        )
        assert r.status_code == 200
        assert password not in (data / "serve.log").read_text()
        for path in (db, db.with_name("aima.db-wal"), db.with_name("aima.db-shm")):
            if path.exists():
                assert _mode(path) == 0o600, path
    finally:
        proc.terminate()
        proc.wait(timeout=60)
