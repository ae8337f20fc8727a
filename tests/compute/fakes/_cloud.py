"""A tiny threaded HTTP server base for the cloud fakes (Genesis, EC2, GCE, Azure).

Each fake subclasses :class:`CloudFake` and implements :meth:`route`. Failures are
injected per request through :attr:`CloudFake.inject` (a queue of canned
responses served before routing), so a test can say "the next call gets a 429
with Retry-After: 7" without timing anything.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def q(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[0]


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Response:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )


class CloudFake:
    """Start with ``with Fake() as fake:``; ``fake.url`` is its base address."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.inject: deque[Response] = deque()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    self.command,
                    split.path,
                    parse_qs(split.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                with fake.lock:
                    fake.requests.append(req)
                    resp = fake.inject.popleft() if fake.inject else None
                    if resp is None:
                        resp = fake.route(req)
                self.send_response(resp.status)
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, req: Request) -> Response:
        raise AssertionError(f"{type(self).__name__} has no route for {req.method} {req.path}")

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def calls(self, method: str, path_part: str = "") -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and path_part in r.path]
