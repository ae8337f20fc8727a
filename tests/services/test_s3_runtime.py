"""Switching the blob store to S3 is a setting: ingest, analysis and verify run unchanged."""

from __future__ import annotations

from pathlib import Path

from aima.jobs.states import JobState
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings, s3_blob_settings
from tests.mediagen import synth


def test_embedded_pipeline_on_s3_blobs(tmp_path: Path, s3_endpoint: str) -> None:
    settings = make_settings(
        tmp_path / "data", f"sqlite:///{tmp_path / 'a.db'}", blobs=s3_blob_settings(s3_endpoint)
    )
    rt = build_runtime(settings)
    try:
        video = synth.make_video(tmp_path / "v.mp4", seconds=3.0)
        outcome = rt.ingest.ingest_file(video, cli_principal())
        assert outcome.status == "created" and outcome.job_id
        assert rt.make_worker("w").run_once()
        assert rt.ledger.get(outcome.job_id).state == JobState.SUCCEEDED
        (result,) = rt.ledger.results(outcome.job_id)
        assert rt.blobs.exists(result.data["thumbnail"])
        assert rt.system.verify_storage() == []
        assert not (tmp_path / "data" / "blobs").exists()  # nothing went to local disk
    finally:
        rt.close()
