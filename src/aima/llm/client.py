"""The OpenAI-compatible chat client: one per endpoint (``vlm``, ``text``), built from settings.

``chat`` returns text; ``structured`` returns a validated pydantic value or raises —
never unvalidated output. Every request (ok or not) leaves one usage row. The client
is thread-safe: the worker threads of one process share it, and its concurrency limit
and circuit breaker are per endpoint.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from aima.core.settings import EndpointSettings, Settings
from aima.llm import structured as so
from aima.llm.errors import LlmInvalidOutput, LlmNotConfigured, LlmUnavailable
from aima.llm.prompts import CallContext, Prompt
from aima.llm.transport import Completion, Transport
from aima.llm.usage import CallRecord, DbUsageRecorder, Status, UsageRecorder, cost_of
from aima.store.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
NO_CONTEXT = CallContext()


@dataclass(frozen=True)
class ChatReply:
    text: str
    model: str  # as the server reported it
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int
    cost: float | None


@dataclass(frozen=True)
class Structured(Generic[T]):
    value: T  # validated
    reply: ChatReply  # the (last) reply it came from
    repaired: bool  # the first answer failed validation and the repair worked


class LlmClient:
    def __init__(
        self,
        name: str,
        settings: EndpointSettings,
        recorder: UsageRecorder,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.settings = settings
        self.model = settings.model
        self.recorder = recorder
        self.configured = bool(settings.base_url)
        self._transport = (
            Transport(name, settings, clock=clock, sleep=sleep, rng=rng)
            if self.configured
            else None
        )
        self._lock = threading.Lock()
        self._auto_mode = 0  # index into structured.MODES this endpoint is known to accept

    def __repr__(self) -> str:
        where = self.settings.base_url or "not configured"
        return f"LlmClient({self.name!r}, {where}, model={self.model!r})"

    @property
    def breaker_state(self) -> str:
        return self._transport.breaker.state if self._transport else "closed"

    @property
    def structured_mode(self) -> so.Mode:
        """How ``structured`` asks for JSON now (in ``auto``: what the endpoint accepted)."""
        setting = self.settings.structured_output
        return so.MODES[self._auto_mode] if setting == "auto" else setting

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # --- plain chat -------------------------------------------------------------------

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        prompt: Prompt,
        ctx: CallContext | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ChatReply:
        """The model's answer to ``messages`` (the prompt's system message is added here)."""
        body = self._body(self._with_system(prompt.system, messages), max_tokens, temperature)
        completion = self._request(body, prompt, ctx)
        reply = self._reply(completion)
        self._record(prompt, ctx, "ok", completion, reply.cost)
        return reply

    # --- structured output ------------------------------------------------------------

    def structured(
        self,
        messages: list[dict[str, Any]],
        schema: type[T],
        *,
        prompt: Prompt,
        ctx: CallContext | None = None,
        check: Callable[[T], list[str]] | None = None,
        max_tokens: int | None = None,
    ) -> Structured[T]:
        """A value of ``schema`` (plus ``check``: semantic problems, empty when fine).

        A first answer that fails is sent back once with its problems; a second failure
        raises ``LlmInvalidOutput`` with the reason.
        """
        rules = so.instructions(schema)
        system = f"{prompt.system}\n\n{rules}" if prompt.system else rules
        convo = self._with_system(system, messages)
        completion = self._request_structured(convo, schema, prompt, ctx, max_tokens)
        value, problems = so.validate(completion.text, schema, check)
        reply = self._reply(completion)
        if value is not None:
            self._record(prompt, ctx, "ok", completion, reply.cost)
            return Structured(value=value, reply=reply, repaired=False)
        if completion.finish_reason == "length":
            problems.append("the answer was cut off at the token limit: answer more briefly")
        self._record(prompt, ctx, "invalid", completion, reply.cost, "; ".join(problems))
        log.info(
            "LLM answer failed validation; asking once for a repair",
            extra={"endpoint": self.name, "prompt": prompt.ref, "problems": len(problems)},
        )
        convo = [
            *convo,
            {"role": "assistant", "content": completion.text},
            {"role": "user", "content": so.repair_request(problems)},
        ]
        completion = self._request_structured(convo, schema, prompt, ctx, max_tokens)
        value, problems = so.validate(completion.text, schema, check)
        reply = self._reply(completion)
        if value is not None:
            self._record(prompt, ctx, "repaired", completion, reply.cost)
            return Structured(value=value, reply=reply, repaired=True)
        reason = "; ".join(problems)
        self._record(prompt, ctx, "invalid", completion, reply.cost, reason)
        raise LlmInvalidOutput(reason, details={"endpoint": self.name, "prompt": prompt.ref})

    def _request_structured(
        self,
        convo: list[dict[str, Any]],
        schema: type[BaseModel],
        prompt: Prompt,
        ctx: CallContext | None,
        max_tokens: int | None,
    ) -> Completion:
        """Send with the strongest JSON mode the endpoint accepts; in ``auto``, a 400/422
        naming ``response_format`` moves this endpoint to the next mode for good."""
        refused_attempts = 0
        while True:
            mode = self.structured_mode
            body = self._body(convo, max_tokens, None)
            fmt = so.response_format(mode, schema)
            if fmt is not None:
                body["response_format"] = fmt
            may_fall_back = self.settings.structured_output == "auto" and mode != "none"
            try:
                completion = self._request(
                    body, prompt, ctx, extra_attempts=refused_attempts, may_fall_back=may_fall_back
                )
            except LlmUnavailable as exc:
                if not (may_fall_back and so.refuses_format(exc)):
                    raise
                refused_attempts += int(exc.details.get("attempts", 1))
                self._fall_back(mode, exc)
                continue
            return replace(completion, attempts=completion.attempts + refused_attempts)

    def _fall_back(self, mode: so.Mode, exc: LlmUnavailable) -> None:
        with self._lock:
            if so.MODES[self._auto_mode] == mode:
                self._auto_mode += 1
            now = so.MODES[self._auto_mode]
        log.info(
            "endpoint does not accept this response_format; falling back",
            extra={
                "endpoint": self.name,
                "refused": mode,
                "now": now,
                "error": exc.details.get("error"),
            },
        )

    # --- plumbing ---------------------------------------------------------------------

    def _require(self) -> Transport:
        if self._transport is None:
            var = f"AIMA_LLM__{self.name.upper()}__BASE_URL"
            raise LlmNotConfigured(
                f"the {self.name} language model is not configured: set {var} to an "
                "OpenAI-compatible endpoint (e.g. http://127.0.0.1:8080/v1) and "
                f"AIMA_LLM__{self.name.upper()}__MODEL to its model name",
                details={"endpoint": self.name, "setting": var},
            )
        return self._transport

    def _with_system(self, system: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not messages:
            raise ValueError("chat needs at least one message")
        return [{"role": "system", "content": system}, *messages] if system else list(messages)

    def _body(
        self, messages: list[dict[str, Any]], max_tokens: int | None, temperature: float | None
    ) -> dict[str, Any]:
        s = self.settings
        return {
            "model": s.model,
            "messages": messages,
            "max_tokens": max_tokens if max_tokens is not None else s.max_tokens,
            "temperature": temperature if temperature is not None else s.temperature,
            "stream": False,
        }

    def _request(
        self,
        body: dict[str, Any],
        prompt: Prompt,
        ctx: CallContext | None,
        *,
        extra_attempts: int = 0,
        may_fall_back: bool = False,
    ) -> Completion:
        """One request through the transport; a failure is recorded before it is raised
        (except a refused ``response_format`` the caller is about to fall back from)."""
        transport = self._require()
        started = time.monotonic()
        try:
            return transport.complete(body)
        except LlmUnavailable as exc:
            if not (may_fall_back and so.refuses_format(exc)):
                self.recorder.record(
                    CallRecord(
                        endpoint=self.name,
                        model=self.model,
                        prompt=prompt,
                        ctx=ctx or NO_CONTEXT,
                        status="error",
                        attempts=int(exc.details.get("attempts", 0)) + extra_attempts,
                        latency_s=time.monotonic() - started,
                        error=exc.message,
                    )
                )
            raise

    def _reply(self, c: Completion) -> ChatReply:
        return ChatReply(
            text=c.text,
            model=c.model,
            prompt_tokens=c.prompt_tokens,
            completion_tokens=c.completion_tokens,
            latency_s=c.latency_s,
            attempts=c.attempts,
            cost=cost_of(self.settings, c.prompt_tokens, c.completion_tokens),
        )

    def _record(
        self,
        prompt: Prompt,
        ctx: CallContext | None,
        status: Status,
        c: Completion,
        cost: float | None,
        error: str | None = None,
    ) -> None:
        self.recorder.record(
            CallRecord(
                endpoint=self.name,
                model=c.model,
                prompt=prompt,
                ctx=ctx or NO_CONTEXT,
                status=status,
                attempts=c.attempts,
                prompt_tokens=c.prompt_tokens,
                completion_tokens=c.completion_tokens,
                latency_s=c.latency_s,
                cost=cost,
                error=error,
            )
        )


@dataclass
class LlmClients:
    """The two endpoints, built once in ``aima.runtime.build_runtime``."""

    vlm: LlmClient
    text: LlmClient

    def close(self) -> None:
        self.vlm.close()
        self.text.close()


def build_clients(
    settings: Settings, db: Database, *, recorder: UsageRecorder | None = None
) -> LlmClients:
    rec = recorder or DbUsageRecorder(db)
    return LlmClients(
        vlm=LlmClient("vlm", settings.llm.vlm, rec),
        text=LlmClient("text", settings.llm.text, rec),
    )
