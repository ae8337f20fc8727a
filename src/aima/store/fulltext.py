"""Full-text search over text segments, ranked, stemmed per language, per dialect.

Segments carry a ``language``; the index stems each one with that language's rules
(English, German, French, Spanish, Italian, Portuguese, Dutch; others unstemmed), so
"costs" finds "cost" and "Häfen" finds "Hafen". English text and queries also go
through a spelling normaliser ("harbour" finds "harbor", see :mod:`aima.store.textnorm`).

- SQLite: an FTS5 table ``text_segments_fts_stem`` over ``text_segments.search_text``,
  which holds the segment's stems computed here in Python (Snowball), each tagged with
  its language (``encost``). The query is stemmed once per language and the languages
  are OR-ed, so each segment is matched by the query stemmed the way it was. Prefix
  terms (``foo*``) go to the unstemmed FTS5 table ``text_segments_fts`` (a stem is not a
  prefix of its word's other forms). Both tables use ``unicode61 remove_diacritics 2``,
  and stems are folded before stemming: case- and accent-insensitive.
- PostgreSQL: a GIN index on ``to_tsvector(<the segment's configuration>, search_text)``
  (``english``, ``german``, ... or ``simple``, chosen by the language in SQL, see
  :data:`PG_LANG_VECTOR_SQL`); ``search_text`` is the text with English spellings
  normalised. The query is built once per configuration and each branch only applies to
  rows of its configuration. Accent-sensitive except where a stemmer folds (German
  umlauts); ``unaccent`` is not installed.

One small user syntax on both engines, so the API behaves the same on either:

- ``word word`` -- every word must occur (AND), in any order;
- ``"a quoted phrase"`` -- the words in this order, next to each other;
- ``word*`` -- a word starting with ``word``.

Nothing else is an operator: ``-``, ``OR``, ``NEAR(``, ``col:`` and stray quotes
are plain text. The query is untrusted, so it never reaches the engine's query
language as syntax: on SQLite every token is emitted as a double-quoted FTS5
string; on PostgreSQL each term goes through ``plainto_tsquery`` /
``phraseto_tsquery`` (which take no operators) or, for prefixes, through
``to_tsquery`` on a word reduced to letters and digits, always as bound
parameters. Each engine prepares the query terms exactly like the indexed text, so a
word typed as it appears in the text is always found.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    Text,
    and_,
    case,
    column,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.orm import Session

from aima.core.errors import InvalidInput
from aima.store import textnorm
from aima.store.models import TextSegment
from aima.store.vectors.base import encode_embedding
from aima.store.vectors.store import VectorStore

SOURCES = ("transcript", "ocr", "scene", "object")
MAX_QUERY_CHARS = 500
MAX_LIMIT = 500
SNIPPET_TOKENS = 24
MARK_START, MARK_END, ELLIPSIS = "[", "]", "…"

# SQLite: the FTS5 tables; a table's own name stands for "the whole row" in MATCH, bm25().
_FTS = table("text_segments_fts", column("rowid", Integer), column("text", Text))
_FTS_ROW: ColumnElement[Any] = literal_column("text_segments_fts")
_STEM = table("text_segments_fts_stem", column("rowid", Integer))
_STEM_ROW: ColumnElement[Any] = literal_column("text_segments_fts_stem")

# PostgreSQL: the segment's text search configuration, and the indexed tsvector. Spelled
# exactly as in the migration's index so the planner can use it (never with parameters).
PG_LANG_CONFIG_SQL = (
    "CASE split_part(lower(coalesce(language, '')), '-', 1) "
    + " ".join(f"WHEN '{code}' THEN '{cfg}'::regconfig" for code, cfg in textnorm.LANGUAGES.items())
    + " ELSE 'simple'::regconfig END"
)
PG_LANG_VECTOR_SQL = f"to_tsvector({PG_LANG_CONFIG_SQL}, coalesce(search_text, text))"
PG_LANG_INDEX_SQL = (
    f"CREATE INDEX ix_text_segments_fts_lang ON text_segments USING gin ({PG_LANG_VECTOR_SQL})"
)
_PG_CONFIGS = (*textnorm.LANGUAGES.values(), "simple")
_PG_HEADLINE = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords={SNIPPET_TOKENS}, MinWords=8, "
    f'ShortWord=0, MaxFragments=1, FragmentDelimiter="{ELLIPSIS}"'
)

_TOKEN = re.compile(r'"([^"]*)(?:"|$)|([^\s"]+)')  # "a phrase" (unterminated: to the end) | word
_ALNUM = re.compile(r"[^\W_]+")  # runs of letters and digits


class TextEmbedder(Protocol):
    """What segment writers need from a text embedding model (``aima.inference.text_embed``)."""

    @property
    def collection(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    def available(self) -> bool: ...


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


def _pg_tsquery(terms: Sequence[Term], config: str) -> ColumnElement[Any]:
    """The terms as one tsquery for one configuration (English words Americanised first)."""
    cfg: ColumnElement[Any] = literal_column(f"'{config}'::regconfig")

    def prepared(text: str) -> str:
        return textnorm.postgres_index_text(text, "en") if config == "english" else text

    def one(term: Term) -> ColumnElement[Any]:
        if term.kind == "phrase":
            return func.phraseto_tsquery(cfg, prepared(term.text))
        if term.kind == "prefix":
            prefix = func.quote_literal(term.text).op("||")(":*")
            return func.to_tsquery(cfg, prefix)
        return func.plainto_tsquery(cfg, prepared(term.text))

    return reduce(lambda a, b: a.op("&&")(b), (one(t) for t in terms))


def stem_query(terms: Sequence[Term]) -> str:
    """An FTS5 MATCH string for the stemmed table: the word and phrase terms, once per language.

    ``("encost" AND "enharbor") OR ("decost" AND "deharbor") OR ...``: every token is a
    quoted string, so nothing the user typed is FTS5 syntax.
    """

    def quoted(tokens: list[str]) -> str:
        return '"' + " ".join(tokens).replace('"', '""') + '"'

    branches = []
    for tag in (*textnorm.LANGUAGES, textnorm.SIMPLE):
        parts = [quoted(textnorm.tokens(t.text, tag)) for t in terms if t.kind != "prefix"]
        parts = [p for p in parts if p != '""']
        if parts:
            branches.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(branches)


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
    check_page(limit, offset)
    filters = segment_filters(media_filter=media_filter, sources=sources, media_id=media_id)
    if not terms or filters is None:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _search_postgres(session, terms, filters, limit, offset)
    return _search_sqlite(session, terms, filters, limit, offset)


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")


def segment_filters(
    *,
    media_filter: Select[Any] | None = None,
    sources: Sequence[str] | None = None,
    media_id: str | None = None,
) -> list[ColumnElement[bool]] | None:
    """The WHERE clauses for visible media, sources and one media; None: nothing can match."""
    unknown = sorted(set(sources or ()) - set(SOURCES))
    if unknown:
        raise InvalidInput(f"unknown text source(s) {unknown}; use any of {list(SOURCES)}")
    if sources is not None and not sources:
        return None
    filters: list[ColumnElement[bool]] = []
    if sources is not None:
        filters.append(TextSegment.source.in_(list(sources)))
    if media_id is not None:
        filters.append(TextSegment.media_id == media_id)
    if media_filter is not None:
        visible = media_filter.subquery()
        filters.append(TextSegment.media_id.in_(select(visible.c.id)))
    return filters


HIT_FIELDS = (
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


def _hit(row: Any, score: float, snippet: str | None) -> TextHit:
    return TextHit(
        segment_id=row[0],
        media_id=row[1],
        source=row[2],
        start=row[3],
        end=row[4],
        text=row[5],
        speaker=row[6],
        language=row[7],
        confidence=row[8],
        score=score,
        snippet=snippet if snippet is not None else row[5],
    )


def _search_postgres(
    session: Session,
    terms: Sequence[Term],
    filters: list[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> list[TextHit]:
    config: ColumnElement[Any] = literal_column(f"({PG_LANG_CONFIG_SQL})")
    tsvector: ColumnElement[Any] = literal_column(PG_LANG_VECTOR_SQL)
    queries = {c: _pg_tsquery(terms, c) for c in _PG_CONFIGS}
    # Each branch: rows of one configuration, matched by the query built with it. The
    # planner ORs one GIN scan per branch and rechecks the configuration.
    matches = or_(
        *(
            and_(config == literal_column(f"'{c}'::regconfig"), tsvector.bool_op("@@")(q))
            for c, q in queries.items()
        )
    )
    row_query = case(
        *((config == literal_column(f"'{c}'::regconfig"), q) for c, q in queries.items())
    )
    score = func.ts_rank_cd(tsvector, row_query, 1, type_=Float).label("score")
    page = (
        select(TextSegment.id, score)
        .where(matches, *filters)
        .order_by(score.desc(), TextSegment.id)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    snippet: ColumnElement[Any] = func.ts_headline(
        config, TextSegment.text, row_query, _PG_HEADLINE, type_=Text
    )
    stmt = (
        select(*HIT_FIELDS, page.c.score, snippet)
        .join(page, page.c.id == TextSegment.id)
        .order_by(page.c.score.desc(), TextSegment.id)
    )
    return [_hit(row, float(row[9]), row[10]) for row in session.execute(stmt)]


def _search_sqlite(
    session: Session,
    terms: Sequence[Term],
    filters: list[ColumnElement[bool]],
    limit: int,
    offset: int,
) -> list[TextHit]:
    stems = stem_query(terms)
    prefixes = [t for t in terms if t.kind == "prefix"]
    if prefixes and stems:  # prefixes narrow the stemmed match through the plain table
        plain = select(_FTS.c.rowid).where(_FTS_ROW.bool_op("MATCH")(fts5_query(prefixes)))
        filters = [*filters, TextSegment.id.in_(plain)]
    if stems:
        rank = (-func.bm25(_STEM_ROW, type_=Float)).label("score")
        base = (
            select(TextSegment.id, rank)
            .select_from(_STEM)
            .join(TextSegment, TextSegment.id == _STEM.c.rowid)
            .where(_STEM_ROW.bool_op("MATCH")(stems), *filters)
        )
    elif prefixes:
        rank = (-func.bm25(_FTS_ROW, type_=Float)).label("score")
        base = (
            select(TextSegment.id, rank)
            .select_from(_FTS)
            .join(TextSegment, TextSegment.id == _FTS.c.rowid)
            .where(_FTS_ROW.bool_op("MATCH")(fts5_query(prefixes)), *filters)
        )
    else:  # every term stems to nothing
        return []
    page = base.order_by(rank.desc(), TextSegment.id).limit(limit).offset(offset).subquery("page")
    stmt = (
        select(*HIT_FIELDS, page.c.score)
        .join(page, page.c.id == TextSegment.id)
        .order_by(page.c.score.desc(), TextSegment.id)
    )
    return [
        _hit(row, float(row[9]), highlight(row[5], row[7], terms)) for row in session.execute(stmt)
    ]


def highlight(text: str, language: str | None, terms: Sequence[Term]) -> str:
    """The words of ``text`` around the first match, matched words in [brackets].

    A word matches when it stems like a query word (in the segment's language) or
    starts with a prefix term, which is how the SQLite index matched it.
    """
    tag = textnorm.language_tag(language)
    wanted = {tok for t in terms if t.kind != "prefix" for tok in textnorm.tokens(t.text, tag)}
    prefixes = [textnorm.fold(t.text) for t in terms if t.kind == "prefix"]
    words = list(textnorm.WORD.finditer(text))
    marks = [
        tag + textnorm.stem(m.group(0), tag) in wanted
        or any(textnorm.fold(m.group(0)).startswith(p) for p in prefixes)
        for m in words
    ]
    if not words:
        return text
    first = next((i for i, hit in enumerate(marks) if hit), 0)
    lo = max(0, min(first - 4, len(words) - SNIPPET_TOKENS))
    hi = min(len(words), lo + SNIPPET_TOKENS)
    out: list[str] = [ELLIPSIS] if lo > 0 else []
    cursor = words[lo].start()
    for i in range(lo, hi):
        m = words[i]
        out.append(text[cursor : m.start()])
        out.append(f"{MARK_START}{m.group(0)}{MARK_END}" if marks[i] else m.group(0))
        cursor = m.end()
    out.append(text[cursor:] if hi == len(words) else ELLIPSIS)
    return "".join(out).strip()


def index_text(dialect: str, text: str, language: str | None) -> str:
    """``text_segments.search_text`` for one segment on one dialect (see the module doc)."""
    if dialect == "postgresql":
        return textnorm.postgres_index_text(text, language)
    return textnorm.sqlite_index_text(text, language)


def _dialect(conn: Session | Connection) -> str:
    return conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name


def backfill_search_text(conn: Session | Connection, batch: int = 2_000) -> int:
    """Fill ``search_text`` of segments written before it existed; the rows updated.

    Idempotent and batched (resumable: a crash leaves some rows done, the rest NULL).
    On SQLite the stemmed FTS5 table follows through its update trigger.
    """
    dialect = _dialect(conn)
    done, last = 0, 0
    while True:
        rows = conn.execute(
            select(TextSegment.id, TextSegment.text, TextSegment.language)
            .where(TextSegment.search_text.is_(None), TextSegment.id > last)
            .order_by(TextSegment.id)
            .limit(batch)
        ).all()
        if not rows:
            return done
        for seg_id, text, language in rows:
            conn.execute(
                update(TextSegment)
                .where(TextSegment.id == seg_id)
                .values(search_text=index_text(dialect, text, language))
            )
        done += len(rows)
        last = int(rows[-1][0])


# --- writers ----------------------------------------------------------------------------------


def replace_segments(
    session: Session,
    *,
    media_id: str,
    result_id: str,
    source: str,
    segments: Iterable[dict[str, Any]],
    embedder: TextEmbedder | None = None,
) -> int:
    """Make the stored segments of one result and source exactly ``segments``; returns how many.

    Re-ingesting a result (a re-run, a new accepted version) must not leave the old
    text searchable. Segments with blank text are skipped: nothing to find there.
    On SQLite the FTS5 triggers follow every insert and delete. With an ``embedder``
    each segment also gets its text embedding, and the vector outbox hears of every
    embedded row added or removed, in the caller's transaction.
    """
    if source not in SOURCES:
        raise InvalidInput(f"unknown text source {source!r}; use one of {list(SOURCES)}")
    delete_segments(session, TextSegment.result_id == result_id, TextSegment.source == source)
    dialect = _dialect(session)
    rows: list[dict[str, Any]] = [
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
    for row in rows:
        row["search_text"] = index_text(dialect, row["text"], row["language"])
    if rows and embedder is not None:
        vectors = embedder.embed([r["text"] for r in rows])
        for row, vector in zip(rows, vectors, strict=True):
            row["embedding"] = encode_embedding(vector)
            row["collection"] = embedder.collection
    if rows:
        session.execute(insert(TextSegment), rows)
    if rows and embedder is not None:
        ids = session.execute(
            select(TextSegment.id).where(
                TextSegment.result_id == result_id,
                TextSegment.source == source,
                TextSegment.collection == embedder.collection,
            )
        ).scalars()
        VectorStore.enqueue(session, embedder.collection, ids)
    return len(rows)


def delete_segments(session: Session, *where: ColumnElement[bool]) -> int:
    """Delete segments, telling the vector outbox about the embedded ones; how many went."""
    embedded = session.execute(
        select(TextSegment.collection, TextSegment.id).where(
            *where, TextSegment.collection.is_not(None)
        )
    ).all()
    by_collection: dict[str, list[int]] = {}
    for coll, seg_id in embedded:
        by_collection.setdefault(str(coll), []).append(int(seg_id))
    for coll, ids in by_collection.items():
        VectorStore.enqueue(session, coll, ids)
    deleted = session.execute(delete(TextSegment).where(*where))
    return int(getattr(deleted, "rowcount", 0) or 0)


def delete_for_result(session: Session, result_id: str) -> int:
    """Remove every segment taken from one result (e.g. when it stops being accepted)."""
    return delete_segments(session, TextSegment.result_id == result_id)


def store_embeddings(
    session: Session, embedder: TextEmbedder, ids: Sequence[int], texts: Sequence[str]
) -> None:
    """Embed existing segments (a backfill) and enqueue them for the vector index."""
    if not ids:
        return
    vectors = embedder.embed(list(texts))
    for seg_id, vector in zip(ids, vectors, strict=True):
        session.execute(
            update(TextSegment)
            .where(TextSegment.id == seg_id)
            .values(embedding=encode_embedding(vector), collection=embedder.collection)
        )
    VectorStore.enqueue(session, embedder.collection, ids)
