"""Webhook shapes of API v3: an endpoint (with its secret only where one is made), and the log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from loopback.webhooks.events import KINDS
from loopback.webhooks.models import WebhookEndpoint
from loopback.webhooks.service import DeliveryRow

EVENTS_DESCRIPTION = "event types to receive (" + ", ".join(KINDS.values()) + "); empty or left out: all"


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="the https:// URL deliveries are POSTed to")
    events: list[str] = Field(default_factory=list, max_length=len(KINDS), description=EVENTS_DESCRIPTION)
    description: str | None = Field(default=None, max_length=500)


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = Field(default=None, max_length=len(KINDS), description=EVENTS_DESCRIPTION)
    enabled: bool | None = None
    description: str | None = Field(default=None, max_length=500)


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str] = Field(description="the types it receives; empty: all")
    description: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=endpoint.events,
            description=endpoint.description,
            enabled=endpoint.enabled,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="the signing secret (whsec_…): shown in this response only")


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: str
    event_id: str = Field(description="the CloudEvent's id, also the webhook-id header")
    event_type: str
    bucket_id: str | None
    bucket: str | None = Field(description="the bucket's name; null for a ping")
    status: str = Field(description="pending, retrying, delivered or failed")
    attempts: int
    last_status_code: int | None = Field(description="the HTTP status of the last attempt; null: no answer")
    last_error: str | None = Field(description="what went wrong at the last attempt, in short")
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: DeliveryRow) -> DeliveryOut:
        d = row.delivery
        return cls(
            id=d.id,
            event_id=d.event_id,
            event_type=d.event_type,
            bucket_id=d.bucket_id,
            bucket=row.bucket_name,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            updated_at=d.updated_at,
            delivered_at=d.delivered_at,
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None
