"""A corpus of hostile files is refused whole: by `aima ingest` and by the upload API.

The corpus (``hostile_corpus.py``, generated at test time) holds truncated media, wrong magic
numbers, pixel bombs, playlists and concat scripts, MP4/MOV with external data references,
SVG, polyglots, zip bombs, absurd durations/sample and stream counts and hostile names. Every
reference in it points at a canary file beside the uploads or at a local HTTP server.

"0 reads outside the upload" is checked, not assumed: the CLI runs under ``strace -f`` (every
``open``/``openat``/``execve``/``connect`` of the CLI and of the ffmpeg/ffprobe it starts,
failed attempts included) and, inside Python, under an audit hook (``sys.addaudithook``)
that logs every ``open`` and ``subprocess.Popen``. Without strace the audit hook and the
ffmpeg/ffprobe argument check remain (the figure line says which evidence was used).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from aima.api.app import create_app
from aima.runtime import Runtime, build_runtime
from aima.services.ingest import display_name
from aima.store.models import Job, Media
from tests.api.helpers import Api
from tests.conftest import TEST_SECRET, make_settings
from tests.reliability.conftest import figure
from tests.reliability.hostile_corpus import Hostile, build_corpus

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
AUDITED_CLI = r"""
import json, sys
log = open(sys.argv[1], "a", buffering=1)
busy = False

def hook(event, args):
    global busy
    if busy or event not in ("open", "subprocess.Popen", "socket.connect"):
        return
    busy = True
    try:
        if event == "open":
            record = {"event": "open", "path": args[0] if isinstance(args[0], str) else repr(args[0])}
        elif event == "subprocess.Popen":
            record = {"event": "exec", "args": [str(a) for a in (args[1] or [args[0]])]}
        else:
            record = {"event": "connect", "address": repr(args[1])}
        log.write(json.dumps(record) + "\n")
    finally:
        busy = False

