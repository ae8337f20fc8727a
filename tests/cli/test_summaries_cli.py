"""``aima persons summary`` and ``aima media summary`` in subprocesses (no model configured)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from aima.runtime import build_runtime
from tests.conftest import TEST_SECRET, make_settings
from tests.identity.test_dossier import _build


def test_person_and_media_summary_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rt = build_runtime(make_settings(data, f"sqlite:///{(data / 'aima.db').resolve()}"))
    try:
        w = _build(rt.db)
    finally:
        rt.close()
    env = {
        **os.environ,
        "AIMA_DATA_DIR": str(data),
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
    }
    for key in ("AIMA_DATABASE_URL", "AIMA_LLM__TEXT__BASE_URL"):
        env.pop(key, None)

    def aima(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "aima", *args], env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    shown = aima("persons", "summary", w.alice).stdout
    assert "extractive summary (no language model configured)" in shown
    assert "- Appears in interview.mp4" in shown and "[F1]" in shown
    out = json.loads(aima("persons", "summary", w.alice, "--refresh", "--json").stdout)
    assert out["regenerated"] is True and out["method"] == "extractive"
    media = json.loads(aima("media", "summary", w.media_a, "--json").stdout)
    assert media["subject_id"] == w.media_a
    assert media["sentences"] and media["sentences"][0]["cites"] == ["M1"]
    bad = subprocess.run(
        [sys.executable, "-m", "aima", "persons", "summary", "per_nobody"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 1 and "per_nobody" in bad.stdout + bad.stderr
