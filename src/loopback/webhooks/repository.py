"""Every query of webhook rows: a tenant's endpoints and deliveries through ``readable`` with the
caller's scope; the relay's and the delivery task's reads over every tenant, named for them.

The relay reads ``bucket_events`` with their bucket, project and organization here (an automation
read over every tenant, as the resync's are in ``buckets/repository.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, Update, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from loopback.buckets.models import Bucket, BucketEvent
from loopback.kit.scoping import Scope, readable
from loopback.tenancy.models import Organization, Project
from loopback.webhooks.events import KINDS
from loopback.webhooks.models import OPEN, DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookRelay

# --- a tenant's reads: always within the caller's organization ----------------------------------


def endpoints_in(scope: Scope) -> Select[WebhookEndpoint]:
    """The organization's endpoints not deleted, oldest first."""
    statement = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
    scoped: Select[WebhookEndpoint] = readable(statement, WebhookEndpoint, scope)
    return scoped.order_by(WebhookEndpoint.id)


def endpoint_in(scope: Scope, endpoint_id: str) -> Select[WebhookEndpoint]:
    return endpoints_in(scope).where(WebhookEndpoint.id == endpoint_id)


def deliveries_in(scope: Scope, endpoint_id: str) -> Select[WebhookDelivery, str | None]:
    """An endpoint's deliveries, newest first, with their bucket's name (none for a ping)."""
    statement = (
        select(WebhookDelivery, Bucket.name)
        .outerjoin(Bucket, Bucket.id == WebhookDelivery.bucket_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    )
    scoped: Select[WebhookDelivery, str | None] = readable(statement, WebhookDelivery, scope)
    return scoped.order_by(WebhookDelivery.id.desc())


def organization_of(scope: Scope) -> Select[Organization]:
    return select(Organization).where(Organization.id == scope.organization_id)


# --- the relay: bucket events of every organization that has an endpoint -------------------------

RELAY_ID = "bucket_events"


def relay_cursor(*, lock: bool) -> Select[WebhookRelay]:
    """The relay's one row; locked on PostgreSQL so that two relays run one after the other."""
    statement = select(WebhookRelay).where(WebhookRelay.id == RELAY_ID)
    return statement.with_for_update() if lock else statement


def _listening() -> Select[str]:
    return select(WebhookEndpoint.organization_id).where(
        WebhookEndpoint.deleted_at.is_(None), WebhookEndpoint.enabled.is_(True)
    )


EventRow = tuple[BucketEvent, str, str, Project, Organization]


def events_after(after: str, limit: int) -> Select[BucketEvent, str, str, Project, Organization]:
    """Deliverable bucket events after ``after`` in id order, of organizations with a live endpoint,
    with their bucket's name and organization id, project and organization."""
    return (
        select(BucketEvent, Bucket.name, Bucket.organization_id, Project, Organization)
        .join(Bucket, Bucket.id == BucketEvent.bucket_id)
        .join(Project, Project.id == Bucket.project_id)
        .join(Organization, Organization.id == Bucket.organization_id)
        .where(
            BucketEvent.id > after,
            BucketEvent.kind.in_(list(KINDS)),
            Bucket.organization_id.in_(_listening()),
        )
        .order_by(BucketEvent.id)
        .limit(limit)
    )


def listening_endpoints(organization_ids: Sequence[str]) -> Select[WebhookEndpoint]:
    """The live, enabled endpoints of these organizations."""
    return select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id.in_(list(organization_ids)),
        WebhookEndpoint.deleted_at.is_(None),
        WebhookEndpoint.enabled.is_(True),
    )


def insert_cursor(dialect: str) -> Insert:
    """The relay's row, unless another first run wrote it a moment ago."""
    table: Any = WebhookRelay.__table__
    values = {"id": RELAY_ID, "cursor": bindparam("cursor"), "updated_at": bindparam("updated_at")}
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=["id"])
    return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=["id"])


def deliveries_of_events(event_ids: Sequence[str]) -> Select[str, str]:
    """(endpoint, event) of the deliveries these events have already."""
    return select(WebhookDelivery.endpoint_id, WebhookDelivery.event_id).where(
        WebhookDelivery.event_id.in_(list(event_ids))
    )


def insert_deliveries(dialect: str) -> Insert:
    """Deliveries, skipping one an earlier relay wrote already (unique per endpoint and event)."""
    table: Any = WebhookDelivery.__table__
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])


def due_lanes(now: datetime, limit: int) -> Select[str, str]:
    """Lanes whose head is due and unclaimed: what the relay's sweep hands to delivery tasks."""
    return (
        select(WebhookDelivery.endpoint_id, WebhookDelivery.lane)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookEndpoint.enabled.is_(True),  # a disabled endpoint's deliveries wait for it
            WebhookDelivery.status.in_(OPEN),
            WebhookDelivery.next_attempt_at <= now,
            (WebhookDelivery.claimed_until.is_(None)) | (WebhookDelivery.claimed_until < now),
        )
        .distinct()
        .limit(limit)
    )


# --- the delivery task: one lane of one endpoint -------------------------------------------------


def lane_head(endpoint_id: str, lane: str) -> Select[WebhookDelivery]:
    """The oldest open delivery of a lane: the only one that may be attempted."""
    return (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.lane == lane,
            WebhookDelivery.status.in_(OPEN),
        )
        .order_by(WebhookDelivery.event_id)
        .limit(1)
    )


def claim(delivery_id: str, now: datetime, until: datetime) -> Update:
    """Take a delivery for one attempt unless another task holds it; one row changed: taken."""
    return (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status.in_(OPEN),
            (WebhookDelivery.claimed_until.is_(None)) | (WebhookDelivery.claimed_until < now),
        )
        .values(claimed_until=until)
    )


def endpoint_by_id(endpoint_id: str) -> Select[WebhookEndpoint]:
    """The endpoint a delivery names (the task's own row, never a caller's id)."""
    return select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)


def close_open(endpoint_id: str, reason: str) -> Update:
    """End a deleted endpoint's open deliveries as ``failed``."""
    return (
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status.in_(OPEN))
        .values(status=DeliveryStatus.FAILED, last_error=reason, next_attempt_at=None, claimed_until=None)
    )
