"""Webhooks: users subscribe a URL to event kinds; events are POSTed to it, HMAC-signed.

Two idempotent steps, both driven by the database:

* **fan-out** reads the event outbox past the ``webhooks`` cursor and creates one
  delivery row per (subscribed webhook, event) whose owner may see the event's subject,
  advancing the cursor in the same transaction (a crash repeats nothing and skips
  nothing; the unique (webhook, event) pair makes a repeat harmless anyway);
* **delivery** takes due deliveries one at a time under a short lease (a conditional
  update of ``next_attempt_at``, so two dispatchers never send one delivery at once),
  POSTs the signed envelope and records the answer: 2xx delivered, anything else retried
  with exponential backoff until ``webhook_max_attempts``, then ``failed``. Replay
  queues one delivery again.

Destinations are resolved at delivery time and refused when any address is loopback,
private, link-local or otherwise not globally routable, unless ``webhook_allow_private``;
the request then goes to the address that was checked (no second DNS lookup to rebind).
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from aima.core.clock import utcnow
from aima.core.errors import AimaError, Forbidden, InvalidInput, NotFound
from aima.core.ids import new_id
from aima.core.settings import EventsSettings
from aima.security.permissions import Permission, has_permission
from aima.services.access import Principal, visible_jobs, visible_media
from aima.store import events
from aima.store.db import Database
from aima.store.models import EventOutbox, Job, Media, User, Webhook, WebhookDelivery

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CURSOR = "webhooks"
FAN_OUT_BATCH = 500
LEASE_SLACK_S = 30.0  # a claimed delivery is due again after timeout + this (sender died)
STATES = ("pending", "delivered", "failed")


class DestinationRefused(AimaError):
    """The webhook's host resolves to an address deliveries may not reach (SSRF guard)."""

    status = 422


@dataclass(frozen=True, slots=True)
class DispatchReport:
    fanned_out: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>.<body>"`` with the webhook's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def matches(patterns: Sequence[str], kind: str) -> bool:
    """``[]`` or ``"*"``: every kind; ``"job.*"``: a family; otherwise the exact kind."""
    if not patterns:
        return True
    for p in patterns:
        if p == "*" or p == kind or (p.endswith(".*") and kind.startswith(p[:-1])):
            return True
    return False


def _check_patterns(patterns: Sequence[str]) -> list[str]:
    families = {k.split(".")[0] for k in events.KINDS}
    out: list[str] = []
    for p in patterns:
        ok = p == "*" or p in events.KINDS or (p.endswith(".*") and p[:-2] in families)
        if not ok:
            raise InvalidInput(
                f"unknown event {p!r}; use one of {', '.join(events.KINDS)}, "
                f"a family such as 'job.*', or '*'"
            )
        out.append(p)
    return sorted(set(out))


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"webhook url {url!r} must be an absolute http:// or https:// URL")
    if parts.username or parts.password:
        raise InvalidInput("webhook url must not carry credentials; the payload is signed")
    return url


