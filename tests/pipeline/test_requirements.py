"""Re-running one analyzer reuses its requirements' accepted results instead of redoing them."""

from __future__ import annotations

from pathlib import Path

from aima.runtime import build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.mediagen import synth
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


def test_retrying_a_partial_job_feeds_the_dependent_from_committed_chunks(
    tmp_path: Path, db_url: str
) -> None:
    rt = build_runtime(make_settings(tmp_path / "d", db_url, plugins=["tests.plugins.chain"]))
    try:
        video = synth.make_video(tmp_path / "v.mp4", seconds=5.0)
        media_id = rt.ingest.ingest_file(video, cli_principal(), analyze=False).media_id
        assert media_id
        chain.FAIL_ONCE.add(1)
        job, _ = rt.jobs.submit(cli_principal(), media_id, ["chain_base", "chain_dep"])
        assert rt.make_worker("w").run_once()
        failed = rt.ledger.get(job.id)
        assert failed.state == "partial"
        assert "breaks once" in failed.outcome["chain_dep"]["reason"]
        base_runs = chain.RUNS["chain_base"]

        rt.jobs.retry(cli_principal(), job.id)
        assert rt.make_worker("w").run_once()
        done = rt.ledger.get(job.id)
        assert done.state == "succeeded", done.outcome
        assert chain.RUNS["chain_base"] == base_runs  # its chunks were read, not recomputed
        dep = next(r for r in rt.ledger.results(job.id) if r.analyzer == "chain_dep")
        assert dep.data == {"values": [1, 3, 5]}
    finally:
        rt.close()


def test_a_disabled_requirement_disables_its_dependents(tmp_path: Path) -> None:
    rt = build_runtime(
        make_settings(
            tmp_path / "d",
            f"sqlite:///{tmp_path / 'a.db'}",
            plugins=["tests.plugins.chain"],
            disabled_analyzers=["chain_base"],
        )
    )
    try:
        image = synth.make_image(tmp_path / "i.jpg")
        outcome = rt.ingest.ingest_file(image, cli_principal(), analyzers=["chain_dep"])
        assert outcome.job_id and rt.make_worker("w").run_once()
        job = rt.ledger.get(outcome.job_id)
        assert job.state == "succeeded"
        assert job.outcome["chain_base"]["status"] == "disabled"
        assert job.outcome["chain_dep"] == {
            "status": "disabled",
            "reason": "requires chain_base, which is disabled by policy",
        }
    finally:
        rt.close()
