"""Cited summaries: citation parsing and checking, relations, facts and their hash, extractive
summaries, and the model path through the real client against a local chat-completions
server (scripted answers: invented ids, uncited sentences, an endpoint that never answers).

The world is the dossier test's (``tests.identity.test_dossier``): Alice and Bob talk in
``interview.mp4``; Alice, Bob and Carol pass on ``street cam.mp4``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.identity.citations import check_sentence, check_text, cited_ids, split_sentences
from aima.identity.dossier import build_dossier
from aima.identity.dossier_markdown import dossier_markdown
from aima.identity.summaries import FIX_PROMPT, PERSON_PROMPT, is_stale
from aima.identity.summary_facts import extractive, media_facts, person_facts
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import AuditEvent, Job, Summary
from tests.conftest import make_settings
from tests.identity.test_dossier import NOW, World, _build
from tests.llm.fakeserver import FakeChatServer

# --- citations -----------------------------------------------------------------------------


def test_split_keeps_names_and_numbers_and_moves_leading_citations() -> None:
    text = (
        "1. Alice appears in interview.mp4 for 2.0 s. [F1] She says “Hello there.” [F5, F6]\n"
        "- Bob is with her [F9]! Is that all? [F2]\n\n[F3]"
    )
    assert split_sentences(text) == [
        "Alice appears in interview.mp4 for 2.0 s. [F1]",
        "She says “Hello there.” [F5, F6]",
        "Bob is with her [F9]!",
        "Is that all? [F2] [F3]",
    ]


def test_check_rejects_uncited_and_unknown_ids_and_normalises() -> None:
    known = {"F1", "F2", "F3"}
    ok = check_sentence("Alice appears twice [F1][f3] in the footage.", known)
    assert not hasattr(ok, "reason")
    assert ok.text == "Alice appears twice in the footage [F1, F3]."
    assert ok.cites == ("F1", "F3")
    assert "no fact id" in getattr(check_sentence("Alice is tall.", known), "reason", "")
    bad = check_sentence("Alice is a pilot [F2, F999].", known)
    assert getattr(bad, "reason", "").endswith("not in the fact list: F999")
    assert "too short" in getattr(check_sentence("Alice Example: [F1].", known), "reason", "")
    assert cited_ids("x [F1 and M2; F1] (F4)") == ["F1", "M2"]  # parentheses are not citations

    checked = check_text(
        "She is here [F1]. She is here [F1]. Bob is too. Carol is far [F7]. Dan sits down [F2]",
        known,
        keep=["Dan sits down [F2]."],
    )
    assert [s.text for s in checked.kept] == ["She is here [F1]."]
    assert [r.text for r in checked.rejected] == ["Bob is too.", "Carol is far [F7]."]


# --- relations and facts -------------------------------------------------------------------


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    from aima.store import migrate
    from aima.store.db import Database

    db = Database(db_url)
    migrate.upgrade(db)
    try:
        yield _build(db)
    finally:
        db.dispose()


def _doc(w: World, person: str) -> dict[str, Any]:
    with w.db.session() as s:
        return build_dossier(s, person, now=NOW)


def test_speaking_to_each_other_is_a_cited_fact(world: World) -> None:
    doc = _doc(world, world.alice)
    facts = {f["id"]: f for f in doc["facts"]}
    (fid,) = doc["sections"]["speaks_with"]
    fact = facts[fid]
    assert fact["kind"] == "speaks_with"
    # S1 0.5-2.5 (alice), S2 2.5-4.0 (bob), S1 4.0-7.0 (alice): two exchanges in the interview
    assert fact["data"] == {
        "person_id": world.bob,
        "name": None,
        "media_count": 1,
        "exchanges": 2,
        "media_ids": [world.media_a],
    }
    assert [(c["analyzer"], c["start"], c["end"]) for c in fact["citations"]] == [
        ("speakers", 0.5, 2.5),
        ("speakers", 2.5, 4.0),
    ]
    bob = _doc(world, world.bob)
    (bob_fid,) = bob["sections"]["speaks_with"]
    assert next(f for f in bob["facts"] if f["id"] == bob_fid)["data"]["person_id"] == world.alice
    assert _doc(world, world.carol)["sections"]["speaks_with"] == []  # never heard
    assert "## Speaks with" in dossier_markdown(doc)


def test_facts_hash_follows_the_statements_and_the_name(world: World) -> None:
    facts = person_facts(_doc(world, world.alice))
    assert facts.ids == {f["id"] for f in _doc(world, world.alice)["facts"]}
    assert person_facts(_doc(world, world.alice)).hash == facts.hash  # deterministic
    from aima.store.models import Person

    with world.db.session() as s:
        s.get(Person, world.alice).name = "Alice Renamed"  # type: ignore[union-attr]
    assert person_facts(_doc(world, world.alice)).hash != facts.hash
    with world.db.session() as s:
        s.get(Person, world.bob).name = "Bob"  # type: ignore[union-attr]
    # her facts name him ("Appears with Bob"): her summary is stale too
    assert person_facts(_doc(world, world.alice)).hash != facts.hash


def test_extractive_summary_cites_each_fact_itself(world: World) -> None:
    facts = person_facts(_doc(world, world.alice))
    by_id = facts.by_id()
    sentences = extractive(facts)
    assert 3 <= len(sentences) <= 12
    for s in sentences:
        (fid,) = s.cites
        assert s.text.endswith(f"[{fid}].") or s.text.endswith(f"[{fid}]”")
        assert by_id[fid].statement.rstrip(".") in s.text
        assert by_id[fid].section not in ("representative_faces", "voice_samples")
    sections = [by_id[s.cites[0]].section for s in sentences]
    assert {"appearances", "appears_with", "speaks_with", "emotions", "flags"} <= set(sections)
    assert [s.cites[0] for s in sentences] == sorted(
        (s.cites[0] for s in sentences), key=lambda i: int(i[1:])
    )  # in dossier order


def test_media_facts_from_a_timeline() -> None:
    timeline = {
        "media": {"id": "med_x", "name": "talk.mp4", "kind": "video", "duration_s": 30.0},
        "summary": {"analyzers": ["faces", "speakers", "transcribe"]},
        "tracks": {
            "speakers": [
                {"id": "S1", "total_s": 6.0, "person_name": "Alice", "turns": [
                    {"start": 0.0, "end": 3.0}, {"start": 5.0, "end": 8.0}]},
            ],
            "faces": [{"id": "face-0", "start": 1.0, "end": 4.0, "seen_until": 4.0,
                       "person_name": "Alice", "top_emotion": "happy"}],
            "transcript": [{"start": 0.0, "end": 3.0, "speaker": "S1", "person_name": "Alice",
                            "text": "We meet at the harbour."}],
            "ocr": [{"start": 2.0, "end": 2.0, "text": "EXIT", "confidence": 0.9},
                    {"start": 3.0, "end": 3.0, "text": "exit", "confidence": 0.8}],
            "scenes": [{"start": 0.0, "end": 10.0, "description": "Two people at a desk."}],
            "objects": [], "nsfw": [],
        },
    }  # fmt: skip
    facts = media_facts(timeline)
    assert [f.id for f in facts.facts] == [f"M{i}" for i in range(1, len(facts.facts) + 1)]
    kinds = [f.kind for f in facts.facts]
    assert kinds == ["overview", "speaker", "face", "description", "said", "text_seen"]
    statements = " | ".join(f.statement for f in facts.facts)
    assert "talk.mp4 is a 30.0 s video" in statements
    assert "Alice speaks for 6.0 s in 2 turn(s)" in statements
    assert "“We meet at the harbour.”" in statements and "Two people at a desk." in statements
    assert facts.facts[-1].cite == {"lane": "ocr", "start": 2.0, "end": 2.0}  # EXIT once
    assert media_facts(timeline).hash == facts.hash


# --- the model path through the real client --------------------------------------------------


@pytest.fixture
def make_rt(tmp_path: Path) -> Iterator[Any]:
    made: list[Runtime] = []

    def make(base_url: str | None = None, **text: Any) -> tuple[Runtime, World]:
        llm = {"text": {"base_url": base_url, "model": "fake", "max_retries": 0, **text}}
        db = f"sqlite:///{tmp_path / f'aima{len(made)}.db'}"
        rt = build_runtime(make_settings(tmp_path / f"data{len(made)}", db, llm=llm))
        made.append(rt)
        return rt, _build(rt.db)

    yield make
    for rt in made:
        rt.close()


def _stored(rt: Runtime, subject_id: str) -> Summary:
    with rt.db.session() as s:
        row = s.execute(select(Summary).where(Summary.subject_id == subject_id)).scalar_one()
        s.expunge(row)
        return row


def test_offline_summary_is_extractive_and_labelled_everywhere(make_rt: Any) -> None:
    rt, w = make_rt(None)
    out = rt.summaries.person(cli_principal(), w.alice)
    assert out["method"] == "extractive" and out["regenerated"] is True
    assert out["label"] == "extractive summary (no language model configured)"
    assert out["details"]["reason"] == "not_configured"
    assert out["sentences"] and all(len(s["cites"]) == 1 for s in out["sentences"])
    assert rt.summaries.person(cli_principal(), w.alice)["regenerated"] is False  # stored
    doc = rt.persons.dossier(cli_principal(), w.alice)
    assert isinstance(doc, dict) and doc["narrative"]["label"] == out["label"]
    md = rt.persons.dossier(cli_principal(), w.alice, "md")
    assert isinstance(md, str) and "_extractive summary (no language model configured)_" in md
    with rt.db.session() as s:
        actions = list(s.execute(select(AuditEvent.action)).scalars())
    assert actions.count("person.summary") == 2


def _answers(*texts: str) -> Any:
    """A responder giving ``texts`` in turn (the last one again after that)."""
    seen: list[int] = []

    def respond(body: dict[str, Any]) -> str:
        seen.append(1)
        return texts[min(len(seen), len(texts)) - 1]

    return respond


def test_invented_citations_are_regenerated_once_then_dropped(make_rt: Any) -> None:
    with FakeChatServer(
        _answers(
            "Alice appears in interview.mp4 [F1]. She is a secret agent [F999]. She likes cats.",
            "She works for a bank [F998]. Alice speaks with someone [F1, F2].",
        )
    ) as fake:
        rt, w = make_rt(fake.base_url)
        out = rt.summaries.person(cli_principal(), w.alice)
        requests = list(fake.requests)
    assert out["method"] == "llm", out
    known = {f["id"] for f in _doc(w, w.alice)["facts"]}
    assert [s["cites"] for s in out["sentences"]] == [["F1"], ["F1", "F2"]]
    assert all(set(s["cites"]) <= known for s in out["sentences"])
    d = out["details"]
    assert (d["rejected"], d["regenerated"], d["dropped"], d["recovered"]) == (2, True, 1, 1)
    assert out["model"] == "fake-model"
    assert out["prompt_version"] == PERSON_PROMPT.ref
    assert out["label"] == f"LLM summary (fake-model, prompt {PERSON_PROMPT.ref})"
    assert len(requests) == 2  # asked once more, not again
    fix = requests[1]["messages"][-1]["content"]
    assert "She is a secret agent [F999]" in fix and "F999" in fix and "She likes cats" in fix
    assert requests[1]["messages"][0]["content"] == FIX_PROMPT.system
    assert "[F1] Appears in interview.mp4" in requests[0]["messages"][1]["content"]
    row = _stored(rt, w.alice)
    assert row.text == "Alice appears in interview.mp4 [F1]. Alice speaks with someone [F1, F2]."


def test_no_valid_sentence_falls_back_to_extractive(make_rt: Any) -> None:
    with FakeChatServer(_answers("Alice is a person of interest. Nothing else [F0].")) as fake:
        rt, w = make_rt(fake.base_url)
        out = rt.summaries.person(cli_principal(), w.alice)
        assert len(fake.requests) == 2
    assert out["method"] == "extractive"
    assert out["details"]["reason"] == "no_valid_sentences"
    assert out["details"]["llm"]["rejected"] == 2 and out["details"]["llm"]["dropped"] == 2
    assert "citation check" in out["label"]
    assert out["sentences"]
    # not retried on every read: the model had its chance on these facts
    assert not is_stale(_stored(rt, w.alice), person_facts(_doc(w, w.alice)), llm_configured=True)


def test_endpoint_that_never_answers_gives_extractive_and_loses_nothing(make_rt: Any) -> None:
    gate = threading.Event()

    def hang(body: dict[str, Any]) -> str:
        gate.wait(60)
        return "too late [F1]."

    with FakeChatServer(hang) as fake:
        try:
            rt, w = make_rt(fake.base_url, timeout_s=0.5)
            out = rt.summaries.person(cli_principal(), w.alice)
        finally:
            gate.set()
    assert out["method"] == "extractive" and out["details"]["reason"] == "unavailable"
    assert "could not be reached" in out["label"]
    assert out["sentences"] and out["facts_hash"] == person_facts(_doc(w, w.alice)).hash
    # a closed port: same, and the media summary too
    rt2, w2 = make_rt("http://127.0.0.1:9/v1")
    media = rt2.summaries.media(cli_principal(), w2.media_a)
    assert media["method"] == "extractive" and media["details"]["reason"] == "unavailable"
    assert all(c.startswith("M") for s in media["sentences"] for c in s["cites"])


def test_stale_summaries_are_rewritten_rename_merge_new_results(make_rt: Any) -> None:
    def cite_first(body: dict[str, Any]) -> str:
        user = body["messages"][1]["content"]
        first = user.split("[", 1)[1].split("]", 1)[0]
        return f"This person is in the library [{first}]."

    with FakeChatServer(cite_first) as fake:
        rt, w = make_rt(fake.base_url)
        p = cli_principal()
        first = rt.summaries.person(p, w.alice)
        assert first["method"] == "llm" and first["regenerated"]
        assert rt.summaries.person(p, w.alice)["regenerated"] is False
        assert rt.summaries.person(p, w.alice, refresh=True)["regenerated"] is True
        n = len(fake.requests)

        rt.persons.rename(p, w.alice, "Alice Q. Example")
        renamed = rt.summaries.person(p, w.alice)
        assert renamed["regenerated"] and renamed["facts_hash"] != first["facts_hash"]
        assert "Alice Q. Example" in fake.requests[-1]["messages"][1]["content"]

        rt.persons.merge(p, w.alice, [w.carol])
        merged = rt.summaries.person(p, w.carol)  # the merged id answers for alice
        assert merged["subject_id"] == w.alice and merged["requested_id"] == w.carol
        assert merged["regenerated"] and merged["facts_hash"] != renamed["facts_hash"]
        assert len(fake.requests) == n + 2

        # a job on her media: new results change her facts; the refresh is extractive
        with rt.db.session() as s:
            from aima.store.models import Observation

            s.add(Job(id="job_new", media_id=w.media_a, analyzers=["speakers"], state="done"))
            bob_voice = s.execute(
                select(Observation).where(Observation.ref == "speaker:S2")
            ).scalar_one()
            bob_voice.spans = [[2.5, 4.0], [7.5, 9.0]]  # bob answers once more
        assert rt.summaries.refresh_after_job("job_new") == {"checked": 1, "rewritten": 1}
        row = _stored(rt, w.alice)
        assert row.method == "extractive" and row.details["reason"] == "eager"
        assert len(fake.requests) == n + 2  # no model call after the job
        again = rt.summaries.person(p, w.alice)  # the next read asks the model
        assert again["method"] == "llm" and again["regenerated"]
        assert rt.summaries.refresh_after_job("job_new") == {"checked": 1, "rewritten": 0}


def test_erasing_media_forgets_the_summaries_that_may_quote_it(make_rt: Any) -> None:
    from aima.services.erase_media import MediaEraser

    rt, w = make_rt(None)
    p = cli_principal()
    rt.summaries.person(p, w.alice)
    rt.summaries.media(p, w.media_a)
    MediaEraser(rt.db, rt.blobs, rt.identity).erase(p, w.media_a)
    with rt.db.session() as s:
        left = set(s.execute(select(Summary.subject_id)).scalars())
    assert left == set()
    out = rt.summaries.person(p, w.alice)
    assert "interview.mp4" not in out["text"] and out["regenerated"]
