"""Errors of the language-model client, in the project's domain-error hierarchy.

Callers decide by type: ``LlmNotConfigured`` is recorded like a disabled analyzer,
``LlmUnavailable`` fails the item so the job ends ``partial`` and a later run resumes,
``LlmInvalidOutput`` fails that item with the reason (its output is never stored).
"""

from __future__ import annotations

from typing import Any

from aima.core.errors import AimaError


class LlmError(AimaError):
    """Base of every error the LLM client raises."""

    status = 502
    code = "llm_error"


class LlmNotConfigured(LlmError):
    """The endpoint has no ``base_url``: nothing was sent."""

    status = 503
    code = "llm_not_configured"


class LlmUnavailable(LlmError):
    """The endpoint could not answer: refused or lost connection, timeout, 429/5xx after
    the retries, an answer that is not a chat completion, or the circuit breaker is open.

    ``retryable`` is False only when the server refused the request itself (a 4xx other
    than 429: wrong model name, bad key, prompt too long) — trying again unchanged will
    not help, though a later run after fixing the settings will.
    """

    status = 503
    code = "llm_unavailable"

    def __init__(
        self, message: str, *, retryable: bool = True, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retryable = retryable


class LlmInvalidOutput(LlmError):
    """The answer failed validation, and so did the one repair: ``reason`` says why."""

    status = 502
    code = "llm_invalid_output"

    def __init__(self, reason: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(
            f"the model's answer failed validation after one repair: {reason}", details=details
        )
        self.reason = reason
