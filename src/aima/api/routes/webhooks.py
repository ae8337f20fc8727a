"""Webhooks: a user's subscriptions, their delivery log and replay (Admin: everyone's)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Query, Response
from pydantic import BaseModel, Field

from aima.api.deps import Caller, RuntimeDep
from aima.api.schemas import Strict, error_responses
from aima.security.permissions import Permission
from aima.services.access import Principal
from aima.store.events import KINDS
from aima.store.models import Webhook, WebhookDelivery

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class WebhookIn(Strict):
    url: str = Field(max_length=2048, description="http(s) URL that receives signed POSTs")
    events: list[str] = Field(
        default_factory=list,
        max_length=32,
        description=f"kinds ({', '.join(KINDS)}), families like 'job.*', or '*'; empty: all",
    )
    project: str | None = Field(default=None, max_length=64, description="only this project")


class WebhookOut(BaseModel):
    id: str
    owner_id: str
    url: str
    events: list[str]
    project: str | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, w: Webhook) -> WebhookOut:
        return cls(
            id=w.id,
            owner_id=w.owner_id,
            url=w.url,
            events=list(w.events or []),
            project=w.project,
            active=w.active,
            created_at=w.created_at,
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="HMAC-SHA256 signing secret; shown once, store it now")


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str
    event_id: int
    event: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, d: WebhookDelivery, kind: str) -> DeliveryOut:
        return cls(
            id=d.id,
            webhook_id=d.webhook_id,
            event_id=d.event_id,
            event=kind,
            state=d.state,
            attempts=d.attempts,
            last_status=d.last_status,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
        )


@router.post("", status_code=201, responses=error_responses(401, 403, 422))
def create_webhook(
    body: WebhookIn,
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.WEBHOOKS_MANAGE),
) -> WebhookCreated:
    """Subscribe a URL to events the caller may see. The secret is returned only here."""
    hook, secret = runtime.webhooks.create(principal, body.url, body.events, project=body.project)
    return WebhookCreated(**WebhookOut.of(hook).model_dump(), secret=secret)


@router.get("", responses=error_responses(401, 403))
def list_webhooks(
    runtime: RuntimeDep, principal: Principal = Caller(Permission.WEBHOOKS_MANAGE)
) -> list[WebhookOut]:
    """The caller's webhooks (an Admin sees everyone's); secrets are never listed."""
    return [WebhookOut.of(w) for w in runtime.webhooks.list(principal)]


@router.delete("/{webhook_id}", status_code=204, responses=error_responses(401, 403, 404))
def delete_webhook(
    webhook_id: Annotated[str, Path(max_length=40)],
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.WEBHOOKS_MANAGE),
) -> Response:
    runtime.webhooks.delete(principal, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", responses=error_responses(401, 403, 404, 422))
def list_deliveries(
    webhook_id: Annotated[str, Path(max_length=40)],
    runtime: RuntimeDep,
    principal: Principal = Caller(Permission.WEBHOOKS_MANAGE),
    state: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[DeliveryOut]:
    """The delivery log, newest first: state, attempts, the receiver's last answer."""
    rows = runtime.webhooks.deliveries(
        principal, webhook_id, state=state, limit=limit, offset=offset
    )
    return [DeliveryOut.of(d, kind) for d, kind in rows]


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    responses=error_responses(401, 403, 404, 422),
)
def replay_delivery(
    webhook_id: Annotated[str, Path(max_length=40)],
    delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    runtime: RuntimeDep,
    background: BackgroundTasks,
    principal: Principal = Caller(Permission.WEBHOOKS_MANAGE),
) -> DeliveryOut:
    """Queue one delivery again (with a fresh set of attempts); it is sent right after."""
    delivery, kind = runtime.webhooks.replay(principal, webhook_id, delivery_id)
    background.add_task(runtime.events.pump)
    return DeliveryOut.of(delivery, kind)
