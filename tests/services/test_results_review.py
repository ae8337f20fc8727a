"""A new analyzer config/version waits for review beside the accepted result; accepting switches."""

from __future__ import annotations

from pathlib import Path

from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.mediagen import synth


def test_new_config_results_wait_for_review_then_replace(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    first = build_runtime(make_settings(data, db_url))
    video = synth.make_video(tmp_path / "v.mp4", seconds=2.0)
    media_id = first.ingest.ingest_file(video, cli_principal()).media_id
    assert media_id and first.make_worker("w").run_once()
    (original,) = first.media.results(cli_principal(), media_id)
    assert original.accepted

    # the same config again replaces the accepted result
    job, _ = first.jobs.submit(cli_principal(), media_id, ["thumbnails"])
    assert first.make_worker("w").run_once()
    rerun = first.ledger.results(job.id)[0]
    assert rerun.accepted
    assert not next(
        r for r in first.media.results(cli_principal(), media_id) if r.id == original.id
    ).accepted
    first.close()

    # a different config is kept beside it, pending review
    second = build_runtime(make_settings(data, db_url, analyzers={"thumbnails": {"max_side": 96}}))
    try:
        job, _ = second.jobs.submit(cli_principal(), media_id, ["thumbnails"])
        assert second.make_worker("w").run_once()
        (pending,) = second.ledger.results(job.id)
        assert not pending.accepted
        timeline = second.timelines.timeline(cli_principal(), media_id)
        assert timeline["sources"]["thumbnails"]["result_id"] == rerun.id
        assert timeline["pending_review"] == [
            {"analyzer": "thumbnails", "result_id": pending.id, "version": pending.analyzer_version}
        ]
        second.timelines.accept(cli_principal(), pending.id)
        timeline = second.timelines.timeline(cli_principal(), media_id)
        assert timeline["sources"]["thumbnails"]["result_id"] == pending.id
        assert timeline["pending_review"] == []  # the replaced result is history, not pending
    finally:
        second.close()
