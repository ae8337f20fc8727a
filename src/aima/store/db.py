"""Engine and sessions for SQLite (WAL, the embedded default) and PostgreSQL.

SQLite transactions start with ``BEGIN IMMEDIATE`` so concurrent writers (API
threads, the embedded worker, ``aima worker`` processes) queue on the write
lock instead of failing half-way with "database is locked". Read-only work (listings,
the caller's account on every request) uses :meth:`Database.reading` instead: a deferred
transaction on one WAL snapshot, so readers neither wait for the writer nor for each other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from aima.core.errors import is_disk_full

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "aima_read_only"  # execution option of Database.read_engine


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.engine: Engine = _make_engine(url, echo=echo)
        # Handed to every session as ``session.info`` (e.g. the audit keyring, which must
        # come from outside the database).
        self.info: dict[str, Any] = {}
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_engine: Engine = self.engine.execution_options(**{READ_ONLY: True})
        self._readers = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        session = self._sessions(info=dict(self.info))
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work: one consistent snapshot, never holding the write lock
        (SQLite: a deferred transaction; a write inside would have to wait for the lock and
        may fail: do not write here). Always rolled back."""
        session = self._readers(info=dict(self.info))
        try:
            yield session
        finally:
            session.close()  # rolls back: nothing to commit

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _private_file(path: Path) -> None:
    """The database file readable by its owner only (SQLite gives its -wal and -shm files the
    database file's mode). Existing files from before are tightened too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists() and p.stat().st_mode & 0o077:
            p.chmod(0o600)


def _make_engine(url: str, *, echo: bool) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Pre-ping on checkout: a connection the server dropped (restart, failover,
        # pg_terminate_backend) is replaced before use instead of failing the request or the
        # job. It costs one round trip per checkout, well under a chunk's commit.
        return create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            pool_recycle=1800,
            pool_size=10,
            max_overflow=10,
        )

    if parsed.database and parsed.database != ":memory:":
        _private_file(Path(parsed.database))
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE can be issued.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # deleted rows are overwritten, not left in free pages: erasure and crypto-shredding
        # (a destroyed data key) must not survive in the database file
        cur.execute("PRAGMA secure_delete=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        reader = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN DEFERRED" if reader else "BEGIN IMMEDIATE")

    return engine


def connection_lost(exc: BaseException) -> bool:
    """The database went away (restart, dropped connection, refused connect): not the work's
    fault, so it must not count against a job's attempts, and the API answers 503. A database
    whose disk is full is reachable: that is :func:`aima.core.errors.is_disk_full` (507)."""
    from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

    if is_disk_full(exc):
        return False
    if isinstance(exc, DisconnectionError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OperationalError, InterfaceError))
