"""Structured logging: key=value text for people, JSON lines for log pipelines.

Every record carries the correlation ids of the work it belongs to — the HTTP request
(``request_id``, also returned as ``X-Request-ID``), the job and the media — taken from
context variables that the API middleware and the worker set, plus whatever a caller put in
``extra``. ``AIMA_LOG_FORMAT=json`` switches to one JSON object per line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

_CONTEXT: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "aima_log_context", default=None
)


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach correlation ids (request_id, job_id, media_id, ...) to every record inside."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> dict[str, str]:
    return dict(_CONTEXT.get() or {})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    extras = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
    return {**(_CONTEXT.get() or {}), **extras}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = (
            f"{self.formatTime(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        )
        fields = _fields(record)
        if fields:
            base += " " + " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        if record.exc_info:
            base += "\n" + self.formatException(record.exc_info)
        return base


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    root = logging.getLogger()
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else KeyValueFormatter()
    for h in root.handlers:
        if getattr(h, "_aima", False):
            h.setFormatter(formatter)
            root.setLevel(level.upper())
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler._aima = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
