"""Webhooks through the real app: a real HTTP receiver on 127.0.0.1, real signatures,
retries on an injected clock, replay, no events of other users, the SSRF guard."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aima.api.app import create_app
from aima.core.clock import utcnow
from aima.runtime import Runtime
from aima.services.access import Principal
from tests.api.helpers import Account, Api, TestClient


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: answers the scripted statuses in turn (the last one repeats)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    url: str = ""
    on_request: Callable[[], None] | None = None

    def answer(self) -> int:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(rec.answer())
            self.send_header("Content-Length", "0")
            self.end_headers()
            if rec.on_request is not None:
                rec.on_request()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://localhost:{server.server_address[1]}/hook"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def make_api(make_runtime: Callable[..., Runtime]) -> Iterator[Callable[..., tuple[Api, Clock]]]:
    clients: list[TestClient] = []

    def make(allow_private: bool = True) -> tuple[Api, Clock]:
        rt = make_runtime(
            events={
                "webhook_allow_private": allow_private,
                "webhook_max_attempts": 3,
                "webhook_backoff_base_s": 60,
                "webhook_backoff_max_s": 600,
            }
        )
        clock = Clock()
        rt.webhooks.clock = clock
        client = TestClient(create_app(rt, start_workers=False))
        client.__enter__()
        clients.append(client)
        return Api(rt, client), clock

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _subscribe(api: Api, caller: Account, url: str, events: list[str] | None = None) -> Any:
    r = api.client.post(
        "/api/v1/webhooks", json={"url": url, "events": events or ["job.*"]}, headers=caller.headers
    )
    assert r.status_code == 201, r.text
    return r.json()


def _run_one_job(api: Api, caller: Account, data: bytes) -> str:
    r = api.upload(caller, [("photo.jpg", data)])
    assert r.status_code in (200, 201), r.text
    assert api.run_jobs() == 1  # the worker's after_job pumps the outbox to the webhooks
    [item] = r.json()["files"]
    job_id: str = item["job_id"]
    return job_id


def _deliveries(api: Api, caller: Account, hook_id: str) -> list[dict[str, Any]]:
    r = api.client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=caller.headers)
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def _verify(secret: str, got: Received) -> dict[str, Any]:
    ts = got.headers["x-aima-timestamp"]
    expected = hmac.new(secret.encode(), ts.encode() + b"." + got.body, hashlib.sha256)
    assert hmac.compare_digest(got.headers["x-aima-signature"], "sha256=" + expected.hexdigest())
    doc: dict[str, Any] = json.loads(got.body)
    assert got.headers["x-aima-event"] == doc["event"]
    return doc


def test_signed_delivery_retried_after_500_then_delivered(
    make_api: Callable[..., tuple[Api, Clock]], receiver: Receiver, samples: dict[str, bytes]
) -> None:
    api, clock = make_api()
    alice = api.user("uploader", "alice")
    hook = _subscribe(api, alice, receiver.url)
    assert len(hook["secret"]) >= 32
    listed = api.client.get("/api/v1/webhooks", headers=alice.headers).json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    receiver.statuses = [500, 200]
    job_id = _run_one_job(api, alice, samples["jpeg"])
    assert len(receiver.received) == 1
    [d] = _deliveries(api, alice, hook["id"])
    assert (d["state"], d["attempts"], d["last_status"]) == ("pending", 1, 500)

    api.runtime.webhooks.deliver_due()  # not due yet: the backoff holds it
    assert len(receiver.received) == 1
    clock.advance(61)
    report = api.runtime.webhooks.deliver_due()
    assert report.delivered == 1
    assert len(receiver.received) == 2
    [d] = _deliveries(api, alice, hook["id"])
    assert (d["state"], d["attempts"], d["last_status"]) == ("delivered", 2, 200)
    assert d["event"] == "job.succeeded"

    first, second = receiver.received
    assert first.body == second.body  # the same event, the same id: receivers de-duplicate
    doc = _verify(hook["secret"], second)
    assert doc["data"]["job_id"] == job_id and doc["data"]["state"] == "succeeded"
    assert second.headers["x-aima-delivery"] == str(d["id"])
    assert "photo.jpg" not in second.body.decode()
    tampered = Received(second.headers, second.body.replace(b"succeeded", b"failed"))
    with pytest.raises(AssertionError):
        _verify(hook["secret"], tampered)


def test_always_500_fails_after_max_attempts_then_replay_delivers(
    make_api: Callable[..., tuple[Api, Clock]], receiver: Receiver, samples: dict[str, bytes]
) -> None:
    api, clock = make_api()
    alice = api.user("analyst", "alice")
    hook = _subscribe(api, alice, receiver.url)
    receiver.statuses = [500]
    _run_one_job(api, alice, samples["jpeg"])
    for _ in range(5):
        clock.advance(601)
        api.runtime.webhooks.deliver_due()
    assert len(receiver.received) == 3  # webhook_max_attempts, then no more
    [d] = _deliveries(api, alice, hook["id"])
    assert (d["state"], d["attempts"], d["last_status"]) == ("failed", 3, 500)
    failed = api.client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries?state=failed", headers=alice.headers
    ).json()
    assert [x["id"] for x in failed] == [d["id"]]

    receiver.statuses = [204]
    r = api.client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{d['id']}/replay", headers=alice.headers
    )
    assert r.status_code == 202, r.text  # sent by a background task right after the answer
    assert len(receiver.received) == 4
    _verify(hook["secret"], receiver.received[-1])
    [d] = _deliveries(api, alice, hook["id"])
    assert (d["state"], d["last_status"]) == ("delivered", 204)


def test_events_reach_only_owners_who_may_see_them(
    make_api: Callable[..., tuple[Api, Clock]], receiver: Receiver, samples: dict[str, bytes]
) -> None:
    api, _clock = make_api()
    alice = api.user("uploader", "alice")
    bob = api.user("uploader", "bob")
    admin = api.user("admin", "root")
    bob_hook = _subscribe(api, bob, receiver.url, ["*"])
    admin_hook = _subscribe(api, admin, receiver.url + "?admin=1", ["job.succeeded"])
    job_id = _run_one_job(api, alice, samples["jpeg"])

    assert _deliveries(api, bob, bob_hook["id"]) == []  # alice's job is not bob's business
    [d] = _deliveries(api, admin, admin_hook["id"])  # roles that see every job get it
    assert d["state"] == "delivered"
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0].body)["data"]["job_id"] == job_id

    # someone else's webhook is "not found", for reading and for deleting
    r = api.client.get(f"/api/v1/webhooks/{admin_hook['id']}/deliveries", headers=bob.headers)
    assert r.status_code == 404
    r = api.client.delete(f"/api/v1/webhooks/{bob_hook['id']}", headers=alice.headers)
    assert r.status_code == 404
    assert len(api.client.get("/api/v1/webhooks", headers=admin.headers).json()) == 2
    r = api.client.delete(f"/api/v1/webhooks/{bob_hook['id']}", headers=bob.headers)
    assert r.status_code == 204
    viewer = api.user("viewer", "vic")
    r = api.client.get("/api/v1/webhooks", headers=viewer.headers)
    assert r.status_code == 403


def test_bad_subscriptions_are_refused(make_api: Callable[..., tuple[Api, Clock]]) -> None:
    api, _clock = make_api()
    alice = api.user("uploader", "alice")
    for body, needle in (
        ({"url": "ftp://example.org/x"}, "http"),
        ({"url": "http://user:pw@example.org/x"}, "credentials"),
        ({"url": "https://example.org/x", "events": ["job.exploded"]}, "unknown event"),
    ):
        r = api.client.post("/api/v1/webhooks", json=body, headers=alice.headers)
        assert r.status_code == 422, r.text
        assert needle in r.text


def test_loopback_destination_refused_unless_allowed(
    make_api: Callable[..., tuple[Api, Clock]], receiver: Receiver, samples: dict[str, bytes]
) -> None:
    api, _clock = make_api(allow_private=False)
    alice = api.user("uploader", "alice")
    hook = _subscribe(api, alice, receiver.url)  # localhost: checked after DNS resolution
    _run_one_job(api, alice, samples["jpeg"])
    assert receiver.received == []
    [d] = _deliveries(api, alice, hook["id"])
    assert d["state"] == "failed" and d["attempts"] == 1
    assert "loopback" in d["last_error"] and "WEBHOOK_ALLOW_PRIVATE" in d["last_error"]


def test_embedded_pump_thread_delivers_without_a_job_finishing(
    make_runtime: Callable[..., Runtime], receiver: Receiver, samples: dict[str, bytes]
) -> None:
    """``aima serve`` pumps in a thread: a replay (or a due retry) goes out on its own."""
    rt = make_runtime(events={"webhook_allow_private": True, "poll_interval_s": 0.05})
    with TestClient(create_app(rt, start_workers=False)) as client:
        api = Api(rt, client)
        alice = api.user("uploader", "alice")
        hook = _subscribe(api, alice, receiver.url)
        _run_one_job(api, alice, samples["jpeg"])  # no thread yet: pumped inline
        assert len(receiver.received) == 1
        [d] = _deliveries(api, alice, hook["id"])
        arrived = threading.Event()
        receiver.on_request = arrived.set
        rt.events.start()
        try:
            rt.webhooks.replay(Principal(alice.user_id, "alice", "uploader"), hook["id"], d["id"])
            assert arrived.wait(60)  # no request, no job: the thread sent it
        finally:
            rt.events.stop()
