"""Re-running one analyzer reuses its requirements' accepted results instead of redoing them."""

from __future__ import annotations

from pathlib import Path

from aima.media import synth
from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.plugins import chain


def test_only_the_requested_analyzer_runs_and_reads_earlier_chunks(
    tmp_path: Path, db_url: str
) -> None:
    rt = build_runtime(make_settings(tmp_path / "d", db_url, plugins=["tests.plugins.chain"]))
    try:
        video = synth.make_video(tmp_path / "v.mp4", seconds=5.0)  # chunk_s=2 -> 3 chunks
        media_id = rt.ingest.ingest_file(video, cli_principal(), analyze=False).media_id
        assert media_id
        rt.jobs.submit(cli_principal(), media_id, ["chain_base"])
        assert rt.make_worker("w").run_once()
        before = dict(chain.RUNS)

        job, _ = rt.jobs.submit(cli_principal(), media_id, ["chain_dep"])
        assert job.analyzers == ["chain_dep"]  # the requirement is not queued again
        assert rt.make_worker("w").run_once()
        assert rt.ledger.get(job.id).state == "succeeded"
        assert chain.RUNS["chain_base"] == before["chain_base"]  # not redone
        assert chain.RUNS["chain_dep"] == before["chain_dep"] + 3
        (result,) = rt.ledger.results(job.id)
        assert result.data == {"values": [1, 3, 5]}

        # without an accepted earlier result, the requirement runs in the same job
        other = rt.ingest.ingest_file(
            synth.make_video(tmp_path / "w.mp4", seconds=3.0, freq=500),
            cli_principal(),
            analyze=False,
        ).media_id
        assert other
        job2, _ = rt.jobs.submit(cli_principal(), other, ["chain_dep"])
        assert job2.analyzers == ["chain_base", "chain_dep"]
        assert rt.make_worker("w").run_once()
        assert {r.analyzer for r in rt.ledger.results(job2.id)} == {"chain_base", "chain_dep"}
    finally:
        rt.close()
