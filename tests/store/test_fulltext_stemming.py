"""Per-language stemming and English spelling variants in full-text search (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.orm import Session

from aima.store import migrate
from aima.store.db import Database
from aima.store.fulltext import backfill_search_text, replace_segments, search_text
from aima.store.models import AnalysisResult, Job, Media, TextSegment
from aima.store.textnorm import american, language_tag, stem

SEGMENTS: list[tuple[str, str | None]] = [
    ("The repair cost was far higher than planned.", "en"),
    ("Ships waited outside the harbor all night.", "en"),
    ("She painted the fence a bright colour.", "en-GB"),
    ("They will organize the volunteers by district.", "en"),
    ("The sports centre closes at ten.", "en"),
    ("Die Häuser am Fluss wurden renoviert.", "de"),
    ("Les marchés de Lyon ouvrent tôt le dimanche.", "fr"),
    ("Los gatos duermen en el tejado.", "es"),
    ("A total of 12 costs were listed.", None),  # no language: unstemmed
]


def add_parents(s: Session) -> None:
    s.add(
        Media(
            id="m1", sha256="1" * 64, size=1, kind="video", format="mp4",
            mime="video/mp4", original_name="m1.mp4", info={},
        )
    )  # fmt: skip
    s.flush()
    s.add(Job(id="j1", media_id="m1", analyzers=["transcribe"], state="done"))
    s.flush()
    s.add(
        AnalysisResult(
            id="r1", media_id="m1", job_id="j1", analyzer="transcribe", analyzer_version="1",
            model_id="test", config={}, config_hash="h", data={},
        )
    )  # fmt: skip
    s.flush()


@pytest.fixture
def corpus(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    migrate.upgrade(db)
    with db.session() as s:
        add_parents(s)
        replace_segments(
            s,
            media_id="m1",
            result_id="r1",
            source="transcript",
            segments=[
                {"start": float(i), "end": i + 1.0, "text": t, "language": lang}
                for i, (t, lang) in enumerate(SEGMENTS)
            ],
        )
    try:
        yield db
    finally:
        db.dispose()


def found(db: Database, query: str) -> list[str]:
    with db.session() as s:
        return [h.text for h in search_text(s, query)]


# --- the normaliser and stemmer alone -----------------------------------------------------------


def test_american_spelling_rules_and_the_words_they_leave_alone() -> None:
    pairs = {
        "harbour": "harbor",
        "colours": "colors",
        "favourite": "favorite",
        "centre": "center",
        "kilometres": "kilometers",
        "organise": "organize",
        "organisation": "organization",
        "analysed": "analyzed",
        "travelled": "traveled",
        "defence": "defense",
        "grey": "gray",
    }
    for british, us in pairs.items():
        assert american(british) == us, british
    for word in ("four", "hour", "tour", "exercise", "surprise", "advise", "compelled", "acre"):
        assert american(word) == word, word


def test_stems_are_per_language_and_accent_insensitive() -> None:
    assert stem("costs", "en") == stem("cost", "en")
    assert stem("harbour", "en") == stem("harbors", "en")
    assert stem("Häuser", "de") == stem("hauser", "de") == stem("Haus", "de")
    assert stem("marchés", "fr") == stem("marche", "fr")
    assert stem("costs", "xx") == "costs"  # simple: folded only
    assert language_tag("EN-gb") == "en" and language_tag("sv") == "xx"
    assert language_tag(None) == "xx"


# --- search on both databases --------------------------------------------------------------------


def test_english_inflections_find_each_other(corpus: Database) -> None:
    assert "The repair cost was far higher than planned." in found(corpus, "costs")
    assert found(corpus, "planning") == ["The repair cost was far higher than planned."]
    # the unstemmed (language-less) row is found only by its own word form
    assert "A total of 12 costs were listed." in found(corpus, "costs")
    assert "A total of 12 costs were listed." not in found(corpus, "cost")


def test_british_and_american_spellings_find_each_other(corpus: Database) -> None:
    assert found(corpus, "harbour") == ["Ships waited outside the harbor all night."]
    assert found(corpus, "harbors") == ["Ships waited outside the harbor all night."]
    assert found(corpus, "color") == ["She painted the fence a bright colour."]
    assert found(corpus, "organise") == ["They will organize the volunteers by district."]
    assert found(corpus, "center") == ["The sports centre closes at ten."]
    assert found(corpus, '"sports center"') == ["The sports centre closes at ten."]


def test_german_french_spanish_stemming(corpus: Database) -> None:
    assert found(corpus, "Haus") == ["Die Häuser am Fluss wurden renoviert."]
    assert found(corpus, "Flüsse") == ["Die Häuser am Fluss wurden renoviert."]
    assert found(corpus, "marché") == ["Les marchés de Lyon ouvrent tôt le dimanche."]
    assert found(corpus, "gato") == ["Los gatos duermen en el tejado."]
    # a language's rules apply to its own rows only: English "costs" never reaches German
    assert found(corpus, "hauses fluss") == ["Die Häuser am Fluss wurden renoviert."]


def test_exact_words_prefixes_and_snippets_still_work(corpus: Database) -> None:
    assert found(corpus, "harbor") == ["Ships waited outside the harbor all night."]
    assert found(corpus, "volunt*") == ["They will organize the volunteers by district."]
    assert found(corpus, "volunt* organising") == ["They will organize the volunteers by district."]
    with corpus.session() as s:
        (hit,) = [h for h in search_text(s, "costs") if h.language == "en"]
    assert "[cost]" in hit.snippet


def test_backfill_stems_rows_written_before_the_column(corpus: Database) -> None:
    with corpus.session() as s:
        s.execute(update(TextSegment).values(search_text=None))
    if corpus.is_postgres:  # the expression falls back to the plain text: exact words match
        assert found(corpus, "harbor") == ["Ships waited outside the harbor all night."]
    assert found(corpus, "color") == []
    with corpus.session() as s:
        assert backfill_search_text(s, batch=4) == len(SEGMENTS)
        assert backfill_search_text(s) == 0  # idempotent
    assert found(corpus, "color") == ["She painted the fence a bright colour."]
    assert "The repair cost was far higher than planned." in found(corpus, "costs")


@pytest.mark.postgres
def test_postgres_uses_the_language_index(pg_url: str) -> None:
    db = Database(pg_url)
    migrate.upgrade(db)
    with db.session() as s:
        add_parents(s)
        replace_segments(
            s,
            media_id="m1",
            result_id="r1",
            source="transcript",
            segments=[{"start": 0.0, "end": 1.0, "text": t, "language": la} for t, la in SEGMENTS],
        )
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.session() as s:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            assert {h.text for h in search_text(s, "costs")} == {
                "The repair cost was far higher than planned.",
                "A total of 12 costs were listed.",
            }
            statement, params = next(st for st in reversed(statements) if "ts_rank_cd" in st[0])
            plan = "\n".join(
                r[0] for r in s.connection().exec_driver_sql("EXPLAIN " + statement, params)
            )
            configs = s.execute(
                select(TextSegment.search_text).where(TextSegment.language == "en-GB")
            ).scalar_one()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
        db.dispose()
    assert "ix_text_segments_fts_lang" in plan, plan
    assert configs == "She painted the fence a bright color."
