"""Cited sentences: split a model's answer into sentences and check each one's fact ids.

A summary sentence is kept only when it cites at least one fact id (``[F3]``,
``[F3, F7]``, ``[M2][M4]``) and every id it cites is one the prompt listed. The check is
purely textual, so it holds whatever the model wrote: prose, bullets, numbered lists,
citations before or after the full stop.

Sentences end at ``.``, ``!`` or ``?`` followed by white space (or the end), so media names
(``interview.mp4``) and numbers (``0.92``) stay inside their sentence. A citation group
that opens the next piece (``… today. [F3] Next …``) belongs to the sentence before it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

#: one citation group: ``[F3]``, ``[F3, F7]``, ``[F3; M2]``, ``[F3 and F7]``
_GROUP = re.compile(r"\[\s*([^\[\]\n]{1,200}?)\s*\]")
_ID = re.compile(r"\b([A-Z]{1,2}\d{1,6})\b")
_LEADING_GROUPS = re.compile(r"^(?:\s*\[[^\[\]\n]{1,200}\])+")
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d{1,3}[.)])\s+")
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d_]+")

MAX_SENTENCE_CHARS = 600
MIN_WORDS = 3  # "Alice Example: [F1]." cites, but says nothing


@dataclass(frozen=True, slots=True)
class CitedSentence:
    """A sentence kept for the summary: its text (citations normalised) and the ids it cites."""

    text: str
    cites: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "cites": list(self.cites)}


@dataclass(frozen=True, slots=True)
class Rejected:
    """A sentence that failed the check, with the reason the model is told."""

    text: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text[:300], "reason": self.reason}


@dataclass(slots=True)
class Checked:
    kept: list[CitedSentence] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Sentences of free text; citation groups that open a piece move to the one before."""
    pieces: list[str] = []
    for raw in _SPLIT.split(text.replace("\r", "")):
        piece = _BULLET.sub("", raw).strip()
        if not piece:
            continue
        lead = _LEADING_GROUPS.match(piece)
        if lead and pieces:
            pieces[-1] = f"{pieces[-1]} {lead.group(0).strip()}"
            piece = piece[lead.end() :].strip()
        if piece:
            pieces.append(piece)
    return [_clean(p) for p in pieces if _LETTER.search(_GROUP.sub("", p))]


def cited_ids(sentence: str) -> list[str]:
    """Every id inside the sentence's bracket groups, in order, without repeats."""
    out: list[str] = []
    for group in _GROUP.finditer(sentence):
        for fid in _ID.findall(group.group(1).upper()):
            if fid not in out:
                out.append(fid)
    return out


def _normalise(sentence: str, ids: list[str]) -> str:
    """The sentence with its citation groups replaced by one trailing ``[F1, F2]``."""
    body = _clean(_GROUP.sub("", sentence))
    body = re.sub(r"\s+([.,;:!?])", r"\1", body)
    end = ""
    if body and body[-1] in ".!?":
        body, end = body[:-1].rstrip(), body[-1]
    return f"{body} [{', '.join(ids)}]{end or '.'}"


def check_sentence(sentence: str, known: Collection[str]) -> CitedSentence | Rejected:
    """Keep a sentence citing only known ids (at least one); else say what is wrong."""
    if len(sentence) > MAX_SENTENCE_CHARS:
        return Rejected(sentence, f"longer than {MAX_SENTENCE_CHARS} characters")
    ids = cited_ids(sentence)
    if len(_WORD.findall(_GROUP.sub("", sentence))) < MIN_WORDS:
        return Rejected(sentence, f"too short: write a statement of at least {MIN_WORDS} words")
    if not ids:
        return Rejected(sentence, "cites no fact id; end it with the ids in brackets, e.g. [F1]")
    unknown = [i for i in ids if i not in known]
    if unknown:
        return Rejected(sentence, f"cites ids that are not in the fact list: {', '.join(unknown)}")
    return CitedSentence(_normalise(sentence, ids), tuple(ids))


def check_text(text: str, known: Collection[str], *, keep: Iterable[str] = ()) -> Checked:
    """Every sentence of ``text`` checked; repeats (and sentences in ``keep``) are skipped."""
    seen = {_key(s) for s in keep}
    out = Checked()
    for sentence in split_sentences(text):
        verdict = check_sentence(sentence, known)
        key = _key(verdict.text)
        if key in seen:
            continue
        seen.add(key)
        if isinstance(verdict, CitedSentence):
            out.kept.append(verdict)
        else:
            out.rejected.append(verdict)
    return out


def _key(text: str) -> str:
    return re.sub(r"[^\w]+", " ", _GROUP.sub("", text).lower()).strip()


def join_sentences(sentences: Iterable[CitedSentence]) -> str:
    return " ".join(s.text for s in sentences)
