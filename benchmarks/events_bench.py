"""Event outbox throughput: emits/s (serialised writers), webhook deliveries/s, AMQP publishes/s.

    python benchmarks/events_bench.py [--events N] [--writers W] [--postgres-url URL]
                                      [--amqp-url URL]

Per database (SQLite WAL file, throw-away PostgreSQL database):

* ``emit/s``: W threads each commit N/W transactions of one ``job.failed`` event (the
  advisory lock serialises them on PostgreSQL; SQLite serialises every writer);
* ``deliver/s``: N events fanned out to one webhook and POSTed, signed, to a local
  HTTP receiver that answers 204 (one attempt each);
* ``amqp/s``: N events published with publisher confirms to a fresh exchange on the
  local RabbitMQ (skipped with the reason when it is not reachable).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.common import DEFAULT_PG, say, table, temporary_pg_database


@contextmanager
def receiver() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def scenario(name: str, db_url: str, n: int, writers: int, amqp_url: str) -> dict[str, object]:
    from aima.core.errors import AimaError
    from aima.core.settings import Settings
    from aima.runtime import build_runtime
    from aima.services.access import Principal
    from aima.services.amqp_events import AmqpPublisher
    from aima.store.events import emit

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            env="test",
            data_dir=Path(tmp) / "data",
            database_url=db_url,
            auth={"jwt_secret": "bench-" + "x" * 40},
            audit={"key_file": Path(tmp) / "keys" / "audit.key"},
            events={"webhook_allow_private": True},
            log_level="ERROR",
        )
        rt = build_runtime(settings)
        try:
            owner = rt.users.create(
                Principal(None, "bench", "admin", "cli"), "b", "b" * 16, "admin"
            )
            per = n // writers

            def write() -> None:
                for _ in range(per):
                    with rt.db.session() as s:
                        emit(s, "job.failed", subject="job:x", payload={"job_id": "x"})

            threads = [threading.Thread(target=write) for _ in range(writers)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            emit_s = time.perf_counter() - t0

            principal = Principal(owner.id, "b", "admin")
            with receiver() as url:
                rt.webhooks.create(principal, url, ["job.*"])
                # events of no job: visible to nobody; deliver everything to an admin hook
                from aima.services import webhooks as wh

                original = wh._may_see
                wh._may_see = lambda *_a: True  # measure delivery, not the visibility query
                try:
                    t0 = time.perf_counter()
                    report = rt.webhooks.deliver_due()
                    deliver_s = time.perf_counter() - t0
                finally:
                    wh._may_see = original
            amqp: object = "skipped"
            try:
                pub = AmqpPublisher(rt.db, amqp_url, f"aima.bench.{uuid.uuid4().hex[:8]}")
                t0 = time.perf_counter()
                published = pub.publish_pending()
                amqp = f"{published / (time.perf_counter() - t0):.0f}"
                pub.close()
            except AimaError as exc:
                say(f"AMQP skipped: {exc}")
            return {
                "database": name,
                "events": per * writers,
                "writers": writers,
                "emit/s": f"{per * writers / emit_s:.0f}",
                "delivered": report.delivered,
                "deliver/s": f"{report.delivered / deliver_s:.0f}",
                "amqp/s": amqp,
            }
        finally:
            rt.close()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--postgres-url", default=DEFAULT_PG)
    ap.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(
            scenario("sqlite", f"sqlite:///{tmp}/b.db", args.events, args.writers, args.amqp_url)
        )
    with temporary_pg_database(args.postgres_url) as url:
        rows.append(scenario("postgres", url, args.events, args.writers, args.amqp_url))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
