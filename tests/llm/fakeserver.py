"""A local chat-completions server speaking the OpenAI wire format, for client unit tests.

The real llama.cpp server covers the real-model paths; this one makes the rest
deterministic: answers come from a ``responder(request_body) -> content`` callable,
usage counts whitespace-separated words, and ``formats`` sets which ``response_format``
types it accepts (others get the 400 that vLLM/OpenAI send). Real sockets on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


def _words(messages: list[dict[str, Any]]) -> int:
    n = 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            n += len(content.split())
        elif isinstance(content, list):
            n += sum(len(str(p.get("text", "")).split()) + 1 for p in content)
    return n


class FakeChatServer:
    def __init__(
        self,
        responder: Responder,
        *,
        model: str = "fake-model",
        formats: Iterable[str] = ("json_schema", "json_object"),
    ) -> None:
        self.responder = responder
        self.model = model
        self.formats = set(formats)
        self.finish_reasons: list[str] = []  # per request in order; then "stop"
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeChatServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def answer(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
        fmt = body.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") not in self.formats:
            msg = f"response_format type {fmt.get('type')!r} is not supported by this server"
            return 400, {"error": {"message": msg, "type": "invalid_request_error"}}
        content = self.responder(body)
        completion = len(content.split())
        with self._lock:
            finish = self.finish_reasons.pop(0) if self.finish_reasons else "stop"
        return 200, {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": _words(body.get("messages", [])),
                "completion_tokens": completion,
                "total_tokens": _words(body.get("messages", [])) + completion,
            },
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake: FakeChatServer = self.server.fake  # type: ignore[attr-defined]
        self._send(200, {"object": "list", "data": [{"id": fake.model, "object": "model"}]})

    def do_POST(self) -> None:
        fake: FakeChatServer = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, {"error": {"message": "the body is not JSON"}})
            return
        code, doc = fake.answer(body, dict(self.headers))
        self._send(code, doc)

    def _send(self, code: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
