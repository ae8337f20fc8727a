"""A fault-injecting HTTP proxy for chat-completions endpoints (real sockets on 127.0.0.1).

Sits in front of any upstream — the real llama.cpp server or a fake — and applies a
script of faults, one per incoming request, in order; requests beyond the script pass
through untouched. It also counts requests and how many were in flight at once, so
tests can check the client's concurrency limit by counting, not by timing.

    with FaultProxy(upstream_base_url) as proxy:
        proxy.script(Fault.status(429, retry_after=1), Fault.status(500))
        client = LlmClient("text", EndpointSettings(base_url=proxy.base_url, ...), ...)

Faults: ``delay`` (hold the request, e.g. beyond the client's timeout), ``hold`` (wait
for an event), ``status`` (429 with Retry-After, 500, 503 ...), ``truncate`` (a body cut
short of its Content-Length), ``garbage`` (200 with a non-JSON body), ``malformed`` /
``content`` / ``rewrite`` (valid HTTP, the completion's ``content`` replaced), ``drop``
(close the connection without answering), and going away (stop accepting connections
after N requests, or at once with ``go_away()``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

HOLD_LIMIT_S = 120.0  # a held or delayed request never outlives this (nor the proxy)


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 0.0
    code: int = 200
    retry_after: str | None = None
    message: str | None = None
    gate: threading.Event | None = None
    change: Callable[[str], str] | None = field(default=None, compare=False)

    @staticmethod
    def delay(seconds: float) -> Fault:
        """Answer only after ``seconds`` (or when the proxy closes), then pass through."""
        return Fault("delay", seconds=seconds)

    @staticmethod
    def hold(gate: threading.Event) -> Fault:
        """Wait until ``gate`` is set, then pass through (counts as in flight meanwhile)."""
        return Fault("hold", gate=gate)

    @staticmethod
    def status(
        code: int, *, retry_after: float | str | None = None, message: str | None = None
    ) -> Fault:
        """Answer ``code`` with an OpenAI-style error body, without asking the upstream."""
        ra = None if retry_after is None else str(retry_after)
        return Fault("status", code=code, retry_after=ra, message=message)

    @staticmethod
    def truncate() -> Fault:
        """Forward, then send only half the body (Content-Length promises all) and close."""
        return Fault("truncate")

    @staticmethod
    def garbage() -> Fault:
        """200 with an HTML body: valid HTTP, not a chat completion."""
        return Fault("garbage")

    @staticmethod
    def drop() -> Fault:
        """Read the request, then close the connection without a response."""
        return Fault("drop")

    @staticmethod
    def malformed() -> Fault:
        """Forward, then break the JSON in ``choices[0].message.content`` (cut it short)."""
        return Fault("rewrite", change=_break_json)

    @staticmethod
    def content(text: str) -> Fault:
        """Forward, then replace the answer's content with ``text``."""
        return Fault("rewrite", change=lambda _old: text)

    @staticmethod
    def rewrite(change: Callable[[str], str]) -> Fault:
        """Forward, then replace the content with ``change(content)``."""
        return Fault("rewrite", change=change)


def _break_json(content: str) -> str:
    text = content.strip() or '{"a": 1}'
    return text[: max(1, len(text) // 2)] + ',"'


@dataclass(frozen=True)
class Seen:
    """One request the proxy received (the body parsed when it was JSON)."""

    method: str
    path: str
    body: Any
    fault: str  # the fault applied, or "pass"


class FaultProxy:
    def __init__(self, upstream: str, *, go_away_after: int | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self.path_prefix = parts.path.rstrip("/")
        self.go_away_after = go_away_after
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[Fault] = deque()
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._gone = False
        self._http = httpx.Client(timeout=HOLD_LIMIT_S * 2, trust_env=False)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path_prefix}"

    def script(self, *faults: Fault) -> None:
        """Append faults, applied to the next requests in order."""
        with self._cond:
            self._faults.extend(faults)

    @property
    def count(self) -> int:
        with self._cond:
            return len(self.requests)

    @property
    def gone(self) -> bool:
        """True once the proxy stopped accepting (``go_away`` or ``go_away_after``)."""
        with self._cond:
            return self._gone

    def chat_requests(self) -> list[Seen]:
        with self._cond:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def wait_for(self, predicate: Callable[[FaultProxy], bool], timeout: float = 60.0) -> bool:
        """Block until ``predicate(proxy)`` holds (checked whenever a request starts or ends)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout=timeout)

    def go_away(self) -> None:
        """Stop accepting connections now; requests on open connections are dropped."""
        with self._cond:
            if self._gone:
                return
            self._gone = True
        threading.Thread(target=self._stop_listening, daemon=True).start()

    def _stop_listening(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def close(self) -> None:
        self._closing.set()
        with self._cond:
            already = self._gone
            self._gone = True
        if not already:
            self._stop_listening()
        self._thread.join(timeout=10)
        self._http.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- called by the handler threads ---------------------------------------------------

    def _begin(self, method: str, path: str, raw: bytes) -> Fault | None:
        """Register a request; returns its fault (None: pass through), or raises _GoneError."""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._cond:
            if self._gone:
                raise _GoneError
            fault = self._faults.popleft() if self._faults else None
            self.requests.append(Seen(method, path, body, fault.kind if fault else "pass"))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.go_away_after is not None and len(self.requests) >= self.go_away_after:
                self._gone = True
                threading.Thread(target=self._stop_listening, daemon=True).start()
            self._cond.notify_all()
            return fault

    def _end(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def _forward(
        self, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        keep = {k: v for k, v in headers.items() if k.lower() in ("content-type", "authorization")}
        return self._http.request(
            method, self.upstream_origin + path, content=raw or None, headers=keep
        )


class _GoneError(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is the point of several faults


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            fault = proxy._begin(self.command, self.path, raw)
        except _GoneError:
            self._hang_up()
            return
        try:
            self._apply(proxy, fault, raw)
        finally:
            proxy._end()

    def _apply(self, proxy: FaultProxy, fault: Fault | None, raw: bytes) -> None:
        kind = fault.kind if fault else "pass"
        if fault is not None and kind == "delay":
            proxy._closing.wait(min(fault.seconds, HOLD_LIMIT_S))
        if fault is not None and kind == "hold" and fault.gate is not None:
            fault.gate.wait(HOLD_LIMIT_S)
        if kind == "drop":
            self._hang_up()
            return
        if fault is not None and kind == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            message = fault.message or f"injected {fault.code}"
            body = {"error": {"message": message, "type": "fault_proxy"}}
            self._send(fault.code, json.dumps(body).encode(), extra)
            return
        if kind == "garbage":
            self._send(200, b"<html><body>502 Bad Gateway</body></html>", {}, "text/html")
            return
        if proxy._closing.is_set():
            self._hang_up()
            return
        resp = proxy._forward(self.command, self.path, raw, dict(self.headers))
        data = resp.content
        if fault is not None and kind == "rewrite" and fault.change is not None:
            data = _rewrite_content(data, fault.change)
        if kind == "truncate":
            self.send_response(resp.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._hang_up()
            return
        ctype = resp.headers.get("content-type", "application/json")
        self._send(resp.status_code, data, {}, ctype)

    def _send(
        self, code: int, data: bytes, headers: dict[str, str], ctype: str = "application/json"
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have hung up first
            self.connection.shutdown(socket.SHUT_RDWR)


def _rewrite_content(data: bytes, change: Callable[[str], str]) -> bytes:
    doc = json.loads(data)
    message = doc["choices"][0]["message"]
    message["content"] = change(message.get("content") or "")
    return json.dumps(doc).encode()
