"""Which bucket events become webhooks, and the CloudEvent (structured mode, 1.0) each one is.

A bucket event's ``kind`` maps to a type name (``bucket.ready``); the CloudEvent's ``type`` is that
name under ``io.loopback.``. Kinds outside the table (created, provisioning, retry ...) are history
only and never delivered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TYPE_PREFIX = "io.loopback."
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"

# bucket_events.kind -> the event type an endpoint subscribes to
KINDS: dict[str, str] = {
    "ready": "bucket.ready",
    "failed": "bucket.failed",
    "lost": "bucket.lost",
    "deleted": "bucket.deleted",
    "released": "bucket.released",
    "quota-warning": "bucket.quota.warning",
    "quota-exceeded": "bucket.quota.exceeded",
    "quota-ok": "bucket.quota.ok",
    "credential-expiring": "key.expiring",
    "credential-expired": "key.expired",
    "credential-rotated": "key.rotated",
    "credential-revoked": "key.revoked",
}
PING = "webhook.ping"
TYPES: tuple[str, ...] = (*KINDS.values(), PING)


@dataclass(frozen=True)
class Named:
    id: str
    slug: str
    name: str


@dataclass(frozen=True)
class BucketEventRow:
    """A bucket event with what its CloudEvent names: the bucket, its project and organization."""

    id: str
    kind: str
    status: str
    reason: str | None
    created_at: datetime
    bucket_id: str
    bucket_name: str
    organization: Named
    project: Named

    @property
    def type(self) -> str:
        return KINDS[self.kind]


def _time(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _named(entity: Named) -> dict[str, str]:
    return {"id": entity.id, "slug": entity.slug, "name": entity.name}


def _envelope(
    event_id: str, type_name: str, source: str, at: datetime, subject: str | None, data: dict[str, Any]
) -> str:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "type": TYPE_PREFIX + type_name,
        "source": source,
        "id": event_id,
        "time": _time(at),
        "datacontenttype": "application/json",
    }
    if subject is not None:
        event["subject"] = subject
    event["data"] = data
    return json.dumps(event, separators=(",", ":"))


def cloud_event(row: BucketEventRow, public_url: str) -> str:
    """The JSON body delivered for a bucket event; ``subject`` is the bucket's id."""
    source = f"{public_url}/v3/organizations/{row.organization.slug}/projects/{row.project.slug}/buckets"
    data = {
        "organization": _named(row.organization),
        "project": _named(row.project),
        "bucket": {"id": row.bucket_id, "name": row.bucket_name},
        "kind": row.kind,
        "status": row.status,
        "reason": row.reason,
    }
    return _envelope(row.id, row.type, source, row.created_at, row.bucket_id, data)


def ping_event(event_id: str, organization: Named, endpoint_id: str, at: datetime, public_url: str) -> str:
    """The body of ``POST .../webhooks/{id}/test``: no bucket, no subject."""
    source = f"{public_url}/v3/organizations/{organization.slug}/webhooks/{endpoint_id}"
    data = {"organization": _named(organization), "endpoint_id": endpoint_id, "message": "ping"}
    return _envelope(event_id, PING, source, at, None, data)
