"""Cited summaries written by the real llama.cpp server (SmolLM2-135M) and through the fault
proxy in front of it. The tiny model is weak, so these tests assert the invariants, never
the wording: every stored sentence cites only ids the prompt listed; a first answer with
rejected sentences was followed by exactly one regeneration; a summary with no valid
sentence is extractive and says why; a failing endpoint loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.identity.summaries import FIX_PROMPT, MEDIA_PROMPT, PERSON_PROMPT
from aima.runtime import Runtime, build_runtime
from aima.services.access import cli_principal
from aima.store.models import LlmCall, Summary
from tests.conftest import make_settings
from tests.identity.test_dossier import World, _build
from tests.llm.faults import Fault, FaultProxy

# a loaded 2-core CI machine generates a few tokens per second: generous per-test limits
pytestmark = [pytest.mark.llm, pytest.mark.timeout(1200)]


@pytest.fixture
def make_rt(tmp_path: Path) -> Iterator[Any]:
    made: list[Runtime] = []

    def make(base_url: str, **text: Any) -> tuple[Runtime, World]:
        endpoint = {  # a short prompt (~6 facts) and answer: the 2 shared cores are slow
            "base_url": base_url,
            "context_tokens": 768,
            "max_tokens": 64,
            "timeout_s": 600,
            "max_retries": 0,
            **text,
        }
        db = f"sqlite:///{tmp_path / f'aima{len(made)}.db'}"
        rt = build_runtime(make_settings(tmp_path / f"d{len(made)}", db, llm={"text": endpoint}))
        made.append(rt)
        return rt, _build(rt.db)

    yield make
    for rt in made:
        rt.close()


def _calls(rt: Runtime, subject: str) -> list[LlmCall]:
    with rt.db.session() as s:
        return list(
            s.scalars(select(LlmCall).where(LlmCall.subject == subject).order_by(LlmCall.id))
        )


def _known(rt: Runtime, w: World, person: str) -> set[str]:
    doc = rt.persons.dossier(cli_principal(), person)
    assert isinstance(doc, dict)
    return {f["id"] for f in doc["facts"]}


def _check_invariants(out: dict[str, Any], known: set[str], calls: list[LlmCall]) -> None:
    """What must hold whatever the model wrote."""
    for s in out["sentences"]:
        assert s["cites"] and set(s["cites"]) <= known, s
        assert all(f"{c}" in s["text"] for c in s["cites"])
    if out["method"] == "llm":
        d = out["details"]
        assert out["sentences"] and out["model"] and out["prompt_version"]
        assert d["regenerated"] == (d["rejected"] > 0)
        assert len(calls) == (2 if d["regenerated"] else 1)
        assert d["prompt_tokens"] > 0 and d["completion_tokens"] > 0
    else:  # the endpoint answered, so the only way to extractive is the citation check
        assert out["details"]["reason"] == "no_valid_sentences", out["details"]
        assert out["details"]["llm"]["regenerated"] is True and len(calls) == 2
        assert all(len(s["cites"]) == 1 for s in out["sentences"])
    assert all(c.status == "ok" for c in calls)
    expected = [PERSON_PROMPT.id, FIX_PROMPT.id][: len(calls)]
    if out["subject_type"] == "media":
        expected = [MEDIA_PROMPT.id, FIX_PROMPT.id][: len(calls)]
    assert [c.prompt_id for c in calls] == expected


def test_person_summary_from_the_real_model(llama_server: str, make_rt: Any) -> None:
    rt, w = make_rt(llama_server)
    out = rt.summaries.person(cli_principal(), w.alice)
    _check_invariants(out, _known(rt, w, w.alice), _calls(rt, f"person:{w.alice}"))
    with rt.db.session() as s:
        row = s.execute(select(Summary).where(Summary.subject_id == w.alice)).scalar_one()
        assert row.sentences == out["sentences"] and row.method == out["method"]
        assert row.facts_hash == out["facts_hash"]


def test_media_summary_from_the_real_model(llama_server: str, make_rt: Any) -> None:
    rt, w = make_rt(llama_server)
    media = rt.summaries.media(cli_principal(), w.media_a)
    m_known = {f"M{i}" for i in range(1, 100)}
    _check_invariants(media, m_known, _calls(rt, f"media:{w.media_a}"))
    assert all(c.startswith("M") for s in media["sentences"] for c in s["cites"])


def test_invented_citation_from_the_proxy_is_rejected_then_dropped(
    llama_server: str, make_rt: Any
) -> None:
    with FaultProxy(llama_server) as proxy:
        rt, w = make_rt(proxy.base_url, max_tokens=16)  # the answers are replaced anyway
        proxy.script(
            Fault.content("Alice is a spy [F999]. Alice was in interview.mp4 [F1]."),
            Fault.content("Alice works for a bank [F998]."),
        )
        out = rt.summaries.person(cli_principal(), w.alice)
        assert len(proxy.chat_requests()) == 2
        fix = proxy.chat_requests()[1].body["messages"][-1]["content"]
    assert "F999" in fix and "not in the fact list" in fix
    assert out["method"] == "llm"
    assert out["sentences"] == [{"text": "Alice was in interview.mp4 [F1].", "cites": ["F1"]}]
    d = out["details"]
    assert (d["rejected"], d["regenerated"], d["dropped"]) == (1, True, 1)
    assert "F999" not in out["text"] and "F998" not in out["text"]


def test_timeout_falls_back_to_extractive_and_the_next_read_retries_later(
    llama_server: str, make_rt: Any
) -> None:
    gate = threading.Event()
    with FaultProxy(llama_server) as proxy:
        try:
            rt, w = make_rt(proxy.base_url, timeout_s=1.0, max_tokens=16)
            proxy.script(Fault.hold(gate))
            out = rt.summaries.person(cli_principal(), w.alice)
        finally:
            gate.set()
    assert out["method"] == "extractive" and out["details"]["reason"] == "unavailable"
    assert out["label"] == "extractive summary (the language model could not be reached)"
    assert out["sentences"] and all(len(s["cites"]) == 1 for s in out["sentences"])
    (call,) = _calls(rt, f"person:{w.alice}")
    assert call.status == "error"
    # stored, and not re-asked on every read while the endpoint is down
    assert rt.summaries.person(cli_principal(), w.alice)["regenerated"] is False