def resolve_destination(url: str, *, allow_private: bool) -> builtins.list[str]:
    """The addresses of the URL's host, every one allowed; raises DestinationRefused."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DestinationRefused(f"webhook host {host!r} does not resolve: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for a in addresses:
            ip = ipaddress.ip_address(a.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise DestinationRefused(
                    f"webhook host {host!r} resolves to {a}, a loopback, private or link-local "
                    "address; set AIMA_EVENTS__WEBHOOK_ALLOW_PRIVATE=true to allow it"
                )
    if not addresses:
        raise DestinationRefused(f"webhook host {host!r} has no address")
    return addresses


class WebhookService:
    def __init__(
        self,
        db: Database,
        settings: EventsSettings,
        *,
        clock: Clock = utcnow,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._transport = transport
        self._lock = threading.Lock()  # one dispatch round per process at a time

    # ------------------------------------------------------------------ management
    def create(
        self,
        principal: Principal,
        url: str,
        kinds: Sequence[str] = (),
        *,
        project: str | None = None,
    ) -> tuple[Webhook, str]:
        """A new subscription and its signing secret (returned here only, never again)."""
        principal.require(Permission.WEBHOOKS_MANAGE)
        if principal.user_id is None:
            raise InvalidInput("webhooks belong to a user; create them through the API")
        secret = secrets.token_urlsafe(32)
        hook = Webhook(
            id=new_id("whk"),
            owner_id=principal.user_id,
            project=project,
            url=_check_url(url),
            secret=secret,
            events=_check_patterns(kinds),
            active=True,
            created_at=self.clock(),
        )
        with self.db.session() as s:
            s.add(hook)
        return hook, secret

    def list(self, principal: Principal) -> builtins.list[Webhook]:
        principal.require(Permission.WEBHOOKS_MANAGE)
        query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
        if not principal.can(Permission.USERS_MANAGE):
            query = query.where(Webhook.owner_id == principal.user_id)
        with self.db.session() as s:
            return list(s.execute(query).scalars())

    def get(self, principal: Principal, webhook_id: str) -> Webhook:
        with self.db.session() as s:
            return self._own(s, principal, webhook_id)

    def delete(self, principal: Principal, webhook_id: str) -> None:
        with self.db.session() as s:
            s.delete(self._own(s, principal, webhook_id))

    def deliveries(
        self,
        principal: Principal,
        webhook_id: str,
        *,
        state: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[tuple[WebhookDelivery, str]]:
        """The delivery log, newest first: (delivery, event kind)."""
        if state is not None and state not in STATES:
            raise InvalidInput(f"unknown delivery state {state!r}; use one of {', '.join(STATES)}")
        with self.db.session() as s:
            self._own(s, principal, webhook_id)
            query = (
                select(WebhookDelivery, EventOutbox.kind)
                .join(EventOutbox, EventOutbox.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.webhook_id == webhook_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
                .offset(offset)
            )
            if state is not None:
                query = query.where(WebhookDelivery.state == state)
            return [(d, str(k)) for d, k in s.execute(query).all()]

    def replay(
        self, principal: Principal, webhook_id: str, delivery_id: int
    ) -> tuple[WebhookDelivery, str]:
        """Queue one delivery again (delivered or failed alike), with a fresh set of attempts."""
        with self.db.session() as s:
            self._own(s, principal, webhook_id)
            row = s.execute(
                select(WebhookDelivery, EventOutbox.kind)
                .join(EventOutbox, EventOutbox.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook_id)
            ).first()
            if row is None:
                raise NotFound(f"delivery {delivery_id} of webhook {webhook_id} not found")
            delivery, kind = row
            delivery.state = "pending"
            delivery.attempts = 0
            delivery.next_attempt_at = self.clock()
            delivery.delivered_at = None
            return delivery, str(kind)

    @staticmethod
    def _own(s: Session, principal: Principal, webhook_id: str) -> Webhook:
        principal.require(Permission.WEBHOOKS_MANAGE)
        hook = s.get(Webhook, webhook_id)
        if hook is None or (
            hook.owner_id != principal.user_id and not principal.can(Permission.USERS_MANAGE)
        ):  # the same answer for "absent" and "not yours"
            raise NotFound(f"webhook {webhook_id} not found")
        return hook

    # ------------------------------------------------------------------ dispatch
    def deliver_due(self, *, wait: bool = True) -> DispatchReport:
        """Fan new events out, then send every delivery that is due. Idempotent.

        ``wait=False``: return at once (an empty report) when this process is already
        dispatching; that round, or the next, picks the new events up.
        """
        if not self._lock.acquire(blocking=wait):
            return DispatchReport()
        try:
            fanned = self.fan_out()
            delivered = retrying = failed = 0
            due = self._due_ids()
            if not due:
                return DispatchReport(fanned)
            with httpx.Client(  # one per round: building its TLS context costs ~10 ms
                timeout=self.settings.webhook_timeout_s,
                follow_redirects=False,
                transport=self._transport,
                trust_env=False,
            ) as client:
                for delivery_id in due:
                    outcome = self._deliver(client, delivery_id)
                    delivered += outcome == "delivered"
                    retrying += outcome == "pending"
                    failed += outcome == "failed"
            return DispatchReport(fanned, delivered, retrying, failed)
        finally:
            self._lock.release()

    def fan_out(self) -> int:
        """Delivery rows for events past the cursor; the cursor moves in the same transaction."""
        created = 0
        while True:
            with self.db.session() as s:
                cursor = events.locked_cursor(s, CURSOR)
                rows = events.pending(s, int(cursor.applied_id), FAN_OUT_BATCH)
                if not rows:
                    return created
                hooks = list(s.execute(select(Webhook).where(Webhook.active.is_(True))).scalars())
                owners = self._owners(s, {h.owner_id for h in hooks})
                existing = {
                    (str(w), int(e))
                    for w, e in s.execute(
                        select(WebhookDelivery.webhook_id, WebhookDelivery.event_id).where(
                            WebhookDelivery.event_id.in_([r.id for r in rows])
                        )
                    )
                }
                now = self.clock()
                for event in rows:
                    for hook in hooks:
                        if (hook.id, event.id) in existing or not self._wants(hook, event):
                            continue
                        owner = owners.get(hook.owner_id)
                        if owner is None or not _may_see(s, owner, event):
                            continue
                        s.add(
                            WebhookDelivery(
                                webhook_id=hook.id,
                                event_id=event.id,
                                state="pending",
                                attempts=0,
                                next_attempt_at=now,
                                created_at=now,
                            )
                        )
                        created += 1
                cursor.applied_id = int(rows[-1].id)
                cursor.updated_at = now
                if len(rows) < FAN_OUT_BATCH:
                    return created

    @staticmethod
    def _wants(hook: Webhook, event: EventOutbox) -> bool:
        if hook.project is not None and hook.project != event.project:
            return False
        return matches(hook.events or [], event.kind)

    @staticmethod
    def _owners(s: Session, ids: set[str]) -> dict[str, Principal]:
        if not ids:
            return {}
        users = s.execute(select(User).where(User.id.in_(sorted(ids)))).scalars()
        return {
            u.id: Principal(u.id, u.username, u.role)
            for u in users
            if u.is_active and has_permission(u.role, Permission.WEBHOOKS_MANAGE)
        }

    def _due_ids(self) -> builtins.list[int]:
        with self.db.session() as s:
            return [
                int(i)
                for i in s.execute(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.state == "pending",
                        WebhookDelivery.next_attempt_at <= self.clock(),
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(1000)
                ).scalars()
            ]

    def _deliver(self, client: httpx.Client, delivery_id: int) -> str:
        """Claim, send and record one delivery; its state afterwards ('' when not claimed)."""
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_s + LEASE_SLACK_S)
        with self.db.session() as s:
            claimed: CursorResult[Any] = s.execute(  # type: ignore[assignment]
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=lease)
            )
            if not claimed.rowcount:
                return ""  # another dispatcher took it, or it was replayed / deleted meanwhile
            row = s.execute(
                select(WebhookDelivery, Webhook, EventOutbox)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .join(EventOutbox, EventOutbox.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.id == delivery_id)
            ).one()
            delivery, hook, event = row
            url, secret, attempts = hook.url, hook.secret, delivery.attempts
            body = json.dumps(events.envelope(event), separators=(",", ":")).encode()
            kind = event.kind
        status, error, permanent = self._post(client, url, secret, kind, delivery_id, body)
        return self._record(delivery_id, attempts + 1, status, error, permanent)

    def _post(
        self, client: httpx.Client, url: str, secret: str, kind: str, delivery_id: int, body: bytes
    ) -> tuple[int | None, str | None, bool]:
        """(HTTP status, error, permanent) of one attempt; never raises."""
        try:
            addresses = resolve_destination(url, allow_private=self.settings.webhook_allow_private)
        except DestinationRefused as exc:
            return None, exc.message, True
        parts = urlsplit(url)
        host = parts.netloc.rsplit("@", 1)[-1]
        timestamp = str(int(self.clock().timestamp()))
        headers = {
            "Host": host,
            "Content-Type": "application/json",
            "User-Agent": "aima-webhooks/1",
            "X-AIMA-Event": kind,
            "X-AIMA-Delivery": str(delivery_id),
            "X-AIMA-Timestamp": timestamp,
            "X-AIMA-Signature": sign(secret, timestamp, body),
        }
        extensions: dict[str, Any] = {}
        if parts.scheme == "https":
            extensions["sni_hostname"] = parts.hostname
        status = 0
        for i, address in enumerate(addresses):  # the checked addresses, in resolver order
            netloc = f"[{address}]" if ":" in address else address
            if parts.port:
                netloc += f":{parts.port}"
            target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            try:
                with client.stream(
                    "POST", target, content=body, headers=headers, extensions=extensions
                ) as response:
                    status = response.status_code
                break
            except httpx.ConnectError as exc:
                if i + 1 == len(addresses):
                    return None, f"ConnectError: {exc}"[:2000], False
            except httpx.HTTPError as exc:
                return None, f"{type(exc).__name__}: {exc}"[:2000], False
        if 200 <= status < 300:
            return status, None, False
        return status, f"receiver answered HTTP {status}", False

    def _record(
        self,
        delivery_id: int,
        attempts: int,
        status: int | None,
        error: str | None,
        permanent: bool,
    ) -> str:
        now = self.clock()
        with self.db.session() as s:
            delivery = s.get(WebhookDelivery, delivery_id)
            if delivery is None:  # the webhook was deleted meanwhile
                return ""
            delivery.attempts = attempts
            delivery.last_status = status
            delivery.last_error = error
            if error is None:
                delivery.state = "delivered"
                delivery.delivered_at = now
            elif permanent or attempts >= self.settings.webhook_max_attempts:
                delivery.state = "failed"
            else:
                delay = min(
                    self.settings.webhook_backoff_max_s,
                    self.settings.webhook_backoff_base_s * 2 ** (attempts - 1),
                )
                delivery.state = "pending"
                delivery.next_attempt_at = now + timedelta(seconds=delay)
            if error is not None:
                log.warning(
                    "webhook delivery failed",
                    extra={"delivery_id": delivery_id, "attempts": attempts, "error": error},
                )
            return delivery.state


def _may_see(s: Session, owner: Principal, event: EventOutbox) -> bool:
    """Whether the webhook's owner may see what the event is about (no leak across users)."""
    data = event.payload or {}
    family = event.kind.split(".")[0]
    try:
        if family == "job":
            query = visible_jobs(owner).where(Job.id == data.get("job_id"))
            return s.execute(query.with_only_columns(Job.id)).first() is not None
        needed = {"flag": Permission.REVIEW_READ, "person": Permission.PERSONS_READ}.get(family)
        if needed is None or not owner.can(needed):
            return False
        media = visible_media(owner).where(Media.id == data.get("media_id"))
        return s.execute(media.with_only_columns(Media.id)).first() is not None
    except Forbidden:
        return False
