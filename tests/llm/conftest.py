"""Fixtures for the LLM client tests: a migrated database for usage rows and a client factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aima.core.settings import EndpointSettings
from aima.llm import LlmClient
from aima.llm.usage import DbUsageRecorder
from aima.store import migrate
from aima.store.db import Database
from aima.store.models import LlmCall


def llm_rows(db: Database) -> list[LlmCall]:
    """The usage rows, oldest first."""
    with db.session() as s:
        return list(s.scalars(select(LlmCall).order_by(LlmCall.id)))


class FakeClock:
    """A monotonic clock the test moves by hand (circuit breaker reset without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    """Records the backoff delays the client asked for instead of sleeping them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def usage_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'llm.db'}")
    migrate.upgrade(db)
    try:
        yield db
    finally:
        db.dispose()


ClientFactory = Callable[..., LlmClient]


@pytest.fixture
def make_client(usage_db: Database) -> Iterator[ClientFactory]:
    """``make_client(base_url, name="text", clock=..., sleep=..., **endpoint_settings)``."""
    made: list[LlmClient] = []

    def factory(
        base_url: str | None,
        *,
        name: str = "text",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        **overrides: Any,
    ) -> LlmClient:
        values: dict[str, Any] = {
            "base_url": base_url,
            "model": "test-model",
            "max_retries": 2,
            "backoff_s": 0.0,
            "timeout_s": 600.0,  # the shared 2-core CI machine can be very slow
            "max_tokens": 16,
        }
        values.update(overrides)
        extra: dict[str, Any] = {}
        if clock is not None:
            extra["clock"] = clock
        extra["sleep"] = sleep if sleep is not None else Sleeps()
        client = LlmClient(name, EndpointSettings(**values), DbUsageRecorder(usage_db), **extra)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()
