"""Failure paths the real server cannot be made to produce on demand, through the fault proxy
in front of the local wire-format server: garbage answers, long Retry-After, a server that
goes away, retries exhausted; and usage totals on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aima.core.settings import EndpointSettings
from aima.llm import CallContext, LlmClient, LlmUnavailable, Prompt, job_usage
from aima.llm.usage import DbUsageRecorder, subject_usage
from aima.store import migrate
from aima.store.db import Database
from tests.llm.conftest import ClientFactory, Sleeps, llm_rows
from tests.llm.fakeserver import FakeChatServer
from tests.llm.faults import Fault, FaultProxy

PROMPT = Prompt(id="tests.faults", version="1", system="", user="{q}")
ASK = [{"role": "user", "content": "hello"}]


@pytest.fixture
def upstream() -> Iterator[FakeChatServer]:
    with FakeChatServer(lambda _body: "fine thanks") as server:
        yield server


@pytest.fixture
def proxy(upstream: FakeChatServer) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.base_url) as p:
        yield p


def test_200_without_a_completion_is_retried_and_reported(
    make_client: ClientFactory, proxy: FaultProxy
) -> None:
    client = make_client(proxy.base_url, max_retries=1)
    proxy.script(Fault.garbage(), Fault.garbage())
    with pytest.raises(LlmUnavailable, match="answered 200 without a chat completion") as err:
        client.chat(ASK, prompt=PROMPT)
    assert "not JSON" in err.value.message and "Bad Gateway" not in err.value.message
    assert err.value.details["attempts"] == 2 and proxy.count == 2
    proxy.script(Fault.garbage())
    assert client.chat(ASK, prompt=PROMPT).attempts == 2  # recovers on the next attempt


def test_retry_after_beyond_the_cap_fails_at_once(
    make_client: ClientFactory, proxy: FaultProxy
) -> None:
    sleeps = Sleeps()
    client = make_client(proxy.base_url, sleep=sleeps, backoff_max_s=10, max_retries=5)
    proxy.script(Fault.status(429, retry_after=3600))
    with pytest.raises(LlmUnavailable, match="asked to wait 3600s"):
        client.chat(ASK, prompt=PROMPT)
    assert sleeps.delays == [] and proxy.count == 1


def test_retries_back_off_exponentially_with_jitter(
    make_client: ClientFactory, proxy: FaultProxy, usage_db: Database
) -> None:
    sleeps = Sleeps()
    client = make_client(
        proxy.base_url, sleep=sleeps, backoff_s=1.0, backoff_max_s=3.0, max_retries=3
    )
    proxy.script(*[Fault.status(503)] * 4)
    with pytest.raises(LlmUnavailable, match="failed 4 time\\(s\\); last: 503"):
        client.chat(ASK, prompt=PROMPT, ctx=CallContext(job_id="job_x"))
    assert len(sleeps.delays) == 3
    for delay, full in zip(sleeps.delays, [1.0, 2.0, 3.0], strict=True):
        assert full / 2 <= delay <= full
    totals = job_usage(usage_db, "job_x")
    assert totals.calls == 1 and totals.attempts == 4 and totals.by_status == {"error": 1}


def test_a_server_that_goes_away(make_client: ClientFactory, upstream: FakeChatServer) -> None:
    with FaultProxy(upstream.base_url, go_away_after=2) as proxy:
        client = make_client(proxy.base_url, max_retries=1, circuit_failures=2)
        assert client.chat(ASK, prompt=PROMPT).text == "fine thanks"
        assert client.chat(ASK, prompt=PROMPT).text == "fine thanks"
        assert proxy.wait_for(lambda p: p.gone)
        with pytest.raises(LlmUnavailable, match="connection failed") as err:
            client.chat(ASK, prompt=PROMPT)
        assert err.value.retryable
        assert client.breaker_state == "open"
        with pytest.raises(LlmUnavailable, match="circuit breaker"):
            client.chat(ASK, prompt=PROMPT)


def test_truncated_and_dropped_answers_are_retried(
    make_client: ClientFactory, proxy: FaultProxy
) -> None:
    client = make_client(proxy.base_url, max_retries=3)
    proxy.script(Fault.truncate(), Fault.drop(), Fault.status(502))
    assert client.chat(ASK, prompt=PROMPT).attempts == 4
    assert client.breaker_state == "closed"


def test_usage_totals_per_job_and_subject(
    db_url: str, tmp_path: Path, upstream: FakeChatServer
) -> None:
    db = Database(db_url)
    migrate.upgrade(db)
    settings: dict[str, Any] = {
        "base_url": upstream.base_url,
        "price_prompt_per_1k": 1.0,
        "price_completion_per_1k": 3.0,
    }
    client = LlmClient("text", EndpointSettings(**settings), DbUsageRecorder(db))
    try:
        ctx = CallContext(job_id="job_1", subject="person:p1")
        replies = [client.chat(ASK, prompt=PROMPT, ctx=ctx) for _ in range(3)]
        client.chat(ASK, prompt=PROMPT, ctx=CallContext(job_id="job_2"))
        totals = job_usage(db, "job_1")
        assert totals.calls == 3 and totals.by_status == {"ok": 3}
        assert totals.prompt_tokens == sum(r.prompt_tokens for r in replies)
        assert totals.completion_tokens == 6  # "fine thanks" = 2 tokens per call
        assert totals.cost == pytest.approx(sum(r.cost or 0 for r in replies))
        assert subject_usage(db, "person:p1").calls == 3
        assert job_usage(db, "job_none").calls == 0 and job_usage(db, "job_none").cost is None
    finally:
        client.close()
        db.dispose()


def test_error_rows_keep_no_echoed_input(
    make_client: ClientFactory, proxy: FaultProxy, usage_db: Database
) -> None:
    """Some servers relay validation errors quoting the offending value — maybe a prompt."""
    client = make_client(proxy.base_url, max_retries=0)
    echo = "1 validation error: {'loc': ('body', 'messages'), 'msg': 'bad', 'input': 'Mr Smith'}"
    proxy.script(Fault.status(500, message=echo))
    with pytest.raises(LlmUnavailable, match="'msg': 'bad'") as err:
        client.chat(ASK, prompt=PROMPT)
    assert "Smith" not in err.value.message
    (row,) = llm_rows(usage_db)
    assert "'msg': 'bad'" in (row.error or "") and "Smith" not in (row.error or "")
