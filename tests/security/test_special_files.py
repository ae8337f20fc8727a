"""Ingesting something that is not a regular file is refused before a byte is read.

``/dev/zero``, ``/dev/urandom`` and a FIFO never end: reading them to hash or probe would
hang the command forever. The file type is checked first (symlinks followed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aima.runtime import Runtime
from aima.services.access import cli_principal
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.reliability


@pytest.fixture
def specials(tmp_path: Path) -> list[Path]:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    link = tmp_path / "zero.jpg"
    link.symlink_to("/dev/zero")
    return [Path("/dev/zero"), Path("/dev/urandom"), fifo, link]


def test_devices_fifos_and_links_to_them_are_rejected(
    sqlite_runtime: Runtime, specials: list[Path]
) -> None:
    for path in specials:
        outcome = sqlite_runtime.ingest.ingest_file(path, cli_principal())
        assert outcome.status == "rejected", path
        assert outcome.error is not None
        assert "not a regular file" in outcome.error["message"]


def test_the_cli_returns_at_once_with_a_clear_error(tmp_path: Path, specials: list[Path]) -> None:
    env = {
        **os.environ,
        "AIMA_DATA_DIR": str(tmp_path / "data"),
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
    }
    env.pop("AIMA_DATABASE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "aima", "ingest", *map(str, specials), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,  # a hang would be caught here; the command itself returns at once
    )
    assert proc.returncode == 2, proc.stderr
    outcomes = json.loads(proc.stdout)
    assert [o["status"] for o in outcomes] == ["rejected"] * len(specials)
    assert all("not a regular file" in o["error"]["message"] for o in outcomes)
