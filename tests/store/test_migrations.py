from __future__ import annotations

from sqlalchemy import inspect

from aima.store import migrate
from aima.store.db import Database


def test_migrations_reach_head_and_match_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        migrate.upgrade(db)
        assert migrate.is_current(db)
        migrate.check(db)  # raises if a model change has no migration
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "media", "jobs", "job_chunks", "results", "audit_events"} <= tables
        migrate.upgrade(db)  # idempotent
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()
