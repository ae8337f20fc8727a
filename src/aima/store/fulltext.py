"""Full-text search over transcript segments and OCR lines, ranked, per dialect.

The index lives outside the ORM metadata (migration 0003): on SQLite an FTS5
external-content table ``text_segments_fts`` kept in step by triggers (tokenizer
``unicode61 remove_diacritics 2``: case- and accent-insensitive, ``munchen`` finds
``München``); on PostgreSQL a GIN index on ``to_tsvector('simple', text)``
(no stemming, because the library mixes languages; case-insensitive but
accent-sensitive: ``unaccent`` is not installed by the migrations, and wrapping
the text in it would bypass the index).

One small user syntax on both engines, so the API behaves the same on either:

- ``word word`` -- every word must occur (AND), in any order;
- ``"a quoted phrase"`` -- the words in this order, next to each other;
- ``word*`` -- a word starting with ``word``.

Nothing else is an operator: ``-``, ``OR``, ``NEAR(``, ``col:`` and stray quotes
are plain text. The query is untrusted, so it never reaches the engine's query
language as syntax: on SQLite every term is emitted as a double-quoted FTS5
string; on PostgreSQL each term goes through ``plainto_tsquery`` /
``phraseto_tsquery`` (which take no operators) or, for prefixes, through
``to_tsquery`` on a word reduced to letters and digits, always as bound
parameters. Each engine tokenizes the query terms with the same tokenizer as
the indexed text, so a word typed as it appears in the text is always found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    Text,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    table,
)
from sqlalchemy.orm import Session

from aima.core.errors import InvalidInput
from aima.store.models import TextSegment

SOURCES = ("transcript", "ocr")
MAX_QUERY_CHARS = 500
MAX_LIMIT = 500
SNIPPET_TOKENS = 24
MARK_START, MARK_END, ELLIPSIS = "[", "]", "…"

# SQLite: the FTS5 table; its own name stands for "the whole row" in MATCH, bm25(), snippet().
_FTS = table("text_segments_fts", column("rowid", Integer), column("text", Text))
_FTS_ROW: ColumnElement[Any] = literal_column("text_segments_fts")
# PostgreSQL: spelled exactly as in the index definition so the planner can use the GIN index.
_PG_CONFIG: ColumnElement[str] = literal_column("'simple'")
_PG_HEADLINE = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_TOKENS}, MinWords=8, "
    f'ShortWord=0, MaxFragments=1, FragmentDelimiter="{ELLIPSIS}"'
)

_TOKEN = re.compile(r'"([^"]*)(?:"|$)|([^\s"]+)')  # "a phrase" (unterminated: to the end) | word
_ALNUM = re.compile(r"[^\W_]+")  # runs of letters and digits


@dataclass(frozen=True)
class TextHit:
    """One matching segment: where to jump (media + start/end) and why it matched."""

    segment_id: int
    media_id: str
    source: str
    start: float
    end: float
    text: str
    speaker: str | None
    language: str | None
    confidence: float | None
    score: float  # higher is better; comparable within one query only
    snippet: str  # the text around the match, matched terms in [brackets]; plain text


@dataclass(frozen=True)
class Term:
    """One AND-ed piece of a parsed query."""

    kind: Literal["word", "phrase", "prefix"]
    text: str


def parse_query(query: str) -> list[Term]:
    """The user's query as terms; raises InvalidInput on an empty or oversized query.

    Terms without a single letter or digit (``-``, ``*``, ``'``) are dropped: they
    could never match, and an engine may read them as syntax. An empty list
    therefore means "nothing searchable", not an error.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(
            f"search query is {len(query)} characters long; "
            f"shorten it to at most {MAX_QUERY_CHARS}",
            details={"max_chars": MAX_QUERY_CHARS},
        )
    # Control characters (NUL, which PostgreSQL refuses in text, tabs, newlines) separate words.
    query = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in query)
    query = unicodedata.normalize("NFC", query).strip()
    if not query:
        raise InvalidInput("search query is empty: type at least one word to search for")
    terms: list[Term] = []
    for match in _TOKEN.finditer(query):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            phrase = " ".join(phrase.split())
            if _ALNUM.search(phrase):
                terms.append(Term("phrase", phrase))
        elif word.endswith("*"):
            # Only letters and digits go into to_tsquery; "foo-ba*" is foo AND ba*.
            parts = _ALNUM.findall(word)
            terms.extend(Term("word", part) for part in parts[:-1])
            if parts:
                terms.append(Term("prefix", parts[-1]))
        elif _ALNUM.search(word):
            terms.append(Term("word", word))
    return terms