sys.addaudithook(hook)
sys.argv = ["aima", *sys.argv[2:]]
from aima.cli import main
main()
"""


class _Listener(ThreadingHTTPServer):
    """An HTTP server that counts every connection it accepts (a request or not)."""

    connections = 0

    def get_request(self) -> Any:
        self.connections += 1
        return super().get_request()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class Corpus:
    root: Path
    canary: Path
    files: list[Hostile]
    listener: _Listener


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    root = tmp_path_factory.mktemp("hostile")
    canary = root / "canary.secret"
    canary.write_text("CANARY: nothing may read this file\n")
    listener = _Listener(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{listener.server_address[1]}"
        files = build_corpus(root / "uploads", canary, url, root / "scratch")
        yield Corpus(root, canary, files, listener)
    finally:
        listener.shutdown()
        listener.server_close()


def _count(rt: Runtime, model: Any) -> int:
    with rt.db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _stored_files(data: Path) -> list[Path]:
    """Files left in the library (blobs, spool) apart from the database and its journals."""
    return [
        p
        for p in data.rglob("*")
        if p.is_file() and not p.name.startswith("aima.db") and "keys" not in p.parts
    ]


def _assert_clear(outcome: dict[str, Any], item: Hostile, root: Path) -> None:
    assert outcome["status"] == "rejected", (item.path.name, item.why, outcome)
    error = outcome["error"] or {}
    assert error.get("code") in ("media_rejected", "payload_too_large"), (item.why, error)
    message = str(error.get("message", ""))
    assert len(message) > 20, (item.why, message)
    assert str(root) not in json.dumps(error), f"{item.why}: a server path leaks: {error}"


# ------------------------------------------------------------------------ trace parsing
_SYSCALL = re.compile(r"^\d+\s+(open|openat|openat2|creat|execve|connect)\((.*)$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unescape(text: str) -> str:
    return (
        text.encode("latin-1", "backslashreplace")
        .decode("unicode_escape")
        .encode("latin-1")
        .decode("utf-8", "replace")
    )


def strace_events(trace: Path) -> list[tuple[str, str]]:
    """(syscall, first string argument or the whole call) from an ``strace -f`` log."""
    events = []
    for line in trace.read_text(errors="replace").splitlines():
        m = _SYSCALL.match(line)
        if not m:
            continue
        call, rest = m.groups()
        q = _QUOTED.search(rest)
        events.append((call, _unescape(q.group(1)) if q and call != "connect" else rest))
    return events


def outside_reads(paths: list[str], corpus: Corpus, allowed: list[Path]) -> list[str]:
    """Paths under the corpus root that are neither an upload nor the library."""
    root = str(corpus.root)
    uploads = {str(h.path) for h in corpus.files}
    bad = []
    for path in paths:
        if not path.startswith(root) or path in uploads:
            continue
        if any(path == str(a) or path.startswith(str(a) + os.sep) for a in allowed):
            continue
        bad.append(path)
    return bad


def test_cli_ingest_refuses_every_file_and_reads_nothing_else(corpus: Corpus) -> None:
    files = corpus.files
    assert len(files) >= 40
    run = corpus.root / "cli"
    data = run / "data"
    audit_log, trace = run / "audit.jsonl", run / "strace.log"
    run.mkdir()
    script = run / "audited_cli.py"
    script.write_text(AUDITED_CLI)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIMA_")}
    env.update(
        {
            "AIMA_ENV": "test",
            "AIMA_DATA_DIR": str(data),
            "AIMA_DATABASE_URL": f"sqlite:///{data}/aima.db",
            "AIMA_AUTH__JWT_SECRET": TEST_SECRET,
            "AIMA_AUDIT__KEY_FILE": str(run / "keys" / "audit.key"),
            "AIMA_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        }
    )
    cmd = [sys.executable, str(script), str(audit_log), "ingest", "--no-analyze", "--json"]
    cmd += [str(h.path) for h in files]
    strace = shutil.which("strace")
    if strace:
        cmd = [strace, "-f", "-qq", "-s", "4096", "-o", str(trace),
               "-e", "trace=open,openat,openat2,creat,execve,connect", *cmd]  # fmt: skip
    done = subprocess.run(cmd, env=env, cwd=run, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    outcomes = json.loads(done.stdout)
    by_name = {o["name"]: o for o in outcomes}
    assert len(outcomes) == len(files), sorted(by_name)
    for item in files:
        _assert_clear(by_name[display_name(item.path.name)], item, corpus.root)

    rt = build_runtime(
        make_settings(data, f"sqlite:///{data}/aima.db", audit={"key_file": run / "keys" / "k"})
    )
    try:
        stored = _count(rt, Media) + _count(rt, Job)
    finally:
        rt.close()
    leftovers = _stored_files(data)
    assert stored == 0 and leftovers == [], leftovers
    assert not (run / "pwned").exists() and not (corpus.root / "uploads" / "pwned").exists()

    # what Python itself opened and started
    records = [json.loads(line) for line in audit_log.read_text().splitlines()]
    opened = [r["path"] for r in records if r["event"] == "open"]
    allowed = [run]  # the CLI's working directory: its library, keys, this script and logs
    outside = outside_reads(opened, corpus, allowed)
    uploads = {str(h.path) for h in files}
    tools = [r["args"] for r in records if r["event"] == "exec"]
    assert tools, "no ffprobe/ffmpeg ran: the corpus exercises nothing past sniffing"
    for args in tools:
        assert Path(args[0]).name in ("ffmpeg", "ffprobe"), args
        inputs = [args[i + 1] for i, a in enumerate(args) if a == "-i"]
        assert len(inputs) == 1 and inputs[0].removeprefix("file:") in uploads, args
        at = args.index("-protocol_whitelist")
        assert args[at + 1] == "file" and args.index("-f") < args.index("-i"), args
    evidence = "audit hook"
    connects = [r for r in records if r["event"] == "connect"]
    if strace:  # every process, ffmpeg/ffprobe included, failed attempts included
        events = strace_events(trace)
        traced = [arg for call, arg in events if call in ("open", "openat", "openat2", "creat")]
        outside += outside_reads(traced, corpus, allowed)
        connects += [
            {"address": arg} for call, arg in events if call == "connect" and "AF_UNIX" not in arg
        ]
        assert len(traced) > len(opened), "strace saw fewer opens than the audit hook"
        evidence = "strace -f + audit hook"
    canary_reads = [p for p in outside if p == str(corpus.canary)]
    assert canary_reads == [] and outside == [], outside
    assert connects == [] and corpus.listener.connections == 0, connects

    figure(
        f"hostile corpus (aima ingest): {len(files)} files, "
        f"{sum(o['status'] == 'rejected' for o in outcomes)} rejected, {stored} stored, "
        f"{len(outside)} outside reads, {len(canary_reads)} canary reads, "
        f"{corpus.listener.connections + len(connects)} network connections, "
        f"{len(tools)} ffmpeg/ffprobe runs checked ({evidence})"
    )


def test_api_upload_refuses_every_file(corpus: Corpus, tmp_path: Path) -> None:
    """Through the real app (SQLite: a rejection writes nothing but an audit event)."""
    db_url = f"sqlite:///{tmp_path / 'aima.db'}"
    rt = build_runtime(make_settings(tmp_path / "data", db_url))
    statuses: dict[int, int] = {}
    try:
        with TestClient(create_app(rt, start_workers=False)) as client:
            api = Api(rt, client)
            admin = api.user("admin")
            for item in corpus.files:
                r = api.upload(admin, [(item.path.name, item.path.read_bytes())])
                assert r.status_code in (413, 415), (item.why, r.status_code, r.text[:300])
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                body = r.json()
                assert (body["created"], body["duplicates"], body["rejected"]) == (0, 0, 1)
                _assert_clear(body["files"][0], item, corpus.root)
                assert str(tmp_path) not in r.text
        stored = _count(rt, Media) + _count(rt, Job)
    finally:
        rt.close()
    leftovers = _stored_files(tmp_path / "data")
    assert stored == 0 and leftovers == [], leftovers
    assert corpus.listener.connections == 0
    backend = db_url.split(":", 1)[0].split("+")[0]
    figure(
        f"hostile corpus (upload API, {backend}): {len(corpus.files)} files, "
        f"{sum(statuses.values())} rejected ({', '.join(f'{n}x{s}' for s, n in sorted(statuses.items()))}), "
        f"{stored} stored, {corpus.listener.connections} network connections"
    )
