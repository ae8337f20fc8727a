"""A real local Ray cluster for tests and benchmarks: a head and worker nodes, each a process.

Every node is started by ``ray start --block`` in its own session, so everything that
node runs (raylet, agents, actor processes) can be found by session id and stopped
without touching any other Ray on the machine (no ``ray stop``). Ray's session files
and logs go to a short private temp dir (Unix socket paths are limited to ~107 bytes).

The cluster uses Ray's token authentication with a token of its own, set in the nodes'
environment and (``driver_env``) in the process that connects to it: nothing is read
from or written to ``~/.ray``, whatever another Ray on the machine left there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
REPO = Path(__file__).resolve().parents[2]
# node loss is noticed after ~3 missed 1 s health checks (Ray's default is slower)
HEAD_CONFIG = '{"health_check_period_ms": 1000, "health_check_failure_threshold": 3}'
STORE_BYTES = 100_000_000  # keep each node's object store small


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def session_pids(sid: int) -> list[int]:
    """Live processes of a session (what one ``ray start`` started, actors included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after "pid (comm)": state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def kill_session(sid: int, sig: int = signal.SIGKILL) -> None:
    for pid in session_pids(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _reload_auth() -> None:
    from ray._private.authentication_test_utils import reset_auth_token_state

    reset_auth_token_state()


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 180.0) -> None:
    """Until ``condition()`` holds; fails naming ``what`` after a generous timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class LocalRayCluster:
    """``ray start --head`` plus worker nodes on 127.0.0.1; ``stop()`` ends all of them."""

    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ar", dir="/tmp")))
    port: int = field(default_factory=_free_port)
    head: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def auth_env(self) -> dict[str, str]:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    @contextmanager
    def driver_env(self) -> Iterator[None]:
        """This process's environment while it talks to the cluster (restored afterwards)."""
        saved = {k: os.environ.get(k) for k in (*self.auth_env, "RAY_AUTH_TOKEN_PATH")}
        os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
        os.environ.update(self.auth_env)
        _reload_auth()  # Ray caches the mode and token per process
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            _reload_auth()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _start(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.temp_dir / log_name).open("wb")
        # actors import aima from this venv, and test plug-ins (tests.plugins) from the repo
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=path, **self.auth_env)
        env.pop("RAY_AUTH_TOKEN_PATH", None)
        common = ["--block", "--num-cpus", "1", "--disable-usage-stats"]
        common += ["--temp-dir", str(self.temp_dir), "--object-store-memory", str(STORE_BYTES)]
        return subprocess.Popen(
            [RAY, "start", *args, *common],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: found and stopped by session id
            env=env,
        )

    def start_head(self) -> None:
        self.head = self._start(
            [
                "--head",
                "--port",
                str(self.port),
                "--include-dashboard=false",
                "--system-config",
                HEAD_CONFIG,
            ],
            "head.log",
        )

    def add_worker(self) -> subprocess.Popen[bytes]:
        proc = self._start(["--address", self.address], f"worker{len(self.workers)}.log")
        self.workers.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen[bytes]) -> None:
        """The node is lost: its raylet, agents and actor processes die at once."""
        kill_session(proc.pid)
        proc.wait(30)

    def log_tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.temp_dir.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        procs = [*self.workers, *([self.head] if self.head else [])]
        for proc in procs:
            kill_session(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(session_pids(p.pid) for p in procs):
            time.sleep(0.2)
        for proc in procs:
            kill_session(proc.pid)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.temp_dir, ignore_errors=True)
