"""``aima events``: the dispatcher and the AMQP publisher as commands (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_SECRET
from tests.mediagen import synth


def _aima(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AIMA_DATABASE_URL", "AIMA_EVENTS__AMQP_URL")
    }
    full = {
        **base,
        "AIMA_DATA_DIR": str(tmp_path / "data"),
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
        "AIMA_JOBS__DEFAULT_ANALYZERS": '["thumbnails"]',
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "aima", *args], env=full, capture_output=True, text=True, timeout=120
    )


def test_dispatch_and_publish_commands(tmp_path: Path) -> None:
    synth.make_image(tmp_path / "pic.jpg")
    assert _aima(tmp_path, "ingest", str(tmp_path / "pic.jpg")).returncode == 0
    assert _aima(tmp_path, "worker", "--drain").returncode == 0  # one job.succeeded event

    proc = _aima(tmp_path, "events", "dispatch", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"fanned_out": 0, "delivered": 0, "retrying": 0, "failed": 0}

    proc = _aima(tmp_path, "events", "publish")
    assert proc.returncode == 1
    assert "AIMA_EVENTS__AMQP_URL" in proc.stdout + proc.stderr

    # a broker that is not there: a clear error, and the events stay for the next run
    proc = _aima(
        tmp_path,
        "events",
        "publish",
        AIMA_EVENTS__AMQP_URL="amqp://guest:guest@127.0.0.1:1/",
    )
    assert proc.returncode == 1
    assert "unreachable" in proc.stdout + proc.stderr
