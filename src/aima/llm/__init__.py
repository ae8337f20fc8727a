"""OpenAI-compatible language and vision-language model clients (vLLM, Ollama, llama.cpp,
TGI, hosted APIs): retries, circuit breaker, concurrency limit, structured output with
one repair, versioned prompts and per-call usage rows. See ``docs/llm.md``."""

from aima.llm.client import ChatReply, LlmClient, LlmClients, Structured, build_clients
from aima.llm.errors import LlmError, LlmInvalidOutput, LlmNotConfigured, LlmUnavailable
from aima.llm.prompts import CallContext, Prompt, image_part, register, text_part
from aima.llm.usage import UsageTotals, job_usage, subject_usage

__all__ = [
    "CallContext",
    "ChatReply",
    "LlmClient",
    "LlmClients",
    "LlmError",
    "LlmInvalidOutput",
    "LlmNotConfigured",
    "LlmUnavailable",
    "Prompt",
    "Structured",
    "UsageTotals",
    "build_clients",
    "image_part",
    "job_usage",
    "register",
    "subject_usage",
    "text_part",
]
