"""The client against the real llama.cpp server (SmolLM2-135M), directly and through the
fault-injecting proxy. The tiny model on 2 shared cores is slow: few calls, few tokens."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, Field

from aima.llm import CallContext, LlmInvalidOutput, LlmUnavailable, Prompt
from aima.llm.usage import job_usage
from aima.store.db import Database
from tests.llm.conftest import ClientFactory, FakeClock, Sleeps, llm_rows
from tests.llm.faults import Fault, FaultProxy

pytestmark = pytest.mark.llm

HELLO = Prompt(id="tests.hello", version="1", system="You are a helpful assistant.", user="{q}")
PERSON = Prompt(
    id="tests.person",
    version="1",
    system="You extract facts as JSON.",
    user="Alice is 30 years old. Give her name and age.",
)
ASK = [{"role": "user", "content": "Say hello."}]


class NameAge(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=0, le=150)


class Loose(BaseModel):
    """Only the shape the grammar enforces: whatever the model says, only ``check`` can fail."""

    name: str
    age: int


@pytest.fixture
def proxy(llama_server: str) -> Iterator[FaultProxy]:
    with FaultProxy(llama_server) as p:
        yield p


def test_chat_returns_text_and_records_tokens(
    llama_server: str, make_client: ClientFactory, usage_db: Database
) -> None:
    client = make_client(llama_server, price_prompt_per_1k=0.5)
    reply = client.chat(ASK, prompt=HELLO, ctx=CallContext(job_id="job_real"), max_tokens=8)
    assert reply.text.strip() and reply.completion_tokens > 0 and reply.prompt_tokens > 0
    (row,) = llm_rows(usage_db)
    assert row.status == "ok" and row.prompt_tokens == reply.prompt_tokens > 0
    assert row.completion_tokens == reply.completion_tokens > 0
    totals = job_usage(usage_db, "job_real")
    assert totals.calls == 1 and totals.tokens == reply.prompt_tokens + reply.completion_tokens
    assert totals.cost == pytest.approx(reply.prompt_tokens * 0.5 / 1000)


def test_structured_output_from_the_real_model(
    llama_server: str, make_client: ClientFactory, proxy: FaultProxy
) -> None:
    """llama-cpp-python 0.3.36 refuses ``json_schema`` and constrains ``json_object`` with a
    schema: auto mode learns that, and the answer validates."""
    client = make_client(proxy.base_url, max_tokens=48)
    got = client.structured([{"role": "user", "content": PERSON.render()}], NameAge, prompt=PERSON)
    assert isinstance(got.value, NameAge) and got.value.name
    assert client.structured_mode == "json_object"
    sent = [(r.body.get("response_format") or {}).get("type") for r in proxy.chat_requests()]
    assert sent[:2] == ["json_schema", "json_object"]


def test_failing_check_sends_one_repair_then_gives_up(
    make_client: ClientFactory, proxy: FaultProxy, usage_db: Database
) -> None:
    client = make_client(proxy.base_url, max_tokens=48, structured_output="json_object")

    def impossible(v: Loose) -> list[str]:
        return [f"age: {v.age} must be exactly 1000 (and it cannot be)"]

    with pytest.raises(LlmInvalidOutput, match="must be exactly 1000"):
        client.structured(
            [{"role": "user", "content": PERSON.render()}], Loose, prompt=PERSON, check=impossible
        )
    assert len(proxy.chat_requests()) == 2  # the answer and exactly one repair
    assert "must be exactly 1000" in proxy.chat_requests()[1].body["messages"][-1]["content"]
    assert [r.status for r in llm_rows(usage_db)] == ["invalid", "invalid"]


def test_429_with_retry_after_then_success(make_client: ClientFactory, proxy: FaultProxy) -> None:
    sleeps = Sleeps()
    client = make_client(proxy.base_url, sleep=sleeps, backoff_s=0.2)
    proxy.script(Fault.status(429, retry_after=2))
    reply = client.chat(ASK, prompt=HELLO, max_tokens=4)
    assert reply.attempts == 2 and reply.text
    assert sleeps.delays == [2.0]  # what the server asked, not the client's own backoff


def test_500_then_success(make_client: ClientFactory, proxy: FaultProxy) -> None:
    sleeps = Sleeps()
    client = make_client(proxy.base_url, sleep=sleeps, backoff_s=1.0)
    proxy.script(Fault.status(500))
    assert client.chat(ASK, prompt=HELLO, max_tokens=4).attempts == 2
    assert len(sleeps.delays) == 1 and 0.5 <= sleeps.delays[0] <= 1.0  # backoff with jitter


def test_connection_dropped_then_success(make_client: ClientFactory, proxy: FaultProxy) -> None:
    client = make_client(proxy.base_url)
    proxy.script(Fault.drop(), Fault.truncate())
    assert client.chat(ASK, prompt=HELLO, max_tokens=4).attempts == 3
    assert [r.fault for r in proxy.chat_requests()] == ["drop", "truncate", "pass"]


def test_timeouts_exhausted_is_unavailable(
    make_client: ClientFactory, proxy: FaultProxy, usage_db: Database
) -> None:
    client = make_client(proxy.base_url, timeout_s=0.3, max_retries=1)
    proxy.script(Fault.delay(60), Fault.delay(60))
    with pytest.raises(LlmUnavailable, match="no answer within the time limit") as err:
        client.chat(ASK, prompt=HELLO, max_tokens=4)
    assert err.value.retryable and err.value.details["attempts"] == 2
    (row,) = llm_rows(usage_db)
    assert row.status == "error" and row.attempts == 2 and "time limit" in (row.error or "")


def test_malformed_json_content_is_repaired(
    make_client: ClientFactory, proxy: FaultProxy, usage_db: Database
) -> None:
    client = make_client(proxy.base_url, max_tokens=48, structured_output="json_object")
    proxy.script(Fault.malformed())
    got = client.structured([{"role": "user", "content": PERSON.render()}], NameAge, prompt=PERSON)
    assert got.repaired and isinstance(got.value, NameAge)
    assert "not valid JSON" in proxy.chat_requests()[1].body["messages"][-1]["content"]
    assert [r.status for r in llm_rows(usage_db)] == ["invalid", "repaired"]


def test_circuit_opens_then_half_opens(make_client: ClientFactory, proxy: FaultProxy) -> None:
    clock = FakeClock()
    client = make_client(
        proxy.base_url, clock=clock, max_retries=0, circuit_failures=3, circuit_reset_s=30,
    )  # fmt: skip
    proxy.script(*[Fault.status(503)] * 3)
    for _ in range(3):
        with pytest.raises(LlmUnavailable, match="503"):
            client.chat(ASK, prompt=HELLO, max_tokens=4)
    assert client.breaker_state == "open"
    with pytest.raises(LlmUnavailable, match="circuit breaker opened after 3"):
        client.chat(ASK, prompt=HELLO, max_tokens=4)
    assert proxy.count == 3  # the open circuit did not touch the network
    clock.now += 31
    assert client.breaker_state == "half_open"
    proxy.script(Fault.status(500))  # the probe fails: open again for another 30 s
    with pytest.raises(LlmUnavailable, match="500"):
        client.chat(ASK, prompt=HELLO, max_tokens=4)
    assert client.breaker_state == "open" and proxy.count == 4
    clock.now += 31
    assert client.chat(ASK, prompt=HELLO, max_tokens=4).text  # the probe succeeds: closed
    assert client.breaker_state == "closed" and proxy.count == 5


def test_concurrency_limit_is_honoured(make_client: ClientFactory, proxy: FaultProxy) -> None:
    client = make_client(proxy.base_url, max_concurrency=2)
    gate = threading.Event()
    proxy.script(*[Fault.hold(gate)] * 5)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.chat(ASK, prompt=HELLO, max_tokens=4)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    assert proxy.wait_for(lambda p: p.in_flight == 2), "two requests never reached the proxy"
    gate.set()
    for t in threads:
        t.join(timeout=300)
    assert not errors and proxy.count == 5
    assert proxy.max_in_flight == 2
