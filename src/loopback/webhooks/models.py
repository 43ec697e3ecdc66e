"""An organization's webhook endpoints, the deliveries made to them, and the relay's cursor.

``bucket_events`` is the outbox: the relay reads it after its cursor and writes one delivery per
matching endpoint; a delivery holds the exact body it sends, so every attempt sends the same bytes.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # not tried yet
    RETRYING = "retrying"  # tried, failed, tried again at next_attempt_at
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # every attempt of the retry schedule failed, or the endpoint is gone


OPEN = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)
OPEN_WHERE = text("status IN ('pending', 'retrying')")


class WebhookEndpoint(Base):
    """An HTTPS URL an organization receives its events at, with the secret that signs them."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_organization_id_id", "organization_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500), default=None)
    # the event types it receives (``bucket.ready`` ...), space-separated; empty: every type
    event_types: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    secret_id: Mapped[str] = mapped_column(String(40), doc="the signing secret, in the secret store")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def events(self) -> list[str]:
        return self.event_types.split()


class WebhookDelivery(Base):
    """One event sent (or to be sent) to one endpoint, with its attempts so far.

    Deliveries of one endpoint and one ``lane`` (a bucket's id; a ping's own event id) are sent one
    at a time in event order: only the oldest open delivery of a lane is ever attempted.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_id_event_id"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        # the head of a lane: its oldest open delivery
        Index(
            "ix_webhook_deliveries_open_lane",
            "endpoint_id",
            "lane",
            "event_id",
            sqlite_where=OPEN_WHERE,
            postgresql_where=OPEN_WHERE,
        ),
        # the relay's sweep: open deliveries that are due
        Index(
            "ix_webhook_deliveries_open_due",
            "next_attempt_at",
            sqlite_where=OPEN_WHERE,
            postgresql_where=OPEN_WHERE,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(80))
    bucket_id: Mapped[str | None] = mapped_column(String(40), default=None)
    lane: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookRelay(Base):
    """The relay's place in ``bucket_events``: every event up to ``cursor`` has its deliveries."""

    __tablename__ = "webhook_relay"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
