"""Structured logs: JSON lines with correlation ids; no query strings (secrets) in access lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from aima.core.logging import JsonFormatter, KeyValueFormatter, log_context
from tests.api.helpers import Api


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def test_json_lines_carry_the_context_ids(captured: _Capture) -> None:
    with log_context(job_id="job_1", media_id="med_2"):
        logging.getLogger("aima.test").info("chunk done", extra={"analyzer": "ocr"})
    line = json.loads(captured.lines[-1])
    assert line["message"] == "chunk done"
    assert (line["job_id"], line["media_id"], line["analyzer"]) == ("job_1", "med_2", "ocr")
    logging.getLogger("aima.test").info("outside")
    assert "job_id" not in json.loads(captured.lines[-1])


def test_text_format_names_the_ids_too() -> None:
    record = logging.LogRecord("aima.x", logging.INFO, "f", 1, "hello", None, None)
    with log_context(request_id="r1"):
        assert "request_id=r1" in KeyValueFormatter().format(record)


def test_each_request_gets_an_id_and_an_access_line_without_its_query(
    api: Api, captured: _Capture
) -> None:
    r = api.client.get("/healthz", params={"token": "s3cr3t-value"})
    rid = r.headers["X-Request-ID"]
    access = [json.loads(x) for x in captured.lines if '"aima.access"' in x]
    assert any(a.get("request_id") == rid and "/healthz" in a["message"] for a in access)
    server_lines = [x for x in captured.lines if not json.loads(x)["logger"].startswith("httpx")]
    assert not any("s3cr3t-value" in x for x in server_lines)  # (the test client logs URLs)
    given = api.client.get("/healthz", headers={"X-Request-ID": "trace-abc_1"})
    assert given.headers["X-Request-ID"] == "trace-abc_1"
    hostile = api.client.get("/healthz", headers={"X-Request-ID": "a b\nc"})
    assert hostile.headers["X-Request-ID"] != "a b\nc"
