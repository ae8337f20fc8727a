"""Read-only units of work: they neither take nor wait for SQLite's write lock, and the
listings' default order is served by an index instead of a sort of the whole table."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from aima.runtime import Runtime
from aima.services.access import Principal
from aima.services.media import MediaFilter, _page_statements
from aima.store.db import Database
from aima.store.models import User


def test_a_reader_does_not_wait_for_a_writer_and_sees_committed_rows_only(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with db.session() as writer:  # BEGIN IMMEDIATE: holds the write lock until the end
        writer.execute(text("INSERT INTO t VALUES (1)"))
        # a second writer would wait here for the busy timeout (30 s) and fail; readers don't
        with db.reading() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        with db.read_engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    with db.reading() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    db.dispose()


def _plan(rt: Runtime, statement: object) -> str:
    with rt.db.engine.connect() as conn:
        compiled = statement.compile(conn)  # type: ignore[attr-defined]
        rows = conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {compiled}", tuple(compiled.params.values())
        ).all()
    return "\n".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize("role", ["admin", "uploader"])
def test_the_default_listing_order_is_read_from_an_index(
    sqlite_runtime: Runtime, role: str
) -> None:
    rt = sqlite_runtime
    user = rt.users.create(
        Principal(None, "op", "admin", via="cli"), f"u-{role}", "password-1234", role
    )
    with rt.db.session() as s:
        row = s.execute(select(User).where(User.id == user.id)).scalar_one()
        principal = Principal(row.id, row.username, row.role)
    _count, page = _page_statements(principal, MediaFilter(), "-created_at")
    plan = _plan(rt, page.limit(50))
    assert "ix_media_created" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan, plan  # no sort of every row