def fts5_query(terms: Sequence[Term]) -> str:
    """An FTS5 MATCH string in which every term is a quoted string (implicit AND)."""

    def quoted(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    return " ".join(quoted(t.text) + ("*" if t.kind == "prefix" else "") for t in terms)


def _pg_tsquery(terms: Sequence[Term]) -> ColumnElement[Any]:
    def one(term: Term) -> ColumnElement[Any]:
        if term.kind == "phrase":
            return func.phraseto_tsquery(_PG_CONFIG, term.text)
        if term.kind == "prefix":
            prefix = func.quote_literal(term.text).op("||")(":*")
            return func.to_tsquery(_PG_CONFIG, prefix)
        return func.plainto_tsquery(_PG_CONFIG, term.text)

    return reduce(lambda a, b: a.op("&&")(b), (one(t) for t in terms))


def search_text(
    session: Session,
    query: str,
    *,
    media_filter: Select[Any] | None = None,
    sources: Sequence[str] | None = None,
    media_id: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[TextHit]:
    """Segments matching ``query``, best first.

    ``media_filter`` is a select of the Media rows the caller may see (for example
    ``aima.services.access.visible_media``); only their segments are returned.
    Ranking: SQLite ``bm25()``, PostgreSQL ``ts_rank_cd`` normalised by the log of
    the segment length, so a term repeated, or in a short segment, ranks higher.
    Snippets are computed for the returned page only.
    """
    terms = parse_query(query)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    unknown = sorted(set(sources or ()) - set(SOURCES))
    if unknown:
        raise InvalidInput(f"unknown text source(s) {unknown}; use any of {list(SOURCES)}")
    if not terms or (sources is not None and not sources):
        return []

    filters: list[ColumnElement[bool]] = []
    if sources is not None:
        filters.append(TextSegment.source.in_(list(sources)))
    if media_id is not None:
        filters.append(TextSegment.media_id == media_id)
    if media_filter is not None:
        visible = media_filter.subquery()
        filters.append(TextSegment.media_id.in_(select(visible.c.id)))

    fields = (
        TextSegment.id,
        TextSegment.media_id,
        TextSegment.source,
        TextSegment.start,
        TextSegment.end,
        TextSegment.text,
        TextSegment.speaker,
        TextSegment.language,
        TextSegment.confidence,
    )
    if session.get_bind().dialect.name == "postgresql":
        tsquery = _pg_tsquery(terms)
        tsvector = func.to_tsvector(_PG_CONFIG, TextSegment.text)
        score = func.ts_rank_cd(tsvector, tsquery, 1, type_=Float).label("score")
        page = (
            select(TextSegment.id, score)
            .where(tsvector.bool_op("@@")(tsquery), *filters)
            .order_by(score.desc(), TextSegment.id)
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        snippet: ColumnElement[Any] = func.ts_headline(
            _PG_CONFIG, TextSegment.text, tsquery, _PG_HEADLINE, type_=Text
        )
        stmt = select(*fields, page.c.score, snippet).join(page, page.c.id == TextSegment.id)
    else:
        match = fts5_query(terms)
        rank = (-func.bm25(_FTS_ROW, type_=Float)).label("score")
        page = (
            select(TextSegment.id, rank)
            .select_from(_FTS)
            .join(TextSegment, TextSegment.id == _FTS.c.rowid)
            .where(_FTS_ROW.bool_op("MATCH")(match), *filters)
            .order_by(rank.desc(), TextSegment.id)
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        # snippet() needs its own MATCH; as a per-row subquery it runs for the page only,
        # seeking each hit by rowid instead of matching every document a second time.
        snippet = (
            select(func.snippet(_FTS_ROW, 0, MARK_START, MARK_END, ELLIPSIS, SNIPPET_TOKENS))
            .where(_FTS_ROW.bool_op("MATCH")(match), _FTS.c.rowid == page.c.id)
            .scalar_subquery()
        )
        stmt = select(*fields, page.c.score, snippet).join(page, page.c.id == TextSegment.id)
    stmt = stmt.order_by(page.c.score.desc(), TextSegment.id)
    return [
        TextHit(
            segment_id=row[0],
            media_id=row[1],
            source=row[2],
            start=row[3],
            end=row[4],
            text=row[5],
            speaker=row[6],
            language=row[7],
            confidence=row[8],
            score=float(row[9]),
            snippet=str(row[10] if row[10] is not None else row[5]),
        )
        for row in session.execute(stmt)
    ]


def replace_segments(
    session: Session,
    *,
    media_id: str,
    result_id: str,
    source: str,
    segments: Iterable[dict[str, Any]],
) -> int:
    """Make the stored segments of one result and source exactly ``segments``; returns how many.

    Re-ingesting a result (a re-run, a new accepted version) must not leave the old
    text searchable. Segments with blank text are skipped: nothing to find there.
    On SQLite the FTS5 triggers follow every insert and delete.
    """
    if source not in SOURCES:
        raise InvalidInput(f"unknown text source {source!r}; use one of {list(SOURCES)}")
    session.execute(
        delete(TextSegment).where(TextSegment.result_id == result_id, TextSegment.source == source)
    )
    rows = [
        {
            "media_id": media_id,
            "result_id": result_id,
            "source": source,
            "start": float(seg["start"]),
            "end": float(seg["end"]),
            "text": str(seg["text"]).strip(),
            "speaker": seg.get("speaker"),
            "language": seg.get("language"),
            "confidence": seg.get("confidence"),
        }
        for seg in segments
        if str(seg.get("text") or "").strip()
    ]
    if rows:
        session.execute(insert(TextSegment), rows)
    return len(rows)


def delete_for_result(session: Session, result_id: str) -> int:
    """Remove every segment taken from one result (e.g. when it stops being accepted)."""
    deleted = session.execute(delete(TextSegment).where(TextSegment.result_id == result_id))
    return int(getattr(deleted, "rowcount", 0) or 0)
