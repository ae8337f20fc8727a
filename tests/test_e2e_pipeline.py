"""The whole offline pipeline on the generated ground-truth scenario, on SQLite and PostgreSQL.

Real models, real files, real databases: faces in the right windows and the two
people separated, on-screen text within 5 % CER, speech regions within 0.3 s,
speaker turns >= 90 % right by duration, every transcript segment attributed to
the speaker who really talks then, a benign video not flagged, and the same results
on both databases. The SQLite run is its own fixture: it never skips because
PostgreSQL is absent (only the comparison needs the server).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aima.core.settings import DEFAULT_ANALYZERS
from aima.jobs.states import JobState
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from tests.conftest import create_pg_database, drop_pg_database, make_settings
from tests.mediagen.scenario import Scenario, make_scenario

ALL = list(DEFAULT_ANALYZERS)
pytestmark = pytest.mark.slow


def cer(ref: str, hyp: str) -> float:
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        cur = [i]
        for j, hc in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc)))
        prev = cur
    return prev[-1] / max(1, len(ref))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return make_scenario(tmp_path_factory.mktemp("scenario"))


def _analyse(
    rt: Runtime, scenario: Scenario
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    outcome = rt.ingest.ingest_file(scenario.video, cli_principal(), analyzers=ALL)
    assert outcome.status == "created" and outcome.job_id and outcome.media_id
    assert rt.make_worker("e2e").run_once()
    job = rt.ledger.get(outcome.job_id)
    assert job.state == JobState.SUCCEEDED, job.outcome
    results = {r.analyzer: r.data for r in rt.ledger.results(outcome.job_id)}
    return results, rt.timelines.timeline(cli_principal(), outcome.media_id), job.outcome


def _run_on(url: str, data_dir: Path, scenario: Scenario) -> tuple[dict[str, Any], dict[str, Any]]:
    rt = build_runtime(make_settings(data_dir, url, jobs={"chunk_s": 10}))
    try:
        results, timeline, _ = _analyse(rt, scenario)
        return results, timeline
    finally:
        rt.close()


@pytest.fixture(scope="module")
def sqlite_run(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sqlite_dir = tmp_path_factory.mktemp("e2e-sqlite")
    results, timeline = _run_on(f"sqlite:///{sqlite_dir / 'a.db'}", sqlite_dir / "data", scenario)
    return {"sqlite": (results, timeline)}


@pytest.fixture(scope="module")
def pg_run(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url, name = create_pg_database()  # skips (or fails under CI) without a server
    try:
        pg_dir = tmp_path_factory.mktemp("e2e-pg")
        return {"postgres": _run_on(url, pg_dir / "data", scenario)}
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="module")
def analysed(sqlite_run: dict[str, Any]) -> dict[str, Any]:
    return sqlite_run


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def test_faces_in_the_right_windows_and_people_separate(
    analysed: dict[str, Any], scenario: Scenario
) -> None:
    results, _ = analysed["sqlite"]
    tracks = results["faces"]["tracks"]
    tolerance = 2.0  # one keyframe interval
    by_person: dict[str, list[dict[str, Any]]] = {"astronaut": [], "messi": []}
    for track in tracks:
        truth = [
            s
            for s in scenario.faces
            if _overlap(track["start"], track["end"] + 1e-3, s.start, s.end)
        ]
        assert truth, f"face track {track['start']}-{track['end']} outside every true window"
        span = truth[0]
        assert track["start"] >= span.start - 1e-3 and track["end"] <= span.end + tolerance
        by_person[span.label].append(track)
    assert by_person["astronaut"] and by_person["messi"]
    emb = {p: np.mean([t["embedding"] for t in ts], axis=0) for p, ts in by_person.items()}
    astro_a, astro_b = (
        (np.asarray(t["embedding"]) for t in by_person["astronaut"][:2])
        if len(by_person["astronaut"]) > 1
        else (emb["astronaut"], emb["astronaut"])
    )
    threshold = results["faces"]["match_distance"]  # dlib's 0.6 in L2-normalised units
    assert np.linalg.norm(astro_a - astro_b) < threshold  # the same person's two appearances
    assert np.linalg.norm(emb["astronaut"] - emb["messi"]) > threshold  # two different people


def test_on_screen_text_within_5_percent_cer(analysed: dict[str, Any], scenario: Scenario) -> None:
    results, _ = analysed["sqlite"]
    lines = results["ocr"]["lines"]
    for truth in scenario.texts:
        candidates = [
            line
            for line in lines
            if _overlap(line["start"], line["end"] + 2.0, truth.start, truth.end)
        ]
        best = min((cer(truth.label, line["text"]) for line in candidates), default=1.0)
        assert best <= 0.05, (
            f"{truth.label!r} best CER {best:.2f} among {[c['text'] for c in candidates]}"
        )


def test_speech_regions_within_300_ms(analysed: dict[str, Any], scenario: Scenario) -> None:
    results, _ = analysed["sqlite"]
    segments = results["vad"]["segments"]
    for truth in scenario.speech:
        match = [s for s in segments if _overlap(s["start"], s["end"], truth.start, truth.end) > 0]
        assert match, f"no speech found for {truth}"
        assert abs(match[0]["start"] - truth.start) <= 0.3
        assert abs(match[-1]["end"] - truth.end) <= 0.3


def _speaker_mapping(
    turns: list[dict[str, Any]], scenario: Scenario
) -> tuple[dict[str, str], float]:
    """Ground-truth label -> found speaker id that agrees best, and that agreement by duration."""
    labels = sorted({t["speaker"] for t in turns})
    assert len(labels) == 2, labels
    best: tuple[dict[str, str], float] = ({}, -1.0)
    for mapping in ({"A": a, "B": b} for a in labels for b in labels if a != b):
        right = sum(
            _overlap(t["start"], t["end"], s.start, s.end)
            for s in scenario.speech
            for t in turns
            if t["speaker"] == mapping[s.label]
        )
        share = right / sum(s.end - s.start for s in scenario.speech)
        if share > best[1]:
            best = (mapping, share)
    return best


def test_speaker_turns_90_percent_right_by_duration(
    analysed: dict[str, Any], scenario: Scenario
) -> None:
    results, _ = analysed["sqlite"]
    _, share = _speaker_mapping(results["speakers"]["turns"], scenario)
    assert share >= 0.9


def test_each_transcript_segment_has_the_true_speaker(
    analysed: dict[str, Any], scenario: Scenario
) -> None:
    results, timeline = analysed["sqlite"]
    mapping, _ = _speaker_mapping(results["speakers"]["turns"], scenario)
    segments = timeline["tracks"]["transcript"]
    assert segments
    for seg in segments:
        # the true utterance this segment overlaps most
        truth = max(
            scenario.speech, key=lambda s: _overlap(seg["start"], seg["end"], s.start, s.end)
        )
        assert _overlap(seg["start"], seg["end"], truth.start, truth.end) > 0, seg
        assert seg["speaker"] == mapping[truth.label], (seg, truth, mapping)


def test_benign_video_is_not_flagged(analysed: dict[str, Any]) -> None:
    results, timeline = analysed["sqlite"]
    assert results["nsfw"]["max_score"] < 0.2
    assert results["nsfw"]["spans"] == []
    assert timeline["summary"]["nsfw_spans"] == 0


def test_timeline_fuses_every_modality(analysed: dict[str, Any]) -> None:
    _, timeline = analysed["sqlite"]
    s = timeline["summary"]
    assert s["face_tracks"] >= 2 and s["speakers"] == 2 and s["ocr_lines"] >= 2
    assert s["transcript_segments"] >= 1
    assert set(timeline["sources"]) >= set(ALL)


def _comparable(results: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in results.items() if k != "thumbnails"} | {
        "thumbnails": {"t": results["thumbnails"]["t"]}
    }


@pytest.mark.postgres
def test_results_identical_on_sqlite_and_postgresql(
    sqlite_run: dict[str, Any], pg_run: dict[str, Any]
) -> None:
    sqlite_results, _ = sqlite_run["sqlite"]
    pg_results, _ = pg_run["postgres"]
    assert _comparable(sqlite_results) == _comparable(pg_results)
