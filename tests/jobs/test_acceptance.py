"""Auto-acceptance of a re-run: same version, config *and model* replaces; anything else waits."""

from __future__ import annotations

from pathlib import Path

from aima.runtime import Runtime
from tests.jobs.conftest import RuntimeFactory, ingest


def _run(rt: Runtime, media_id: str, *, model_id: str, version: str = "1.0.0") -> bool:
    """Submit, claim and finish one counting job whose result carries ``model_id``."""
    job, _ = rt.ledger.submit(media_id, ["counting"])
    claim = rt.ledger.claim("w-accept")
    assert claim is not None and claim.job_id == job.id
    result_id = rt.ledger.save_result(
        claim,
        "counting",
        version=version,
        model_id=model_id,
        config={"chunks": 1},
        config_hash="cfg-1",
        data={"model": model_id},
    )
    rt.ledger.complete(claim)
    accepted = {r.id: r.accepted for r in rt.ledger.results(job.id)}
    return accepted[result_id]


def test_new_model_id_waits_for_review(make_rt: RuntimeFactory, image: Path) -> None:
    rt = make_rt({"chunks": 1})
    media = ingest(rt, image)

    assert _run(rt, media, model_id="dlib-resnet-v1") is True  # first result: accepted
    assert _run(rt, media, model_id="dlib-resnet-v1") is True  # same everything: replaces
    # same version and config, stronger model: waits beside the accepted one
    assert _run(rt, media, model_id="arcface-r50") is False
    # a different version still waits too (the rule did not get looser)
    assert _run(rt, media, model_id="dlib-resnet-v1", version="2.0.0") is False
    # and the original model re-run still replaces the accepted result
    assert _run(rt, media, model_id="dlib-resnet-v1") is True
