"""language-aware full-text search: stemmed/normalised search_text and its indexes

SQLite: a second FTS5 table over ``search_text`` (snowball stems tagged by language), kept in
step by triggers; the first one stays for prefix terms. PostgreSQL: a GIN index whose text
search configuration follows each segment's language (english, german, ... else simple),
replacing the 'simple' one. Existing rows are backfilled.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 20:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEM_SQLITE = [
    "CREATE VIRTUAL TABLE text_segments_fts_stem USING fts5(search_text, "
    "content='text_segments', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER text_segments_fts_stem_ai AFTER INSERT ON text_segments BEGIN "
    "INSERT INTO text_segments_fts_stem(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER text_segments_fts_stem_ad AFTER DELETE ON text_segments BEGIN "
    "INSERT INTO text_segments_fts_stem(text_segments_fts_stem, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER text_segments_fts_stem_au AFTER UPDATE ON text_segments BEGIN "
    "INSERT INTO text_segments_fts_stem(text_segments_fts_stem, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO text_segments_fts_stem(rowid, search_text) VALUES (new.id, new.search_text); END",
]
# The exact expression matters: search repeats it so the planner uses the index.
LANG_INDEX_POSTGRES = (
    "CREATE INDEX ix_text_segments_fts_lang ON text_segments USING gin (to_tsvector("
    "CASE split_part(lower(coalesce(language, '')), '-', 1) "
    "WHEN 'en' THEN 'english'::regconfig WHEN 'de' THEN 'german'::regconfig "
    "WHEN 'fr' THEN 'french'::regconfig WHEN 'es' THEN 'spanish'::regconfig "
    "WHEN 'it' THEN 'italian'::regconfig WHEN 'pt' THEN 'portuguese'::regconfig "
    "WHEN 'nl' THEN 'dutch'::regconfig ELSE 'simple'::regconfig END, "
    "coalesce(search_text, text)))"
)
SIMPLE_INDEX_POSTGRES = (
    "CREATE INDEX ix_text_segments_fts ON text_segments USING gin (to_tsvector('simple', text))"
)


def upgrade() -> None:
    with op.batch_alter_table("text_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), nullable=True))
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in STEM_SQLITE:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_text_segments_fts")
        op.execute(LANG_INDEX_POSTGRES)
    from aima.store.fulltext import backfill_search_text

    backfill_search_text(op.get_bind())


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS text_segments_fts_stem_{name}")
        op.execute("DROP TABLE IF EXISTS text_segments_fts_stem")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_text_segments_fts_lang")
        op.execute(SIMPLE_INDEX_POSTGRES)
    with op.batch_alter_table("text_segments", schema=None) as batch_op:
        batch_op.drop_column("search_text")
