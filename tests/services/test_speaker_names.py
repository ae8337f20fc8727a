"""Speaker labels become person names in the timeline, VTT/SRT exports and text search.

Real pipeline (speakers + Whisper transcription) on a generated two-voice clip; the
labels are resolved when read, so a rename or a merge shows everywhere at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aima.cli.jobs import run_jobs_here
from aima.identity.names import person_labels
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from tests.conftest import make_settings
from tests.mediagen.library import render_clip

pytestmark = pytest.mark.slow
ADMIN = cli_principal()
FIRST = "Good morning everyone, thank you for coming today."
SECOND = "The costs went up by ten percent in the last quarter."


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, str]]:
    tmp = tmp_path_factory.mktemp("names")
    clip, _, _ = render_clip(
        tmp,
        "meeting",
        [("astronaut", 6.0), ("messi", 6.0)],
        [("V1", FIRST, 0.5), ("V2", SECOND, 6.5)],
    )
    rt = build_runtime(make_settings(tmp / "data", f"sqlite:///{tmp / 'a.db'}"))
    outcomes = rt.ingest.ingest_paths([clip], ADMIN, analyzers=["speakers", "transcribe"])
    states = run_jobs_here(rt, [o.job_id for o in outcomes if o.job_id], show=False)
    assert set(states.values()) == {"succeeded"}, states
    rt.identity.sync()
    media_id = outcomes[0].media_id
    assert media_id is not None
    try:
        yield rt, media_id
    finally:
        rt.close()


def _speaker_of(rt: Runtime, media_id: str, word: str) -> dict[str, object]:
    """The segment saying ``word``; "second" is whatever was heard in the second turn."""
    segs = rt.timelines.timeline(ADMIN, media_id)["tracks"]["transcript"]
    if word == "second":  # espeak speech: Whisper's words may vary, its timing does not
        return next(s for s in segs if s["start"] >= 6.0 and s["text"].strip())
    return next(s for s in segs if word in s["text"].lower())


def test_rename_and_merge_show_in_timeline_exports_and_search(media: tuple[Runtime, str]) -> None:
    rt, media_id = media
    morning = _speaker_of(rt, media_id, "morning")
    costs = _speaker_of(rt, media_id, "second")
    # before any rename: the raw id stays, the person has a stable unnamed label
    assert morning["speaker"] and morning["person_id"] and morning["speaker"] != costs["speaker"]
    assert morning["person_named"] is False
    assert str(morning["person_name"]).startswith("Unknown person ")
    assert morning["person_id"] != costs["person_id"]
    first, second = str(morning["person_id"]), str(costs["person_id"])
    vtt = rt.timelines.transcript(ADMIN, media_id, "vtt")
    assert f"<v {morning['person_name']}>" in vtt

    rt.persons.rename(ADMIN, first, "Ada <Chair>")
    rt.persons.rename(ADMIN, second, "Grace")
    vtt = rt.timelines.transcript(ADMIN, media_id, "vtt")
    srt = rt.timelines.transcript(ADMIN, media_id, "srt")
    assert "<v Ada &lt;Chair&gt;>" in vtt and "<v Grace>" in vtt  # escaped, not markup
    assert "[Ada <Chair>]" in srt and "[Grace]" in srt
    assert f"<v {morning['speaker']}>" not in vtt
    hits = rt.search.text(ADMIN, "morning")["results"]
    assert hits and hits[0]["person_name"] == "Ada <Chair>"
    assert hits[0]["speaker"] == morning["speaker"] and hits[0]["person_id"] == first
    timeline = rt.timelines.timeline(ADMIN, media_id)
    names = {t["id"]: t["person_name"] for t in timeline["tracks"]["speakers"]}
    assert set(names.values()) == {"Ada <Chair>", "Grace"}

    # merge Ada into Grace: every label follows the surviving person
    rt.persons.merge(ADMIN, second, [first])
    assert _speaker_of(rt, media_id, "morning")["person_name"] == "Grace"
    vtt = rt.timelines.transcript(ADMIN, media_id, "vtt")
    assert "Ada" not in vtt and vtt.count("<v Grace>") >= 2
    hit = rt.search.text(ADMIN, "morning")["results"][0]
    assert (hit["person_id"], hit["person_name"]) == (second, "Grace")
    with rt.db.session() as s:  # an old id (bookmarks, exports) resolves through the merge
        assert person_labels(s, [first])[first].person_name == "Grace"
