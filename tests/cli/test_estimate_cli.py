"""``aima analyze --estimate``, the confirm prompt, ``--yes``, ``aima budgets``, ``aima jobs
confirm``: the real command in subprocesses on the embedded default (SQLite + local files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.mediagen import synth

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def aima(tmp_path: Path) -> Run:
    env = {
        **os.environ,
        "AIMA_DATA_DIR": str(tmp_path / "data"),
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
        "AIMA_JOBS__CHUNK_S": "2",
        "AIMA_JOBS__DEFAULT_ANALYZERS": '["thumbnails"]',
        # 60 per CPU-hour billed per started minute: each chunk costs exactly 1.00
        "AIMA_COMPUTE__CPU_PRICE_PER_HOUR": "60",
        "AIMA_COMPUTE__BILLING_INCREMENT_S": "60",
        "COLUMNS": "200",
    }
    env.pop("AIMA_DATABASE_URL", None)

    def run(*args: str, check: int | None = 0, stdin: str = "") -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "aima", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if check is not None:
            assert proc.returncode == check, proc.stdout + proc.stderr
        return proc

    return run


def _jobs(aima: Run) -> list[dict[str, object]]:
    jobs: list[dict[str, object]] = json.loads(aima("jobs", "list", "--json").stdout)
    return jobs


def test_estimate_prints_and_queues_nothing(aima: Run, tmp_path: Path) -> None:
    image = synth.make_image(tmp_path / "pic.jpg", 120, 90)
    shown = aima("analyze", str(image), "--estimate")
    assert "1.0000 USD" in shown.stdout and "needs confirmation" in shown.stdout
    assert "thumbnails" in shown.stdout and "prior" in shown.stdout
    assert _jobs(aima) == []


def test_prompt_declined_queues_nothing_accepted_runs(aima: Run, tmp_path: Path) -> None:
    image = synth.make_image(tmp_path / "pic.jpg", 120, 90)
    declined = aima("analyze", str(image), stdin="n\n")
    assert "Spend about 1.0000 USD" in declined.stdout and "nothing queued" in declined.stdout
    accepted = aima("analyze", str(image), stdin="y\n")
    assert "succeeded" in accepted.stdout
    [job] = _jobs(aima)  # the declined run queued nothing
    shown = json.loads(aima("jobs", "show", str(job["id"]), "--json").stdout)
    assert shown["cost_actual"] == pytest.approx(1.0)  # estimate vs actual
    assert shown["estimate"]["amount"] == pytest.approx(1.0)
    assert shown["confirmed_by"]


def test_yes_skips_the_prompt_and_jobs_confirm_queues(aima: Run, tmp_path: Path) -> None:
    image = synth.make_image(tmp_path / "pic.jpg", 120, 90)
    scripted = aima("analyze", str(image), "--yes")
    assert "Spend about" not in scripted.stdout and "succeeded" in scripted.stdout
    media_id = scripted.stdout.split(" for ")[1].split(":")[0]
    # a job submitted without confirmation waits; `aima jobs confirm` queues it
    waiting = aima("jobs", "submit", media_id, "--analyzers", "thumbnails")
    assert "awaiting_confirmation" in waiting.stdout
    job_id = waiting.stdout.split("job ")[1].split()[0]
    assert "queued" in aima("jobs", "confirm", job_id).stdout
    again = aima("jobs", "confirm", job_id, check=1)
    assert "only jobs awaiting confirmation" in again.stderr


def test_budgets_from_the_command_line(aima: Run, tmp_path: Path) -> None:
    image = synth.make_image(tmp_path / "pic.jpg", 120, 90)
    aima("budgets", "set", "project", "film", "--hard", "0.5", "--period", "total")
    [budget] = json.loads(aima("budgets", "list", "--json").stdout)
    assert (budget["subject"], budget["hard_limit"], budget["soft_limit"]) == ("film", 0.5, 0.4)

    refused = aima("analyze", str(image), "--yes", "--project", "film", check=1)
    assert "hard limit 0.50" in refused.stderr and "nothing" not in refused.stdout

    bad = aima("budgets", "set", "project", "film", "--hard", "1", "--soft", "2", check=1)
    assert "soft limit" in bad.stderr
    unknown = aima("budgets", "set", "user", "nobody", "--hard", "1", check=1)
    assert "no user 'nobody'" in unknown.stderr

    aima("budgets", "delete", str(budget["id"]))
    assert json.loads(aima("budgets", "list", "--json").stdout) == []
