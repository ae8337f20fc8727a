"""Cited summaries of a person's dossier or a media's timeline: written, checked, stored.

The language model gets the facts with their ids and must end every sentence with the ids
it rests on. Its answer is split into sentences and each one checked
(:mod:`aima.identity.citations`): a sentence with no id, or with an id that was not in the
list, is rejected. When any were rejected the model is asked once more, told which
sentences failed and why; what still fails is dropped. Nothing unchecked is stored.

Without a model (no ``AIMA_LLM__TEXT__BASE_URL``), when the endpoint cannot answer, or when
no sentence survives the check, the summary is *extractive*: the most informative fact
statements, each citing itself, labelled as such wherever it is shown.

A stored summary carries the hash of the fact set it was written from; reading compares
it with the current facts (:func:`is_stale`) and writes a new one when they differ.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.ids import new_id
from aima.identity.citations import CitedSentence, Rejected, check_text, join_sentences
from aima.identity.summary_facts import FactSet, extractive, prompt_facts
from aima.llm import CallContext, LlmClient, LlmError, LlmNotConfigured, Prompt
from aima.llm.prompts import register
from aima.store.models import Summary

log = logging.getLogger(__name__)

MAX_SENTENCES = 12
MAX_TOKENS = 400
#: after the endpoint failed, a read retries the model no sooner than this
RETRY_UNAVAILABLE_AFTER = timedelta(minutes=10)

_SYSTEM = (
    "You write short factual summaries for an analyst. Use only the numbered facts you are "
    "given. End every sentence with the ids of the facts it is based on, in square "
    "brackets, like [F2] or [F2, F5]. Never write a sentence without ids and never use an "
    "id that is not in the list."
)
PERSON_PROMPT = register(
    Prompt(
        id="summary.person",
        version="1",
        system=_SYSTEM,
        user=(
            "Facts about {subject}:\n{facts}\n\nWrite a summary of {subject} in 2 to 6 "
            "sentences. End each sentence with its fact ids in square brackets, e.g. {example}."
        ),
    )
)
MEDIA_PROMPT = register(
    Prompt(
        id="summary.media",
        version="1",
        system=_SYSTEM,
        user=(
            "Facts about the media file {subject}:\n{facts}\n\nWrite a summary of what "
            "happens in it in 2 to 6 sentences. End each sentence with its fact ids in "
            "square brackets, e.g. {example}."
        ),
    )
)
FIX_PROMPT = register(
    Prompt(
        id="summary.fix",
        version="1",
        system=_SYSTEM,
        user=(
            "These sentences were rejected:\n{rejected}\n\nRewrite only these sentences. End "
            "each with the ids of the facts it is based on, in square brackets, using only "
            "ids from the list ({ids}). Leave out any sentence no fact supports."
        ),
    )
)
PROMPTS = {"person": PERSON_PROMPT, "media": MEDIA_PROMPT}

EXTRACTIVE_LABELS = {
    "not_configured": "extractive summary (no language model configured)",
    "unavailable": "extractive summary (the language model could not be reached)",
    "no_valid_sentences": (
        "extractive summary (no sentence of the language model passed the citation check)"
    ),
    "eager": "extractive summary (refreshed after new results; the language model "
    "rewrites it on the next read)",
    "no_facts": "no summary (nothing is known yet)",
}


@dataclass(slots=True)
class Written:
    """A summary as written, before it is stored."""

    method: str  # llm | extractive
    sentences: list[CitedSentence]
    model: str | None = None
    prompt: str | None = None  # id@version
    details: dict[str, Any] = field(default_factory=dict)


def _example(facts: FactSet) -> str:
    ids = [f.id for f in facts.facts[:2]] or ["F1"]
    return f"[{ids[0]}]" if len(ids) == 1 else f"[{ids[0]}, {ids[1]}]"


def _fallback(facts: FactSet, reason: str, **details: Any) -> Written:
    sentences = extractive(facts, max_sentences=MAX_SENTENCES)
    if not sentences:
        reason = "no_facts"
    return Written("extractive", sentences, details={"reason": reason, **details})


def write_summary(
    facts: FactSet,
    client: LlmClient | None,
    *,
    use_llm: bool = True,
    reason_without: str = "not_configured",
    ctx: CallContext | None = None,
    context_tokens: int = 4096,
    max_tokens: int = MAX_TOKENS,
) -> Written:
    """Ask the model for a cited summary of ``facts``; extractive when it cannot give one.

    ``use_llm=False`` writes the extractive summary with ``reason_without`` as its reason.
    """
    if not facts.facts:
        return Written("extractive", [], details={"reason": "no_facts"})
    if not use_llm:
        return _fallback(facts, reason_without)
    if client is None or not client.configured:
        return _fallback(facts, "not_configured")
    try:
        subject = f"{facts.subject_type}:{facts.subject_id}"
        limits = (context_tokens, min(max_tokens, MAX_TOKENS))
        return _ask(facts, client, ctx or CallContext(subject=subject), *limits)
    except LlmNotConfigured:
        return _fallback(facts, "not_configured")
    except LlmError as exc:
        log.warning(
            "summary of %s %s falls back to extractive: %s",
            facts.subject_type,
            facts.subject_id,
            exc.message,
        )
        return _fallback(facts, "unavailable", error=exc.message[:500], error_code=exc.code)


def _ask(
    facts: FactSet, client: LlmClient, ctx: CallContext, context_tokens: int, max_tokens: int
) -> Written:
    prompt = PROMPTS[facts.subject_type]
    budget = fact_chars(context_tokens, max_tokens)
    shown = prompt_facts(facts, budget)
    known = {f.id for f in shown}
    user = prompt.render(
        subject=facts.subject_name,
        facts="\n".join(f.line() for f in shown),
        example=_example(facts),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": user}]
    first = client.chat(messages, prompt=prompt, ctx=ctx, max_tokens=max_tokens)
    checked = check_text(first.text, known)
    kept = list(checked.kept)
    rejected: list[Rejected] = list(checked.rejected)
    usage = {
        "prompt_tokens": first.prompt_tokens,
        "completion_tokens": first.completion_tokens,
        "latency_s": round(first.latency_s, 3),
    }
    details: dict[str, Any] = {
        "facts_shown": len(shown),
        "facts_total": len(facts.facts),
        "rejected": len(rejected),
        "regenerated": False,
        "dropped": 0,
        "rejections": [r.as_dict() for r in rejected[:10]],
    }
    model = first.model
    if rejected or not kept:
        details["regenerated"] = True
        listed = rejected or [
            Rejected(first.text.strip()[:300] or "(empty answer)", "no sentences")
        ]
        fix = FIX_PROMPT.render(
            rejected="\n".join(f'- "{r.text[:300]}": {r.reason}' for r in listed[:10]),
            ids=", ".join(f.id for f in shown),
        )
        messages += [
            {"role": "assistant", "content": first.text},
            {"role": "user", "content": fix},
        ]
        second = client.chat(messages, prompt=FIX_PROMPT, ctx=ctx, max_tokens=max_tokens)
        retry = check_text(second.text, known, keep=[s.text for s in kept])
        kept += retry.kept
        details["dropped"] = len(retry.rejected)
        details["drops"] = [r.as_dict() for r in retry.rejected[:10]]
        details["recovered"] = len(retry.kept)
        usage["prompt_tokens"] += second.prompt_tokens
        usage["completion_tokens"] += second.completion_tokens
        usage["latency_s"] = round(usage["latency_s"] + second.latency_s, 3)
        model = second.model or model
    details.update(usage)
    if len(kept) > MAX_SENTENCES:
        details["truncated"] = len(kept) - MAX_SENTENCES
        kept = kept[:MAX_SENTENCES]
    if not kept:
        return _fallback(facts, "no_valid_sentences", llm=details, model=model)
    return Written("llm", kept, model=model, prompt=prompt.ref, details=details)


def fact_chars(context_tokens: int, max_tokens: int = MAX_TOKENS) -> int:
    """Roughly how many characters of facts fit the model's context window (2 per token, on
    the safe side for names, times and ids), leaving room for the instructions, the repair
    request and both answers (the repair request carries the whole conversation)."""
    return max(600, (context_tokens - 2 * max_tokens - 400) * 2)


# --- storage --------------------------------------------------------------------------------


def stored(session: Session, subject_type: str, subject_id: str) -> Summary | None:
    return session.execute(
        select(Summary).where(
            Summary.subject_type == subject_type, Summary.subject_id == subject_id
        )
    ).scalar_one_or_none()


def save(session: Session, facts: FactSet, written: Written) -> Summary:
    """Insert or replace the subject's summary (one per subject)."""
    row = stored(session, facts.subject_type, facts.subject_id)
    if row is None:
        row = Summary(
            id=new_id("sum"), subject_type=facts.subject_type, subject_id=facts.subject_id
        )
        session.add(row)
    row.method = written.method
    row.text = join_sentences(written.sentences)
    row.sentences = [s.as_dict() for s in written.sentences]
    row.model = written.model
    row.prompt_version = written.prompt
    row.facts_hash = facts.hash
    row.details = {**written.details, "subject_name": facts.subject_name}
    row.created_at = utcnow()
    session.flush()
    return row


