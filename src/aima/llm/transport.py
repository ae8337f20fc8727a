"""One endpoint's HTTP side: POST /chat/completions with retries, a breaker and a slot limit.

Retried: 429 (waiting what ``Retry-After`` asks, when that fits ``backoff_max_s``), 5xx,
refused/lost connections, timeouts and 200 answers that are not a chat completion —
with exponential backoff and jitter. A 4xx other than 429 is the server refusing the
request itself and is not retried. Every failed attempt counts towards the circuit
breaker; an open circuit fails fast without touching the network. At most
``max_concurrency`` requests are in flight per endpoint (slots are not held while
waiting to retry). Streaming is off: the whole answer arrives as one JSON document.

Error texts never quote the request or the answer (both may name people): only
status codes, the server's own error message and shapes.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from aima.core.settings import EndpointSettings
from aima.llm.breaker import CircuitBreaker
from aima.llm.errors import LlmUnavailable

log = logging.getLogger(__name__)
ERROR_TEXT_CHARS = 300
_INPUT_ECHO = re.compile(r"""['"]input['"]\s*:""")


@dataclass(frozen=True)
class Completion:
    """What one chat-completions request produced (after however many attempts)."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    attempts: int
    finish_reason: str | None


@dataclass(frozen=True)
class _Failure:
    """A failed attempt: why, and how long the server asked us to wait (429)."""

    reason: str
    retry_after: float | None = None
    status: int | None = None


class Transport:
    def __init__(
        self,
        name: str,
        settings: EndpointSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not settings.base_url:
            raise ValueError("Transport needs a base_url")
        self.name = name
        self.settings = settings
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self.breaker = CircuitBreaker(
            settings.circuit_failures, settings.circuit_reset_s, clock=clock
        )
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        headers = {"Accept": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_concurrency,
                max_keepalive_connections=settings.max_concurrency,
            ),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the endpoint is what was set
        )

    def close(self) -> None:
        self._http.close()

    def complete(self, body: dict[str, Any]) -> Completion:
        """Send ``body`` until it succeeds or the retries/breaker say stop.

        Raises ``LlmUnavailable``; ``details`` carries ``attempts`` and, for a refused
        request, ``status`` and the server's ``error`` text.
        """
        s = self.settings
        start = self._clock()
        attempts = 0
        while True:
            if not self.breaker.allow():
                wait = self.breaker.retry_in()
                when = f"in {wait:.0f}s" if wait > 0 else "after the probe under way"
                raise LlmUnavailable(
                    f"the {self.name} endpoint at {self.url} is failing: the circuit breaker "
                    f"opened after {s.circuit_failures} consecutive failures and lets a request "
                    f"through again {when}; check the server",
                    details={"attempts": attempts, "circuit": "open"},
                )
            attempts += 1
            outcome = self._attempt(body, attempts, start)
            if isinstance(outcome, Completion):
                return outcome
            log.warning(
                "LLM request failed",
                extra={"endpoint": self.name, "attempt": attempts, "reason": outcome.reason},
            )
            if attempts > s.max_retries:
                raise LlmUnavailable(
                    f"the {self.name} endpoint at {self.url} failed {attempts} time(s); "
                    f"last: {outcome.reason}. The server may be down or overloaded; "
                    "the item can be retried later",
                    details={"attempts": attempts, "status": outcome.status},
                )
            if outcome.retry_after is not None and outcome.retry_after > s.backoff_max_s:
                raise LlmUnavailable(
                    f"the {self.name} endpoint at {self.url} is rate limited and asked to wait "
                    f"{outcome.retry_after:.0f}s, more than backoff_max_s={s.backoff_max_s:g}; "
                    f"try again later or raise AIMA_LLM__{self.name.upper()}__BACKOFF_MAX_S",
                    details={"attempts": attempts, "status": outcome.status},
                )
            self._sleep(self._delay(attempts, outcome.retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        s = self.settings
        full = min(s.backoff_max_s, s.backoff_s * 2.0 ** (attempt - 1))
        return full / 2 + self._rng() * full / 2  # "equal jitter": spread, never zero

    def _attempt(self, body: dict[str, Any], attempt: int, start: float) -> Completion | _Failure:
        """One request under a concurrency slot; tells the breaker how it went."""
        verdict: bool | None = None  # True: server healthy, False: failed, None: no verdict
        try:
            with self._slots:
                outcome = self._send(body, attempt, start)
            verdict = not isinstance(outcome, _Failure)
            return outcome
        except LlmUnavailable:  # the server refused the request: it is alive
            verdict = True
            raise
        finally:
            if verdict is True:
                self.breaker.success()
            elif verdict is False:
                self.breaker.failure()
            else:  # a bug on our side (say, a body that is not JSON): no verdict on the server,
                self.breaker.abandon()  # but a half-open probe slot must not stay taken

    def _send(self, body: dict[str, Any], attempt: int, start: float) -> Completion | _Failure:
        s = self.settings
        try:
            resp = self._http.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            return _Failure(
                f"no answer within the time limit ({type(exc).__name__}, "
                f"timeout_s={s.timeout_s:g}, connect_timeout_s={s.connect_timeout_s:g})"
            )
        except httpx.TransportError as exc:
            return _Failure(f"connection failed ({type(exc).__name__}: {_short(str(exc))})")
        code = resp.status_code
        if code == 429:
            return _Failure(
                f"429 rate limited: {_error_text(resp)}",
                retry_after=_retry_after(resp.headers.get("retry-after")),
                status=code,
            )
        if code >= 500 and not _format_rejected(body, code, resp):
            return _Failure(f"{code} server error: {_error_text(resp)}", status=code)
        if code >= 400:
            error = _error_text(resp)
            raise LlmUnavailable(
                f"the {self.name} endpoint at {self.url} refused the request ({code}): {error}. "
                "Check the model name, API key and max_tokens/context settings",
                retryable=False,
                details={"attempts": attempt, "status": code, "error": error},
            )
        if code != 200:
            return _Failure(f"unexpected HTTP {code}", status=code)
        parsed = _parse_completion(resp)
        if isinstance(parsed, str):
            return _Failure(
                f"the server at {self.url} answered 200 without a chat completion: {parsed}",
                status=code,
            )
        text, model, usage, finish = parsed
        return Completion(
            text=text,
            model=model or s.model,
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
            latency_s=self._clock() - start,
            attempts=attempt,
            finish_reason=finish,
        )


def _parse_completion(
    resp: httpx.Response,
) -> tuple[str, str | None, tuple[int, int], str | None] | str:
    """(text, model, (prompt, completion) tokens, finish_reason), or what is wrong with it."""
    ctype = resp.headers.get("content-type", "?")
    try:
        doc = json.loads(resp.content)
    except ValueError:
        return f"the body is not JSON ({len(resp.content)} bytes, {ctype})"
    if not isinstance(doc, dict):
        return f"the body is JSON but not an object ({type(doc).__name__})"
    choices = doc.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return f"no choices (keys: {', '.join(sorted(map(str, doc))[:10]) or 'none'})"
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    if not isinstance(content, str):
        return "choices[0].message.content is missing or not text"
    raw_usage = doc.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    tokens = (_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")))
    model = doc.get("model") if isinstance(doc.get("model"), str) else None
    finish = choices[0].get("finish_reason")
    return content, model, tokens, finish if isinstance(finish, str) else None


def _format_rejected(body: dict[str, Any], code: int, resp: httpx.Response) -> bool:
    """A 500 that is really a refused ``response_format`` (llama-cpp-python answers request
    validation errors with 500): not the server failing, so neither retried nor counted."""
    return (
        code == 500
        and body.get("response_format") is not None
        and "response_format" in _error_text(resp)
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent/garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(resp: httpx.Response) -> str:
    """The server's own error message — never the echoed input some servers include."""
    try:
        doc = json.loads(resp.content)
    except ValueError:
        return _short(resp.text) or resp.reason_phrase
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return _short(err["message"])
        if isinstance(err, str):
            return _short(err)
        detail = doc.get("detail")
        if isinstance(detail, str):
            return _short(detail)
        if isinstance(detail, list):  # FastAPI/pydantic: where and what, without "input"
            parts = [
                f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')}"
                for d in detail
                if isinstance(d, dict)
            ]
            return _short("; ".join(parts))
        if isinstance(doc.get("message"), str):
            return _short(doc["message"])
    return resp.reason_phrase or "no error message"


def _short(text: str) -> str:
    """One line, at most ``ERROR_TEXT_CHARS``, cut before any echoed request input
    (pydantic errors relayed by some servers quote the offending value: maybe a prompt)."""
    text = _INPUT_ECHO.split(text, maxsplit=1)[0]
    text = " ".join(text.split())
    return text if len(text) <= ERROR_TEXT_CHARS else text[: ERROR_TEXT_CHARS - 1] + "…"
