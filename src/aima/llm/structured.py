"""Asking for JSON and holding the answer to a schema.

Three ways to ask, strongest first: ``json_schema`` (the server constrains decoding to
the schema: vLLM, llama.cpp, OpenAI, recent Ollama), ``json_object`` (JSON mode, with
the schema attached for servers such as llama.cpp that accept it), ``none`` (the
instructions alone). The schema is always spelled out in the system message too, so
weak models and prompt-only servers know the shape. Whatever was asked, the answer
is parsed and validated here; nothing unvalidated leaves this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from aima.llm.errors import LlmUnavailable

Mode = Literal["json_schema", "json_object", "none"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "none")
MAX_PROBLEMS = 8
T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


def json_schema_of(schema: type[BaseModel]) -> dict[str, Any]:
    return schema.model_json_schema()


def response_format(mode: Mode, schema: type[BaseModel]) -> dict[str, Any] | None:
    """The ``response_format`` body field for ``mode`` (None: send none)."""
    if mode == "none":
        return None
    js = json_schema_of(schema)
    if mode == "json_schema":
        name = re.sub(r"[^a-zA-Z0-9_-]", "_", schema.__name__)[:64] or "answer"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": js, "strict": False}}
    return {"type": "json_object", "schema": js}


def instructions(schema: type[BaseModel]) -> str:
    """What the system message adds so any model knows the expected shape."""
    js = json.dumps(json_schema_of(schema), separators=(",", ":"), ensure_ascii=False)
    return (
        "Answer with exactly one JSON object and nothing else (no prose, no code fence). "
        f"It must match this JSON schema: {js}"
    )


def refuses_format(exc: LlmUnavailable) -> bool:
    """Did the server reject the request because of ``response_format``? (A 400/422 naming
    it; llama-cpp-python sends such validation errors as 500.)"""
    status = exc.details.get("status")
    error = str(exc.details.get("error", "")).lower()
    return status in (400, 422, 500) and any(
        word in error for word in ("response_format", "json_schema", "response format")
    )


def parse_object(text: str) -> dict[str, Any] | str:
    """The JSON object in ``text`` (whole, fenced, or the first ``{...}`` in prose), or why not."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1)
    if not body:
        return "the answer is empty"
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        start = body.find("{")
        if start < 0:
            return f"the answer is not JSON ({exc.msg} at character {exc.pos})"
        try:
            value, _end = json.JSONDecoder().raw_decode(body, start)
        except json.JSONDecodeError as inner:
            return f"the answer is not valid JSON ({inner.msg} at character {inner.pos})"
    if not isinstance(value, dict):
        return f"the answer is JSON but a {type(value).__name__}, not an object"
    return value


def validate(
    text: str, schema: type[T], check: Callable[[T], list[str]] | None
) -> tuple[T | None, list[str]]:
    """(the validated value, []) or (None, the problems found, at most ``MAX_PROBLEMS``)."""
    parsed = parse_object(text)
    if isinstance(parsed, str):
        return None, [parsed]
    try:
        value = schema.model_validate(parsed)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or '(the object)'}: {e['msg']}" for e in exc.errors()
        ]
        return None, problems[:MAX_PROBLEMS]
    if check is not None:
        problems = [p for p in check(value) if p]
        if problems:
            return None, problems[:MAX_PROBLEMS]
    return value, []


def repair_request(problems: list[str]) -> str:
    """The user message that asks, once, for a corrected answer."""
    listed = "\n".join(f"- {p}" for p in problems)
    return (
        "Your previous answer was not acceptable:\n"
        f"{listed}\n"
        "Answer again with only one corrected JSON object that matches the schema."
    )
