"""Uploads are refused before their body is read (anonymous, declared too large) and cut off
as soon as a streamed body passes the limit.

A real server (`aima serve`) and a raw socket client: the client sends the request head and
then waits for the answer *before sending any body*, so an answer proves nothing was spooled.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.web.conftest import start_serve

pytestmark = pytest.mark.reliability

MAX_BYTES = 1024 * 1024  # AIMA_LIMITS__MAX_BYTES for this server
ENVELOPE = 16 * 1024 * 1024
WAIT_S = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    root = tmp_path_factory.mktemp("guard")
    data = root / "data"
    data.mkdir()
    proc, url = start_serve(
        data, f"sqlite:///{data / 'aima.db'}", {"AIMA_LIMITS__MAX_BYTES": str(MAX_BYTES)}
    )
    try:
        password = (data / "first-admin-password.txt").read_text().strip()
        token = httpx.post(
            f"{url}/api/v1/auth/login",
            json={"username": "admin", "password": password},
            timeout=60,
        ).json()["access_token"]
        yield url, data, token
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _connect(url: str) -> socket.socket:
    u = urlparse(url)
    return socket.create_connection((u.hostname or "127.0.0.1", u.port or 80), timeout=WAIT_S)


def _head(url: str, headers: dict[str, str]) -> bytes:
    lines = ["POST /api/v1/media HTTP/1.1", f"Host: {urlparse(url).netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def _answer_before_body(url: str, headers: dict[str, str]) -> int:
    with _connect(url) as sock:
        sock.sendall(_head(url, headers))
        readable, _, _ = select.select([sock], [], [], WAIT_S)
        assert readable, "the server waited for the body instead of answering"
        return _status(sock)


MULTIPART = "multipart/form-data; boundary=xyz"


def test_anonymous_upload_is_refused_before_the_body(server: tuple[str, Path, str]) -> None:
    url, _, _ = server
    code = _answer_before_body(url, {"Content-Type": MULTIPART, "Content-Length": str(2 * 1024**3)})
    assert code == 401


def test_declared_oversize_upload_is_refused_before_the_body(
    server: tuple[str, Path, str],
) -> None:
    url, _, token = server
    code = _answer_before_body(
        url,
        {
            "Content-Type": MULTIPART,
            "Content-Length": str(5 * 1024**3),
            "Authorization": f"Bearer {token}",
        },
    )
    assert code == 413


def test_a_streamed_upload_is_cut_off_at_the_limit(server: tuple[str, Path, str]) -> None:
    url, data, token = server
    limit = MAX_BYTES + ENVELOPE
    cap = 4 * limit
    piece = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n\r\n'
    block = b"\0" * 65536
    sent = 0
    with _connect(url) as sock:
        sock.sendall(
            _head(
                url,
                {
                    "Content-Type": MULTIPART,
                    "Transfer-Encoding": "chunked",
                    "Authorization": f"Bearer {token}",
                },
            )
        )
        sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        answered = False
        try:
            while sent < cap:
                sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                sent += len(block)
                if select.select([sock], [], [], 0)[0]:
                    answered = True
                    break
        except (BrokenPipeError, ConnectionResetError):
            answered = True  # the server closed the connection after answering
        if not answered:
            assert select.select([sock], [], [], WAIT_S)[0], "no answer after the cap"
        assert _status(sock) == 413
    assert sent < cap
    spool = data / "tmp"
    leftovers = [p for p in spool.rglob("*") if p.is_file()] if spool.exists() else []
    assert leftovers == []
