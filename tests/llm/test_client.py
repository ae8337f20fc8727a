"""The client against a local OpenAI-wire-format server: request shape, usage rows, JSON modes,
validation and repair, refusals, errors. (Real-model paths: test_real_server.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field

from aima.core.settings import Settings
from aima.llm import (
    CallContext,
    LlmInvalidOutput,
    LlmNotConfigured,
    LlmUnavailable,
    Prompt,
    build_clients,
    image_part,
    register,
    text_part,
)
from aima.store.db import Database
from aima.store.models import LlmCall
from tests.llm.conftest import ClientFactory, llm_rows
from tests.llm.fakeserver import FakeChatServer

PROMPT = Prompt(id="tests.echo", version="3", system="You are terse.", user="Say {what}.")
CTX = CallContext(job_id="job_1", media_id="med_1", subject="media:med_1")


class Animal(BaseModel):
    name: str = Field(min_length=1)
    legs: int = Field(ge=0, le=8)


def replies(*answers: str) -> Any:
    """A responder that gives ``answers`` in order (the last one repeats)."""
    left = list(answers)

    def respond(_body: dict[str, Any]) -> str:
        return left.pop(0) if len(left) > 1 else left[0]

    return respond


def test_chat_sends_the_wire_format_and_records_usage(
    make_client: ClientFactory, usage_db: Database
) -> None:
    secret_words = "the harbour at dawn"
    with FakeChatServer(replies(f"I saw {secret_words}")) as server:
        client = make_client(
            server.base_url,
            api_key="sk-test",
            price_prompt_per_1k=2.0,
            price_completion_per_1k=4.0,
            temperature=0.3,
        )
        reply = client.chat(
            [{"role": "user", "content": PROMPT.render(what="hello there")}], prompt=PROMPT, ctx=CTX
        )
    assert reply.text == f"I saw {secret_words}"
    assert reply.model == "fake-model" and reply.attempts == 1
    body = server.requests[0]
    assert body["model"] == "test-model" and body["stream"] is False
    assert body["max_tokens"] == 16 and body["temperature"] == 0.3
    assert "response_format" not in body
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert body["messages"][1]["content"] == "Say hello there."
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    (row,) = llm_rows(usage_db)
    assert (row.endpoint, row.model, row.prompt_id, row.prompt_version) == (
        "text",
        "fake-model",
        "tests.echo",
        "3",
    )
    assert (row.job_id, row.media_id, row.subject) == ("job_1", "med_1", "media:med_1")
    assert row.status == "ok" and row.attempts == 1 and row.error is None
    assert row.prompt_tokens == reply.prompt_tokens > 0
    assert row.completion_tokens == reply.completion_tokens == 6
    expected_cost = (reply.prompt_tokens * 2.0 + 6 * 4.0) / 1000
    assert row.cost == pytest.approx(expected_cost) and reply.cost == pytest.approx(expected_cost)
    stored = json.dumps([str(getattr(row, c.key)) for c in LlmCall.__table__.columns])
    assert "harbour" not in stored and "hello there" not in stored  # never prompts or answers


def test_vlm_messages_carry_image_parts(make_client: ClientFactory) -> None:
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 32
    with FakeChatServer(replies("a red car")) as server:
        client = make_client(server.base_url, name="vlm")
        content = [text_part("What is in the frame?"), image_part(jpeg)]
        assert (
            client.chat([{"role": "user", "content": content}], prompt=PROMPT).text == "a red car"
        )
    sent = server.requests[0]["messages"][1]["content"]
    assert sent[0] == {"type": "text", "text": "What is in the frame?"}
    assert sent[1]["type"] == "image_url"
    assert sent[1]["image_url"]["url"].startswith("data:image/jpeg;base64,/9j/")
    with pytest.raises(ValueError, match="JPEG"):
        image_part(b"\x89PNG\r\n")


def test_not_configured_names_the_setting(usage_db: Database, tmp_path: Any) -> None:
    settings = Settings(env="test", data_dir=tmp_path, auth={"jwt_secret": "x" * 40})
    clients = build_clients(settings, usage_db)
    try:
        assert not clients.text.configured and not clients.vlm.configured
        with pytest.raises(LlmNotConfigured, match="AIMA_LLM__TEXT__BASE_URL"):
            clients.text.chat([{"role": "user", "content": "hi"}], prompt=PROMPT)
        with pytest.raises(LlmNotConfigured, match="AIMA_LLM__VLM__BASE_URL"):
            clients.vlm.structured([{"role": "user", "content": "hi"}], Animal, prompt=PROMPT)
    finally:
        clients.close()
    assert llm_rows(usage_db) == []  # nothing was sent, nothing is billed


def test_structured_valid_answer_uses_json_schema(
    make_client: ClientFactory, usage_db: Database
) -> None:
    with FakeChatServer(replies('```json\n{"name": "cat", "legs": 4}\n```')) as server:
        client = make_client(server.base_url)
        got = client.structured([{"role": "user", "content": "an animal"}], Animal, prompt=PROMPT)
    assert got.value == Animal(name="cat", legs=4) and not got.repaired
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"]["title"] == "Animal"
    system = server.requests[0]["messages"][0]["content"]
    assert system.startswith("You are terse.") and '"legs"' in system  # schema spelled out
    assert [r.status for r in llm_rows(usage_db)] == ["ok"]


@pytest.mark.parametrize(
    ("accepted", "expected_modes"),
    [
        (("json_object",), ["json_schema", "json_object", "json_object"]),
        ((), ["json_schema", "json_object", None, None]),
    ],
)
def test_auto_mode_learns_what_the_endpoint_accepts(
    make_client: ClientFactory,
    usage_db: Database,
    accepted: tuple[str, ...],
    expected_modes: list[str | None],
) -> None:
    with FakeChatServer(replies('{"name": "dog", "legs": 4}'), formats=accepted) as server:
        client = make_client(server.base_url)
        first = client.structured([{"role": "user", "content": "a"}], Animal, prompt=PROMPT)
        second = client.structured([{"role": "user", "content": "b"}], Animal, prompt=PROMPT)
    assert first.value.name == second.value.name == "dog"
    sent = [(r.get("response_format") or {}).get("type") for r in server.requests]
    assert sent == expected_modes
    assert client.structured_mode == (accepted[0] if accepted else "none")
    assert first.reply.attempts == len(expected_modes) - 1 and second.reply.attempts == 1
    assert [r.status for r in llm_rows(usage_db)] == ["ok", "ok"]  # a refused mode is no failure


def test_fixed_mode_does_not_fall_back(make_client: ClientFactory) -> None:
    with FakeChatServer(replies("{}"), formats=("json_object",)) as server:
        client = make_client(server.base_url, structured_output="json_schema")
        with pytest.raises(LlmUnavailable, match="refused the request \\(400\\)") as err:
            client.structured([{"role": "user", "content": "a"}], Animal, prompt=PROMPT)
    assert not err.value.retryable and len(server.requests) == 1


def test_invalid_answer_is_repaired_once(make_client: ClientFactory, usage_db: Database) -> None:
    answers = replies('{"name": "spider", "legs": 80}', '{"name": "spider", "legs": 8}')
    with FakeChatServer(answers) as server:
        client = make_client(server.base_url)
        got = client.structured(
            [{"role": "user", "content": "an animal"}], Animal, prompt=PROMPT, ctx=CTX
        )
    assert got.value == Animal(name="spider", legs=8) and got.repaired
    assert len(server.requests) == 2
    repair = server.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"name": "spider", "legs": 80}'}
    assert "legs" in repair[-1]["content"] and "less than or equal to 8" in repair[-1]["content"]
    statuses = [(r.status, r.error is not None) for r in llm_rows(usage_db)]
    assert statuses == [("invalid", True), ("repaired", False)]


def test_second_failure_raises_with_the_reason(
    make_client: ClientFactory, usage_db: Database
) -> None:
    def no_cats(animal: Animal) -> list[str]:
        return [f"name: {animal.name!r} is not allowed here"] if animal.name == "cat" else []

    with FakeChatServer(replies('{"name": "cat", "legs": 4}')) as server:
        client = make_client(server.base_url)
        with pytest.raises(LlmInvalidOutput, match="is not allowed here") as err:
            client.structured(
                [{"role": "user", "content": "a"}], Animal, prompt=PROMPT, check=no_cats
            )
    assert len(server.requests) == 2  # the answer and exactly one repair
    assert "'cat' is not allowed" in err.value.reason
    assert [r.status for r in llm_rows(usage_db)] == ["invalid", "invalid"]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("", "empty"),
        ("no json here", "not JSON"),
        ('Sure! {"name": "ant", "legs": ', "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('{"name": "ant"}', "legs: Field required"),
    ],
)
def test_unparseable_answers_name_the_problem(
    make_client: ClientFactory, answer: str, problem: str
) -> None:
    with FakeChatServer(replies(answer)) as server:
        client = make_client(server.base_url)
        with pytest.raises(LlmInvalidOutput, match=problem):
            client.structured([{"role": "user", "content": "a"}], Animal, prompt=PROMPT)


def test_prose_around_the_object_is_accepted(make_client: ClientFactory) -> None:
    with FakeChatServer(replies('Here it is: {"name": "ant", "legs": 6} hope it helps')) as s:
        got = make_client(s.base_url).structured(
            [{"role": "user", "content": "a"}], Animal, prompt=PROMPT
        )
    assert got.value == Animal(name="ant", legs=6)


def test_a_refused_request_is_not_retried(make_client: ClientFactory, usage_db: Database) -> None:
    with FakeChatServer(replies("x")) as server:
        client = make_client(server.base_url.removesuffix("/v1") + "/nope", max_retries=5)
        with pytest.raises(LlmUnavailable, match="refused the request \\(404\\)") as err:
            client.chat([{"role": "user", "content": "a"}], prompt=PROMPT)
    assert not err.value.retryable and client.breaker_state == "closed"
    (row,) = llm_rows(usage_db)
    assert row.status == "error" and row.attempts == 1 and "404" in (row.error or "")


def test_prompts_render_and_register() -> None:
    with pytest.raises(ValueError, match="needs what"):
        PROMPT.render()
    assert PROMPT.ref == "tests.echo@3" and PROMPT.fields == {"what"}
    p = register(Prompt(id="tests.reg", version="1", system="s", user="u {x}"))
    assert register(Prompt(id="tests.reg", version="1", system="s", user="u {x}")) == p
    with pytest.raises(ValueError, match="bump its version"):
        register(Prompt(id="tests.reg", version="1", system="s", user="changed {x}"))
    with pytest.raises(ValueError, match="without '@'"):
        Prompt(id="a@b", version="1", system="", user="")


def test_a_body_that_is_not_json_is_the_callers_bug(make_client: ClientFactory) -> None:
    with FakeChatServer(replies("fine")) as server:
        client = make_client(server.base_url, circuit_failures=1)
        with pytest.raises(TypeError):
            client.chat([{"role": "user", "content": b"raw bytes"}], prompt=PROMPT)
        assert client.breaker_state == "closed" and server.requests == []
        assert client.chat([{"role": "user", "content": "hi"}], prompt=PROMPT).text == "fine"


def test_an_answer_cut_at_the_token_limit_is_told_so(make_client: ClientFactory) -> None:
    with FakeChatServer(replies('{"name": "ant', '{"name": "ant", "legs": 6}')) as server:
        server.finish_reasons = ["length"]
        got = make_client(server.base_url).structured(
            [{"role": "user", "content": "a"}], Animal, prompt=PROMPT
        )
    assert got.repaired and got.value.legs == 6
    assert "cut off at the token limit" in server.requests[1]["messages"][-1]["content"]
