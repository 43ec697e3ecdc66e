"""API v3 routes of an organization's webhooks: endpoints, their secret, a ping, the delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from loopback.kit.openapi import problems
from loopback.kit.services import from_state
from loopback.tenancy.access import OrganizationScope
from loopback.tenancy.auth import DbSession, requires
from loopback.webhooks.schemas import (
    DeliveryList,
    DeliveryOut,
    WebhookChange,
    WebhookCreate,
    WebhookList,
    WebhookOut,
    WebhookWithSecret,
)
from loopback.webhooks.service import Change, DeliveryRow, WebhookService

router = APIRouter(prefix="/v3/organizations/{org}/webhooks", tags=["webhooks"])

WebhooksRead = Annotated[OrganizationScope, Depends(requires("webhooks.read"))]
WebhooksManage = Annotated[OrganizationScope, Depends(requires("webhooks.manage"))]
WebhooksDep = Annotated[WebhookService, Depends(from_state("webhooks"))]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookWithSecret,
    responses=problems(422, s422="a URL that is not https, or an unknown event type"),
)
def create_webhook(
    body: WebhookCreate, scope: WebhooksManage, webhooks: WebhooksDep, session: DbSession
) -> WebhookWithSecret:
    """Register an endpoint; the answer carries its signing secret, this once."""
    endpoint, secret = webhooks.create(session, scope, body.url, body.events, body.description)
    return WebhookWithSecret(**WebhookOut.of(endpoint).model_dump(), secret=secret)


@router.get("", response_model=WebhookList)
def list_webhooks(scope: WebhooksRead, webhooks: WebhooksDep, session: DbSession) -> WebhookList:
    """The organization's endpoints (never their secrets)."""
    return WebhookList(webhooks=[WebhookOut.of(e) for e in webhooks.endpoints(session, scope)])


@router.get("/{webhook_id}", response_model=WebhookOut)
def show_webhook(
    webhook_id: str, scope: WebhooksRead, webhooks: WebhooksDep, session: DbSession
) -> WebhookOut:
    return WebhookOut.of(webhooks.endpoint(session, scope, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut, responses=problems(422))
def update_webhook(
    webhook_id: str, body: WebhookChange, scope: WebhooksManage, webhooks: WebhooksDep, session: DbSession
) -> WebhookOut:
    """Change the URL, the event types or the description; disable or enable it."""
    change = Change(url=body.url, events=body.events, enabled=body.enabled, description=body.description)
    return WebhookOut.of(webhooks.update(session, scope, webhook_id, change))


@router.delete("/{webhook_id}", response_model=WebhookOut)
def delete_webhook(
    webhook_id: str, scope: WebhooksManage, webhooks: WebhooksDep, session: DbSession
) -> WebhookOut:
    """Stop deliveries to it at once: its open deliveries end `failed`."""
    return WebhookOut.of(webhooks.delete(session, scope, webhook_id))


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
def rotate_webhook_secret(
    webhook_id: str, scope: WebhooksManage, webhooks: WebhooksDep, session: DbSession
) -> WebhookWithSecret:
    """A new signing secret, shown this once; the next attempt is signed with it."""
    secret = webhooks.rotate_secret(session, scope, webhook_id)
    endpoint = webhooks.endpoint(session, scope, webhook_id)
    return WebhookWithSecret(**WebhookOut.of(endpoint).model_dump(), secret=secret)


@router.post("/{webhook_id}/test", status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryOut)
def send_test_event(
    webhook_id: str, scope: WebhooksManage, webhooks: WebhooksDep, session: DbSession
) -> DeliveryOut:
    """Send a `webhook.ping` event now; follow it in the delivery log."""
    return DeliveryOut.of(DeliveryRow(webhooks.send_test(session, scope, webhook_id), None))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList)
def list_webhook_deliveries(
    webhook_id: str,
    scope: WebhooksRead,
    webhooks: WebhooksDep,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> DeliveryList:
    """The endpoint's delivery log, newest first, a page at a time."""
    rows, next_cursor = webhooks.deliveries(session, scope, webhook_id, limit, cursor)
    return DeliveryList(deliveries=[DeliveryOut.of(row) for row in rows], next_cursor=next_cursor)
