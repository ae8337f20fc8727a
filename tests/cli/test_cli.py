"""The real ``aima`` command in subprocesses, on the embedded default (SQLite + local files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET
from tests.mediagen import synth


@pytest.fixture
def aima(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "AIMA_DATA_DIR": str(tmp_path / "data"),
        "AIMA_ENV": "test",
        "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
        "AIMA_JOBS__CHUNK_S": "2",
        "AIMA_JOBS__DEFAULT_ANALYZERS": '["thumbnails"]',
    }
    env.pop("AIMA_DATABASE_URL", None)

    def run(*args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "aima", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check is not None:
            assert proc.returncode == check, proc.stdout + proc.stderr
        return proc

    return run


def test_ingest_work_and_inspect_from_the_command_line(aima, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    media = tmp_path / "media"
    media.mkdir()
    synth.make_video(media / "clip.mp4", seconds=3.0)
    synth.make_image(media / "pic.jpg")
    (media / "fake.png").write_text("not a png")

    proc = aima("ingest", str(media), "--json", check=2)  # exit 2: a file was rejected
    outcomes = {o["name"]: o for o in json.loads(proc.stdout)}
    assert outcomes["fake.png"]["status"] == "rejected"
    assert outcomes["clip.mp4"]["status"] == "created"

    again = json.loads(aima("ingest", str(media / "pic.jpg"), "--json").stdout)
    assert again[0]["status"] == "duplicate"

    aima("worker", "--drain")
    jobs = json.loads(aima("jobs", "list", "--json").stdout)
    assert sorted(j["state"] for j in jobs) == ["succeeded", "succeeded"]
    shown = json.loads(aima("jobs", "show", jobs[0]["id"], "--json").stdout)
    assert shown["results"][0]["analyzer"] == "thumbnails"

    # a job on a finished job id cannot be re-prioritised: clear error, exit 1
    bad = aima("jobs", "priority", jobs[0]["id"], "5", check=1)
    assert "only queued jobs" in bad.stderr

    aima("storage", "verify")
    aima("audit", "verify")


def test_storage_verify_finds_a_corrupt_blob(aima, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = synth.make_image(tmp_path / "x.jpg")
    sha = json.loads(aima("ingest", str(image), "--no-analyze", "--json").stdout)[0]["sha256"]
    blob = tmp_path / "data" / "blobs" / sha[:2] / sha[2:4] / sha
    blob.write_bytes(b"bit rot")
    proc = aima("storage", "verify", check=1)
    assert "corrupt" in proc.stdout


def test_users_and_unknown_ids(aima) -> None:  # type: ignore[no-untyped-def]
    aima("users", "create", "carol", "--role", "analyst", "--password", "carol-password")
    assert "carol" in aima("users", "list").stdout
    dup = aima(
        "users", "create", "carol", "--role", "viewer", "--password", "carol-password", check=1
    )
    assert "already exists" in dup.stderr
    missing = aima("jobs", "show", "job_missing", check=1)
    assert "not found" in missing.stderr


def test_models_lists_every_bundled_model_as_available(aima) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(aima("models", "--json").stdout)
    required = [r for r in rows if r["required"]]
    assert {r["analyzer"] for r in required} >= {"faces", "nsfw", "ocr", "vad", "speakers"}
    assert all(r["status"] == "available" and len(r["sha256"]) == 64 for r in required)
    optional = [r for r in rows if not r["required"]]
    assert optional and all(r["how_to_get"] for r in optional)  # e.g. Whisper, ArcFace


def test_commands_name_the_library_they_open(aima, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = aima("jobs", "list", "--json")
    assert f"library: {(tmp_path / 'data').resolve()}" in proc.stderr.splitlines()
    assert json.loads(proc.stdout) == []  # stdout stays machine-readable


def test_a_settings_typo_stops_the_command(tmp_path: Path) -> None:
    env = {**os.environ, "AIMA_DATA_DIR": str(tmp_path / "data"), "AIMA_DATABSE_URL": "x"}
    proc = subprocess.run(
        [sys.executable, "-m", "aima", "jobs", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "did you mean AIMA_DATABASE_URL?" in " ".join(proc.stderr.split())
    assert not (tmp_path / "data").exists()  # refused before opening anything


def test_results_show_prints_embeddings_and_provenance(aima, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.analyzers import faces_fixtures as ff

    photo = ff.save(ff.astronaut(), tmp_path / "astronaut.png")
    (outcome,) = json.loads(aima("ingest", str(photo), "--analyzers", "faces", "--json").stdout)
    aima("worker", "--drain")
    listed = json.loads(aima("results", "list", outcome["media_id"], "--json").stdout)
    faces_id = next(r["id"] for r in listed if r["analyzer"] == "faces")
    assert all("data" not in r and r["model_id"] for r in listed)

    shown = json.loads(aima("results", "show", faces_id, "--json").stdout)
    assert (shown["id"], shown["media_id"], shown["analyzer"]) == (
        faces_id,
        outcome["media_id"],
        "faces",
    )
    assert shown["analyzer_version"] and shown["model_id"].startswith("dlib")
    assert isinstance(shown["config"], dict) and len(shown["config_hash"]) >= 16
    embedding = shown["data"]["faces"][0]["embedding"]
    assert len(embedding) == 128 and all(isinstance(v, float) for v in embedding)

    human = aima("results", "show", faces_id).stdout
    assert "model_id" in human and "[128 numbers]" in human
    missing = aima("results", "show", "res_missing", check=1)
    assert "not found" in missing.stderr
