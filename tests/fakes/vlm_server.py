"""A local stand-in for a vision-language model server, speaking the real wire protocol.

No small VLM ships in any package reachable here, so the ``scenes`` analyzer is tested
through the real ``aima.llm`` client against this server: a real HTTP server on
127.0.0.1 serving ``POST /v1/chat/completions`` like vLLM / llama.cpp / OpenAI do —
Bearer auth checked, image parts decoded from base64 JPEG data URLs (a bad one is a
400, as real servers answer), ``response_format`` honoured, ``usage`` returned.

Its answers are *derived from the pixels it receives*, never scripted per test:

* a saturated **red** region -> a restraint ``handcuffs`` at that region's box, with a
  confidence from how much red there is (0.6 + area share, capped at 0.95);
* a saturated **green** region -> a logo ``ACME`` at that box (tests paint the word
  ACME on a green sign, so OCR can read it too);
* each person box listed in the prompt ("1. box [x, y, w, h]") -> clothing named after
  the dominant colour inside the box, and the action "standing";
* the description names the mean brightness and the coloured regions it saw.

Switches (thread-safe) drive the faults a real endpoint shows: ``fail_next(n, status,
retry_after)`` (429/500...), ``malformed_next(n)`` (truncated JSON), ``invalid_next(n)``
(JSON that misses required fields), ``go_away()`` / ``come_back()`` (connections are
accepted and dropped without an answer, like a server that died mid-job). ``requests``
records what came in.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

MODEL = "fake-vlm-1"
_BOX = re.compile(r"^\s*(\d+)\.\s*box\s*\[([^\]]+)\]", re.MULTILINE)


@dataclass
class Seen:
    """One request as the server saw it."""

    images: int
    response_format: str | None
    max_tokens: int | None
    status: int


@dataclass
class _State:
    api_key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    fail: list[tuple[int, float | None]] = field(default_factory=list)
    malformed: int = 0
    invalid: int = 0
    away: bool = False
    away_after: int | None = None
    answered: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    requests: list[Seen] = field(default_factory=list)


# ---------------------------------------------------------------------- seeing


def _region(mask: np.ndarray[Any, Any]) -> list[float] | None:
    """Box of the largest connected blob of ``mask`` (stray pixels are not a thing)."""
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh, area = (int(v) for v in stats[best])
    if area < 200:
        return None
    h, w = mask.shape
    return [round(x / w, 4), round(y / h, 4), round(bw / w, 4), round(bh / h, 4)]


def _colour_name(rgb: np.ndarray[Any, Any]) -> str:
    r, g, b = (float(v) for v in rgb)
    if max(r, g, b) < 60:
        return "black"
    if min(r, g, b) > 200:
        return "white"
    if abs(r - g) < 30 and abs(g - b) < 30:
        return "grey"
    names = {"red": r, "green": g, "blue": b}
    return max(names, key=lambda k: names[k])


def see(image: Image.Image, prompt: str) -> dict[str, Any]:
    """The answer this fake 'model' gives for one image and prompt."""
    px = np.asarray(image.convert("RGB")).astype(np.int16)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    red = (r > 190) & (g < 50) & (b < 50)
    green = (g > 170) & (r < 60) & (b < 80)
    seen: list[str] = []
    restraints = []
    if (box := _region(red)) is not None:
        share = float(red.mean())
        restraints.append(
            {"label": "Handcuffs", "person": None, "box": box,
             "confidence": round(min(0.95, 0.6 + share * 4), 3)}
        )  # fmt: skip
        seen.append("a red metal band")
    logos = []
    if (box := _region(green)) is not None:
        logos.append({"text": "ACME", "box": box})
        seen.append("a green sign")
    persons = []
    for number, raw in _BOX.findall(prompt):
        x, y, w, h = (float(v) for v in raw.split(","))
        H, W = px.shape[:2]
        crop = px[int(y * H) : max(int(y * H) + 1, int((y + h) * H)),
                  int(x * W) : max(int(x * W) + 1, int((x + w) * W))]  # fmt: skip
        colour = _colour_name(crop.reshape(-1, 3).mean(axis=0))
        persons.append({"id": int(number), "clothing": [f"{colour} top"], "actions": ["standing"]})
        if restraints and restraints[0]["person"] is None:
            restraints[0]["person"] = int(number)
    light = "bright" if float(px.mean()) > 127 else "dark"
    what = ", ".join(seen) if seen else "no notable objects"
    return {
        "description": f"A {light} indoor scene with {what}.",
        "objects": ["metal band"] * bool(restraints) + ["sign"] * bool(logos),
        "persons": persons,
        "logos": logos,
        "restraints": restraints,
    }


# ---------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(
            status, {"error": {"message": message, "type": "invalid_request_error"}}, headers
        )

    def do_POST(self) -> None:
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with st.lock:
            if st.away or (st.away_after is not None and st.answered >= st.away_after):
                self.close_connection = True
                self.connection.shutdown(2)  # accepted, then dropped without an answer
                return
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
        try:
            self._answer(raw)
        finally:
            with st.lock:
                st.in_flight -= 1

    def _answer(self, raw: bytes) -> None:
        st = self.server.state
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}")
        if self.headers.get("Authorization") != f"Bearer {st.api_key}":
            return self._error(401, "invalid api key")
        try:
            body = json.loads(raw)
            messages = body["messages"]
            assert isinstance(messages, list)
        except (ValueError, KeyError, AssertionError):
            return self._error(400, "body is not a chat completion request")
        texts, images = [], []
        for m in messages:
            content = m.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
            for part in parts:
                if part.get("type") == "text":
                    texts.append(str(part.get("text", "")))
                elif part.get("type") == "image_url":
                    url = str(part.get("image_url", {}).get("url", ""))
                    try:
                        images.append(_decode_image(url))
                    except ValueError as exc:
                        self._record(body, len(images), 400)
                        return self._error(400, f"invalid image: {exc}")
        rf = body.get("response_format") or {}
        with st.lock:
            fault = st.fail.pop(0) if st.fail else None
            malformed = fault is None and st.malformed > 0
            st.malformed -= malformed
            invalid = not malformed and fault is None and st.invalid > 0
            st.invalid -= invalid
        if fault is not None:
            status, retry_after = fault
            self._record(body, len(images), status)
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
            return self._error(
                status, "server busy" if status == 429 else "internal error", headers
            )
        if not images:
            answer: dict[str, Any] = {"description": "no image", "objects": []}
        else:
            answer = see(images[-1], "\n".join(texts))
        if invalid:
            answer.pop("description", None)
        content = json.dumps(answer)
        if malformed:
            content = content[: len(content) // 2]  # truncated mid-object
        prompt_tokens = sum(len(t) for t in texts) // 4 + 85 * len(images)
        self._record(body, len(images), 200)
        with st.lock:
            st.answered += 1
        self._json(
            200,
            {
                "id": f"chatcmpl-{st.answered}",
                "object": "chat.completion",
                "model": MODEL,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(content) // 4,
                    "total_tokens": prompt_tokens + len(content) // 4,
                },
                "_response_format": rf.get("type"),
            },
        )

    def _record(self, body: dict[str, Any], images: int, status: int) -> None:
        rf = body.get("response_format") or {}
        with self.server.state.lock:
            self.server.state.requests.append(
                Seen(images, rf.get("type"), body.get("max_tokens"), status)
            )


def _decode_image(url: str) -> Image.Image:
    prefix = "data:image/jpeg;base64,"
    if not url.startswith(prefix):
        raise ValueError("expected a data:image/jpeg;base64 URL")
    try:
        data = base64.b64decode(url[len(prefix) :], validate=True)
        img = Image.open(io.BytesIO(data))
        if img.format != "JPEG":
            raise ValueError(f"the data is {img.format}, not JPEG")
        img.load()
    except (binascii.Error, UnidentifiedImageError, OSError) as exc:
        raise ValueError(str(exc)) from exc
    return img


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeVlm:
    """Handle of a running fake: its URL, switches and what it saw."""

    def __init__(self, api_key: str = "test-key") -> None:
        self.state = _State(api_key)
        self._server = _Server(self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def api_key(self) -> str:
        return self.state.api_key

    def start(self) -> FakeVlm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # switches
    def fail_next(self, n: int, status: int, retry_after: float | None = None) -> None:
        with self.state.lock:
            self.state.fail += [(status, retry_after)] * n

    def malformed_next(self, n: int) -> None:
        with self.state.lock:
            self.state.malformed += n

    def invalid_next(self, n: int) -> None:
        with self.state.lock:
            self.state.invalid += n

    def go_away(self) -> None:
        with self.state.lock:
            self.state.away = True

    def go_away_after(self, answers: int) -> None:
        """Answer ``answers`` more requests normally, then drop every connection."""
        with self.state.lock:
            self.state.away_after = self.state.answered + answers

    def come_back(self) -> None:
        with self.state.lock:
            self.state.away = False
            self.state.away_after = None

    @property
    def answered(self) -> int:
        with self.state.lock:
            return self.state.answered

    @property
    def max_in_flight(self) -> int:
        with self.state.lock:
            return self.state.max_in_flight

    @property
    def requests(self) -> list[Seen]:
        with self.state.lock:
            return list(self.state.requests)


@contextmanager
def running(api_key: str = "test-key") -> Iterator[FakeVlm]:
    fake = FakeVlm(api_key).start()
    try:
        yield fake
    finally:
        fake.stop()
