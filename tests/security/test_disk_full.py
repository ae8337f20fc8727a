"""A full disk gives a clear, retryable answer and leaves nothing half-written.

The library lives on a real 6 MiB tmpfs mounted for the test (root in CI, as on these
machines), so the kernel itself answers ENOSPC.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aima.api.app import create_app
from aima.runtime import build_runtime
from aima.store.models import Media
from tests.api.helpers import Api
from tests.conftest import make_settings
from tests.reliability.conftest import figure

pytestmark = pytest.mark.reliability


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the disk-full test (needs root): {done.stderr}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_upload_to_a_full_disk_is_507_and_nothing_is_left(tiny_disk: Path, tmp_path: Path) -> None:
    data = tiny_disk / "data"
    settings = make_settings(
        data,
        f"sqlite:///{tmp_path / 'aima.db'}",  # the database elsewhere: only the blobs fill up
        audit={"key_file": tmp_path / "keys" / "audit.key"},
    )
    rt = build_runtime(settings)
    try:
        with TestClient(create_app(rt, start_workers=False)) as client:
            api = Api(rt, client)
            admin = api.user("admin")
            ready = client.get("/readyz").json()
            assert ready["checks"]["disk"]["ok"] is False  # 6 MiB free < 256 MiB minimum
            big = os.urandom(8 * 1024 * 1024)
            r = api.upload(admin, [("big.bin", big)])
            assert r.status_code == 507, r.text
            assert r.headers["Retry-After"]
            message = r.json()["error"]["message"]
            assert "disk is full" in message and str(tiny_disk) not in message
            with rt.db.session() as s:
                assert s.query(Media).count() == 0
            leftovers = [p for p in data.rglob("*") if p.is_file() and p.stat().st_size > 0]
            assert sum(p.stat().st_size for p in leftovers) < 1024 * 1024, leftovers
            figure(
                f"disk full (6 MiB tmpfs data dir): 8 MiB upload answered {r.status_code} with "
                f"Retry-After {r.headers['Retry-After']}; 0 media rows; "
                f"{sum(p.stat().st_size for p in leftovers)} bytes left behind"
            )
    finally:
        rt.close()
