"""``aima events``: hand the event outbox on (webhooks, AMQP) from the command line.

Workers do this after every job and ``aima serve`` every few seconds; these commands
are for deployments that run the dispatcher as its own process, and for catching up.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from aima.cli.common import console, fail, guarded, print_json, runtime
from aima.store.events import max_id, read_cursor

events_app = typer.Typer(
    help="Domain events: webhooks and the AMQP exchange.", no_args_is_help=True
)


@events_app.command("dispatch")
def dispatch_cmd(
    loop: Annotated[
        bool, typer.Option("--loop", help="keep dispatching until interrupted")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fan new events out to webhooks and send every delivery that is due."""
    rt = runtime(long_running=loop)
    stop = threading.Event()
    if loop:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while True:
            r = guarded(rt.webhooks.deliver_due)
            data = {
                "fanned_out": r.fanned_out,
                "delivered": r.delivered,
                "retrying": r.retrying,
                "failed": r.failed,
            }
            if as_json:
                print_json(data)
            elif not loop or any(data.values()):
                console.print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in data.items()))
            if not loop:
                return
            try:
                if stop.wait(rt.settings.events.poll_interval_s):
                    return
            except KeyboardInterrupt:
                return
    finally:
        rt.close()


@events_app.command("publish")
def publish_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Publish events past the AMQP cursor to ``events.amqp_exchange`` (with confirms)."""
    rt = runtime()
    try:
        if rt.events.amqp is None:
            fail("AMQP is not configured; set AIMA_EVENTS__AMQP_URL=amqp://user:pass@host:5672/")
        amqp = rt.events.amqp
        published = guarded(amqp.publish_pending)
        cursor = read_cursor(rt.db, amqp.cursor_name)
        with rt.db.session() as s:
            top = max_id(s)
        data = {"published": published, "cursor": cursor, "outbox_max_id": top}
        if as_json:
            print_json(data)
        else:
            console.print(f"published {published} event(s) to {amqp.exchange!r}; cursor {cursor}")
    finally:
        rt.close()
