"""Shared fixtures: a real database (SQLite file and PostgreSQL), real blobs, real settings.

PostgreSQL comes from ``AIMA_TEST_POSTGRES_URL`` (default: the local server at
127.0.0.1:5432, database ``test``). Each test gets its own freshly created
database, dropped afterwards. Without a server the PostgreSQL variants skip with
the reason, except under CI (``CI=true``) or ``AIMA_REQUIRE_POSTGRES=1``, where
they fail: CI must never silently skip them.

No test may touch the user's library: ``AIMA_DATA_DIR`` points at a throw-away
directory for the whole session (subprocesses inherit it), whatever the shell set.
Tests that run an analyzer's real default model carry ``@pytest.mark.real_model("name")``;
``tests/analyzers/test_meta.py`` checks every analyzer has one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from aima.core.settings import Settings
from aima.runtime import Runtime, build_runtime

PG_URL = os.environ.get(
    "AIMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("AIMA_REQUIRE_POSTGRES") == "1"
)
TEST_SECRET = "test-secret-" + "x" * 40
_SESSION_DATA_DIR: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SESSION_DATA_DIR
    config.addinivalue_line(
        "markers",
        "real_model(analyzer): runs that analyzer's real default model (see test_meta.py)",
    )
    # before any test module builds settings: the per-user default must never be used here
    _SESSION_DATA_DIR = tempfile.mkdtemp(prefix="aima-test-data-")
    os.environ["AIMA_DATA_DIR"] = _SESSION_DATA_DIR
    # the audit key (and its anchors) live outside any data dir, never in the user's config
    os.environ["AIMA_AUDIT__KEY_FILE"] = os.path.join(_SESSION_DATA_DIR + "-keys", "audit.key")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_DATA_DIR:
        shutil.rmtree(_SESSION_DATA_DIR, ignore_errors=True)
        shutil.rmtree(_SESSION_DATA_DIR + "-keys", ignore_errors=True)


def _admin_conninfo() -> str:
    url = make_url(PG_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(_admin_conninfo(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip()[:200]}"


_PG_PROBLEM: str | None = None
_PG_CHECKED = False


def require_postgres() -> None:
    global _PG_CHECKED, _PG_PROBLEM
    if not _PG_CHECKED:
        _PG_PROBLEM, _PG_CHECKED = _pg_available(), True
    if _PG_PROBLEM:
        if REQUIRE_PG:
            pytest.fail(f"{_PG_PROBLEM} (required under CI / AIMA_REQUIRE_POSTGRES=1)")
        pytest.skip(_PG_PROBLEM)


def create_pg_database() -> tuple[str, str]:
    """Create a throw-away database; returns (SQLAlchemy URL, name)."""
    import psycopg

    require_postgres()
    name = f"aima_t_{secrets.token_hex(6)}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    url, name = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aima.db'}"
    else:
        url, name = create_pg_database()
        try:
            yield url
        finally:
            drop_pg_database(name)


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "env": "test",
        "data_dir": data_dir,
        "database_url": database_url,
        "auth": {"jwt_secret": TEST_SECRET},
        "jobs": {
            "lease_s": 5,
            "heartbeat_s": 1,
            "backoff_base_s": 0.2,
            "chunk_s": 2,
            "default_analyzers": ["thumbnails"],  # tests that want more name them
        },
        "worker": {"embedded": False, "poll_interval_s": 0.1},
        "log_level": "WARNING",
        # beside the data dir, not in it: the audit key must live outside the library
        "audit": {"key_file": data_dir.parent / f"{data_dir.name}-keys" / "audit.key"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Settings(**base)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def sqlite_runtime(tmp_path: Path) -> Iterator[Runtime]:
    """For tests that exercise no database-specific behaviour."""
    rt = build_runtime(make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'aima.db'}"))
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3-protocol server on loopback (moto's server mode: real HTTP, real S3 wire format).

    MinIO/AWS cannot exist on these machines; the real boto3 client code path runs against it.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


def s3_blob_settings(endpoint: str, bucket: str | None = None) -> dict[str, Any]:
    return {
        "backend": "s3",
        "s3_endpoint_url": endpoint,
        "s3_bucket": bucket or f"aima-{secrets.token_hex(4)}",
        "s3_access_key": "testing",
        "s3_secret_key": "testing",
    }


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """The real llama.cpp OpenAI-compatible server (SmolLM2-135M, 2 threads) for the session.

    Returns its base URL (``http://127.0.0.1:<port>/v1``). Without llama-cpp-python or the
    model package the tests skip with the reason, except under CI where they fail.
    """
    from tests.llm_server import LlamaServerUnavailable, start_llama_server

    try:
        server = start_llama_server()
    except LlamaServerUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true" or "installed" not in str(exc):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    try:
        yield server.base_url
    finally:
        server.stop()
