"""Full-text search over text segments, on SQLite (FTS5) and PostgreSQL (tsvector + GIN)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, event, func, inspect, select, text
from sqlalchemy.orm import Session

from aima.core.errors import InvalidInput
from aima.services.access import Principal, visible_media
from aima.store import migrate
from aima.store.db import Database
from aima.store.fulltext import (
    MAX_QUERY_CHARS,
    Term,
    TextHit,
    delete_for_result,
    fts5_query,
    parse_query,
    replace_segments,
    search_text,
)
from aima.store.models import AnalysisResult, Job, Media, MediaGrant, TextSegment, User

LONG = (
    "ein langer text über viele verschiedene dinge des alltags und am ende ein apfel "
    "und danach noch sehr viele weitere wörter ohne jede bedeutung für die suche hier"
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    migrate.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def add_media(s: Session, media_id: str) -> None:
    """A media with one transcript and one OCR result (the parents text segments need)."""
    s.add(
        Media(
            id=media_id,
            sha256=media_id.ljust(64, "0"),
            size=1,
            kind="video",
            format="mp4",
            mime="video/mp4",
            original_name=f"{media_id}.mp4",
            info={},
        )
    )
    s.flush()
    s.add(Job(id=f"job-{media_id}", media_id=media_id, analyzers=["transcribe"], state="done"))
    s.flush()
    for analyzer in ("transcribe", "ocr"):
        s.add(
            AnalysisResult(
                id=f"{analyzer}-{media_id}",
                media_id=media_id,
                job_id=f"job-{media_id}",
                analyzer=analyzer,
                analyzer_version="1",
                model_id="test",
                config={},
                config_hash="h",
                data={},
            )
        )
    s.flush()


def put(s: Session, media_id: str, texts: list[str], source: str = "transcript") -> int:
    analyzer = "transcribe" if source == "transcript" else "ocr"
    segments = [
        {
            "start": float(i),
            "end": i + 0.5,
            "text": t,
            "speaker": "S1" if source == "transcript" else None,
            "language": "de",
            "confidence": 0.9,
        }
        for i, t in enumerate(texts)
    ]
    return replace_segments(
        s,
        media_id=media_id,
        result_id=f"{analyzer}-{media_id}",
        source=source,
        segments=segments,
    )


def texts(hits: list[TextHit]) -> list[str]:
    return [h.text for h in hits]


def fill(db: Database) -> Database:
    with db.session() as s:
        add_media(s, "m1")
        add_media(s, "m2")
        put(
            s,
            "m1",
            [
                "apfel apfel",
                LONG,
                "Die Straße in München ist lang",
                "die rote katze schläft",
                "die katze ist nicht rot sondern rote farbe",
                "schläft die katze",
            ],
        )
        put(s, "m1", ["EXIT Notausgang", "Apfelsaft im Angebot"], source="ocr")
        put(s, "m2", ["ein apfel für m2", "München im Winter"])
    return db


@pytest.fixture
def corpus(db: Database) -> Database:
    return fill(db)


# --- query parsing (no database) -------------------------------------------------------------


def test_parse_query_builds_terms_and_quotes_every_fts5_token() -> None:
    terms = parse_query('  rote "die  katze" schl* -  NEAR( "ab"c  foo-ba* ')
    assert terms == [
        Term("word", "rote"),
        Term("phrase", "die katze"),
        Term("prefix", "schl"),
        Term("word", "NEAR("),
        Term("phrase", "ab"),
        Term("word", "c"),
        Term("word", "foo"),
        Term("prefix", "ba"),
    ]
    assert fts5_query(terms) == '"rote" "die katze" "schl"* "NEAR(" "ab" "c" "foo" "ba"*'


def test_parse_query_drops_terms_without_letters_and_rejects_empty_or_long() -> None:
    assert parse_query('" - * \' ) ""') == []
    assert parse_query('"unterminated phrase') == [Term("phrase", "unterminated phrase")]
    for bad in ("", "   ", "\t\n"):
        with pytest.raises(InvalidInput, match="empty"):
            parse_query(bad)
    with pytest.raises(InvalidInput, match="at most 500"):
        parse_query("a" * (MAX_QUERY_CHARS + 1))
    assert parse_query("a" * MAX_QUERY_CHARS) == [Term("word", "a" * MAX_QUERY_CHARS)]


# --- search on both databases ----------------------------------------------------------------


def test_hit_carries_where_to_jump_and_a_marked_snippet(corpus: Database) -> None:
    with corpus.session() as s:
        hits = search_text(s, "notausgang")
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.media_id, hit.source, hit.start, hit.end) == ("m1", "ocr", 0.0, 0.5)
    assert (hit.language, hit.confidence, hit.speaker) == ("de", 0.9, None)
    assert hit.text == "EXIT Notausgang"
    assert "[Notausgang]" in hit.snippet
    assert isinstance(hit.segment_id, int) and hit.score > 0


def test_ranking_repeated_or_short_beats_once_in_long(corpus: Database) -> None:
    with corpus.session() as s:
        hits = search_text(s, "apfel", media_id="m1")
    assert texts(hits) == ["apfel apfel", LONG]
    assert hits[0].score > hits[1].score
    with corpus.session() as s:
        both = search_text(s, "apfel")
    assert [h.score for h in both] == sorted((h.score for h in both), reverse=True)
    assert both[0].text == "apfel apfel" and both[-1].text == LONG


def test_all_words_must_match_in_any_order(corpus: Database) -> None:
    with corpus.session() as s:
        hits = search_text(s, "katze rote")
        assert sorted(texts(hits)) == [
            "die katze ist nicht rot sondern rote farbe",
            "die rote katze schläft",
        ]
        assert search_text(s, "katze hund") == []


def test_quoted_phrase_needs_adjacent_words_in_order(corpus: Database) -> None:
    with corpus.session() as s:
        assert texts(search_text(s, '"katze schläft"')) == ["die rote katze schläft"]
        assert texts(search_text(s, '"rote katze"')) == ["die rote katze schläft"]
        assert search_text(s, '"katze rote"') == []


def test_trailing_star_is_a_prefix(corpus: Database) -> None:
    with corpus.session() as s:
        assert search_text(s, "kat") == []
        assert len(search_text(s, "kat*")) == 3
        assert sorted(texts(search_text(s, "apfel*", media_id="m1"))) == sorted(
            ["apfel apfel", LONG, "Apfelsaft im Angebot"]
        )
        assert texts(search_text(s, "Notaus*")) == ["EXIT Notausgang"]
        assert texts(search_text(s, "schl* rote")) == ["die rote katze schläft"]


def test_case_insensitive(corpus: Database) -> None:
    with corpus.session() as s:
        for query in ("APFELSAFT", "apfelsaft", "ApFeLsAfT"):
            assert texts(search_text(s, query)) == ["Apfelsaft im Angebot"]
        assert texts(search_text(s, "exit")) == ["EXIT Notausgang"]


def test_german_umlauts_and_sharp_s(corpus: Database) -> None:
    with corpus.session() as s:
        assert texts(search_text(s, "Straße")) == ["Die Straße in München ist lang"]
        assert texts(search_text(s, "straße münchen")) == ["Die Straße in München ist lang"]
        assert sorted(texts(search_text(s, "MÜNCHEN"))) == [
            "Die Straße in München ist lang",
            "München im Winter",
        ]
        assert texts(search_text(s, "schläft rote")) == ["die rote katze schläft"]
        assert len(search_text(s, "münch*")) == 2
        accentless = search_text(s, "munchen")
    # SQLite folds accents before stemming; PostgreSQL's German stemmer drops umlauts itself
    # (its matching is otherwise accent-sensitive: see the stemming tests)
    assert len(accentless) == 2


def test_media_filter_restricts_to_visible_media(corpus: Database) -> None:
    with corpus.session() as s:
        only_m2 = select(Media).where(Media.id == "m2")
        assert {h.media_id for h in search_text(s, "apfel", media_filter=only_m2)} == {"m2"}
        assert search_text(s, "katze", media_filter=only_m2) == []

        s.add(User(id="u1", username="ulla", password_hash="x", role="uploader"))
        s.flush()
        uploader = Principal(user_id="u1", username="ulla", role="uploader")
        assert search_text(s, "münchen", media_filter=visible_media(uploader)) == []
        s.add(MediaGrant(media_id="m1", user_id="u1"))
        s.flush()
        hits = search_text(s, "münchen", media_filter=visible_media(uploader))
        assert [h.media_id for h in hits] == ["m1"]


def test_sources_and_media_id_filters(corpus: Database) -> None:
    with corpus.session() as s:
        assert {h.source for h in search_text(s, "apfel*")} == {"transcript", "ocr"}
        assert texts(search_text(s, "apfel*", sources=["ocr"])) == ["Apfelsaft im Angebot"]
        transcript = search_text(s, "apfel*", sources=["transcript"])
        assert {h.source for h in transcript} == {"transcript"} and len(transcript) == 3
        assert search_text(s, "apfel", sources=[]) == []
        assert {h.media_id for h in search_text(s, "apfel", media_id="m2")} == {"m2"}
        assert search_text(s, "apfel", media_id="nope") == []
        with pytest.raises(InvalidInput, match="unknown text source"):
            search_text(s, "apfel", sources=["subtitles"])


def test_limit_and_offset_page_through_the_ranking(db: Database) -> None:
    with db.session() as s:
        add_media(s, "m1")
        # Distinct lengths give distinct scores, so the order is fully determined.
        put(s, "m1", ["wort " + "füll " * n for n in range(7)])
        everything = search_text(s, "wort")
        assert len(everything) == 7
        assert everything[0].text == "wort"  # the shortest ranks first
        pages = [search_text(s, "wort", limit=3, offset=o) for o in (0, 3, 6, 9)]
        assert [len(p) for p in pages] == [3, 3, 1, 0]
        paged = [h.segment_id for p in pages for h in p]
        assert paged == [h.segment_id for h in everything]
        for limit, offset in ((0, 0), (10_000, 0), (5, -1)):
            with pytest.raises(InvalidInput):
                search_text(s, "wort", limit=limit, offset=offset)


HOSTILE = [
    '"',
    "'",
    "-",
    "*",
    "**",
    "NEAR(",
    "NEAR(apfel katze, 2)",
    "text:",
    "text:apfel",
    "{text}: apfel",
    ")",
    "(",
    "AND OR NOT",
    "apfel AND",
    "apfel OR katze",
    "NOT apfel",
    "-apfel",
    "apfel -katze",
    "'; DROP TABLE text_segments; --",
    "'; DROP TABLE x; --",
    '" OR 1=1 --',
    "apfel\x00katze",
    "^apfel",
    "apfel + katze",
    "a:* & !b | c <-> d",
    "\\",
    "apfel\\",
    "'apfel'",
    '"apfel',
    'apfel"',
    '""\'\'""',
    "rowid:1",
    "* apfel",
    "*apfel",
    "e'* x",
    "%_",
    "😀 apfel",
    "日本語",
    "ǅ ß ﬁ",
]


def _tables_intact(s: Session, db: Database) -> None:
    names = set(inspect(s.connection()).get_table_names())
    assert "text_segments" in names
    assert s.scalar(select(func.count()).select_from(TextSegment)) == 10
    if not db.is_postgres:
        s.execute(text("SELECT count(*) FROM text_segments_fts")).scalar_one()


def test_hostile_queries_never_break_the_engine(corpus: Database) -> None:
    for query in HOSTILE:
        with corpus.session() as s:
            assert isinstance(search_text(s, query), list), query
            _tables_intact(s, corpus)


def test_hostile_queries_still_find_their_words(corpus: Database) -> None:
    with corpus.session() as s:
        assert len(search_text(s, "-apfel", media_id="m1")) == 2  # "-" is no NOT here
        assert search_text(s, "apfel OR katze") == []  # no OR: all three words required
        assert texts(search_text(s, "'; notausgang --")) == ["EXIT Notausgang"]
        assert texts(search_text(s, '( "exit')) == ["EXIT Notausgang"]
        assert search_text(s, "text:notausgang") == []  # "text" is a word here, not a column


def test_random_junk_never_raises(corpus: Database) -> None:
    rng = random.Random(20261121)
    alphabet = [*"\"'*-+^:(){}[],.;!&|<>\\%_ \t", "NEAR", "AND", "OR", "NOT", "apfel", "ü"]
    with corpus.session() as s:
        for _ in range(300):
            query = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
            if not query.strip():
                continue
            search_text(s, query, limit=5)
        _tables_intact(s, corpus)


def test_empty_and_too_long_queries_are_invalid_input(corpus: Database) -> None:
    with corpus.session() as s:
        for query in ("", "   ", "\n"):
            with pytest.raises(InvalidInput):
                search_text(s, query)
        with pytest.raises(InvalidInput):
            search_text(s, "apfel " * 100)


def test_replace_segments_replaces_only_that_result_and_source(corpus: Database) -> None:
    with corpus.session() as s:
        n = replace_segments(
            s,
            media_id="m1",
            result_id="transcribe-m1",
            source="transcript",
            segments=[
                {"start": 1, "end": 2, "text": "  neuer Text über Birnen "},
                {"start": 2, "end": 3, "text": "   "},
                {"start": 3, "end": 4, "text": ""},
            ],
        )
        assert n == 1
    with corpus.session() as s:
        assert search_text(s, "katze") == []
        assert texts(search_text(s, "apfel", media_id="m1")) == []
        assert texts(search_text(s, "birnen")) == ["neuer Text über Birnen"]
        assert texts(search_text(s, "notausgang")) == ["EXIT Notausgang"]  # OCR untouched
        assert len(search_text(s, "apfel", media_id="m2")) == 1  # other media untouched
        with pytest.raises(InvalidInput):
            replace_segments(s, media_id="m1", result_id="ocr-m1", source="asr", segments=[])


def test_delete_for_result(corpus: Database) -> None:
    with corpus.session() as s:
        assert delete_for_result(s, "ocr-m1") == 2
    with corpus.session() as s:
        assert search_text(s, "notausgang") == []
        assert len(search_text(s, "katze")) == 3


def _fts_rowids(s: Session, word: str) -> list[int]:
    """Row ids straight from the FTS5 index, without the join that would hide orphans."""
    rows = s.execute(
        text("SELECT rowid FROM text_segments_fts WHERE text_segments_fts MATCH :q"),
        {"q": f'"{word}"'},
    )
    return [r[0] for r in rows]


def test_deleting_media_cascades_to_segments_and_index(corpus: Database) -> None:
    with corpus.session() as s:
        if not corpus.is_postgres:
            assert len(_fts_rowids(s, "katze")) == 3
        s.execute(delete(Media).where(Media.id == "m1"))
    with corpus.session() as s:
        assert s.scalar(select(func.count()).select_from(TextSegment)) == 2
        assert search_text(s, "katze") == []
        assert {h.media_id for h in search_text(s, "apfel*")} == {"m2"}
        if not corpus.is_postgres:
            # FK cascades fire the delete trigger (PRAGMA foreign_keys=ON): no orphans left.
            assert _fts_rowids(s, "katze") == []
            assert _fts_rowids(s, "notausgang") == []
            s.execute(
                text("INSERT INTO text_segments_fts(text_segments_fts) VALUES ('integrity-check')")
            )


@pytest.mark.postgres
def test_postgres_search_uses_the_gin_index(pg_url: str) -> None:
    corpus = Database(pg_url)
    migrate.upgrade(corpus)
    fill(corpus)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    event.listen(corpus.engine, "before_cursor_execute", capture)
    try:
        with corpus.session() as s:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            search_text(s, 'apfel "die katze" münch*', sources=["transcript"])
            statement, params = statements[-1]
            plan = "\n".join(
                r[0] for r in s.connection().exec_driver_sql("EXPLAIN " + statement, params)
            )
    finally:
        event.remove(corpus.engine, "before_cursor_execute", capture)
        corpus.dispose()
    assert "ix_text_segments_fts" in plan, plan