def is_stale(row: Summary | None, facts: FactSet, *, llm_configured: bool) -> bool:
    """A stored summary must be rewritten: none yet, the facts changed, the prompt changed,
    or it is extractive for a reason that no longer holds (a model is configured now, it
    was a cheap refresh after a job, or the endpoint failed long enough ago)."""
    if row is None or row.facts_hash != facts.hash:
        return True
    if row.method == "llm":
        return row.prompt_version != PROMPTS[facts.subject_type].ref
    reason = (row.details or {}).get("reason")
    if not llm_configured or reason in ("no_facts", "no_valid_sentences"):
        return False
    if reason in ("not_configured", "eager"):
        return True
    if reason == "unavailable":
        created = row.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=utcnow().tzinfo)
        return utcnow() - created >= RETRY_UNAVAILABLE_AFTER
    return False


def label(row: Summary) -> str:
    """How the summary is shown: which model and prompt wrote it, or why it is extractive."""
    if row.method == "llm":
        return f"LLM summary ({row.model or 'unknown model'}, prompt {row.prompt_version})"
    reason = str((row.details or {}).get("reason", "not_configured"))
    return EXTRACTIVE_LABELS.get(reason, f"extractive summary ({reason})")


def view(row: Summary, *, stale: bool = False) -> dict[str, Any]:
    """The stored summary as the API, CLI and dossier show it."""
    return {
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "method": row.method,
        "label": label(row),
        "text": row.text,
        "sentences": list(row.sentences or []),
        "model": row.model,
        "prompt_version": row.prompt_version,
        "facts_hash": row.facts_hash,
        "generated_at": row.created_at.isoformat(),
        "stale": stale,
        "details": dict(row.details or {}),
    }
