"""The relay: ``bucket_events`` as an outbox, read after a cursor into one delivery per endpoint.

Each run pages through the deliverable events after the cursor, writes a delivery for every live,
enabled endpoint of the event's own organization whose filter takes its type (and that existed when
the event was written), and hands each new delivery's lane to a ``webhook.deliver`` task. The cursor
then moves, but never past ``LOOKBACK`` ago: ids sort by the time they were made, not committed,
so an event of a transaction still open when a run reads is found by a later one (a delivery is
unique per endpoint and event: reading an event twice writes it once). An event written while no
worker runs waits after the cursor: nothing is lost.

A run ends with a sweep: every lane whose head is due and unclaimed gets a task again, the backstop
for a task lost with a killed worker (Huey does not acknowledge tasks). It runs every
``webhook_relay_seconds`` and whenever a task wakes it (``wake``: after every other task and every
enqueue of this process, at most one waiting at a time).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.kit.ids import new_id
from loopback.kit.settings import Settings
from loopback.webhooks import repository
from loopback.webhooks.events import BucketEventRow, Named, cloud_event
from loopback.webhooks.models import DeliveryStatus, WebhookEndpoint, WebhookRelay
from loopback.webhooks.service import DELIVER, RELAY

log = logging.getLogger(__name__)

LOOKBACK = timedelta(seconds=60)  # longer than any transaction that writes a bucket event
PAGE = 500
SWEEP = 1000
WAKE_SECONDS = 1.0


def id_at(prefix: str, at: datetime) -> str:
    """The smallest id ``kit.ids.new_id`` makes at ``at``: ids before it were made earlier."""
    return f"{prefix}_{int(at.timestamp() * 1000) << 56:026x}"


def _row(found: tuple[Any, ...]) -> tuple[str, BucketEventRow]:
    event, bucket_name, organization_id, project, organization = found
    row = BucketEventRow(
        id=event.id,
        kind=event.kind,
        status=event.status,
        reason=event.reason,
        created_at=event.created_at,
        bucket_id=event.bucket_id,
        bucket_name=bucket_name,
        organization=Named(organization.id, organization.slug, organization.name),
        project=Named(project.id, project.slug, project.name),
    )
    return organization_id, row


def takes(endpoint: WebhookEndpoint, row: BucketEventRow) -> bool:
    """An endpoint receives an event of its filter (empty: every type) written after it was made."""
    return (not endpoint.events or row.type in endpoint.events) and row.created_at >= endpoint.created_at


class Relay:
    def __init__(self, db: Database, enqueue: Enqueue, settings: Settings) -> None:
        self._db = db
        self._enqueue = enqueue
        self._public_url = settings.resolved_public_url
        # when this process last enqueued a relay that has not started here since (an API process
        # runs none: its wakes are spaced by WAKE_SECONDS)
        self._woken_at: float | None = None
        self._lock = threading.Lock()

    def wake(self) -> None:
        """Run the relay soon: enqueued unless one this process enqueued is still waiting."""
        now = time.monotonic()
        with self._lock:
            if self._woken_at is not None and now - self._woken_at < WAKE_SECONDS:
                return
            self._woken_at = now
        try:
            self._enqueue(RELAY)
        except Exception:  # the queue is down: the periodic run comes anyway
            self._woken_at = None
            log.exception("could not wake the webhook relay")

    def run(self) -> int:
        """One relay: new deliveries for the events after the cursor, then the sweep; answers how
        many deliveries it wrote."""
        self._woken_at = None
        written = 0
        lanes: set[tuple[str, str]] = set()
        horizon = id_at("bev", utcnow() - LOOKBACK)
        with self._db.session() as session:
            cursor = self._cursor(session)
            after = cursor.cursor
            while True:
                found = [_row(r) for r in session.execute(repository.events_after(after, PAGE))]
                if not found:
                    break
                written += self._deliveries(session, found, lanes)
                after = found[-1][1].id
                cursor.cursor = max(cursor.cursor, min(after, horizon))
                session.commit()
                cursor = self._cursor(session)
                if len(found) < PAGE:
                    break
            cursor.cursor = max(cursor.cursor, horizon)
        now = utcnow()
        with self._db.session() as session:
            lanes.update((e, lane) for e, lane in session.execute(repository.due_lanes(now, SWEEP)))
        for endpoint_id, lane in sorted(lanes):
            self._enqueue(DELIVER, endpoint_id, lane)
        return written

    def _cursor(self, session: Session) -> WebhookRelay:
        postgres = session.get_bind().dialect.name == "postgresql"
        cursor = session.scalar(repository.relay_cursor(lock=postgres))
        if cursor is not None:
            return cursor
        # the first run starts at the events of the last LOOKBACK; two first runs: one insert wins
        first = id_at("bev", utcnow() - LOOKBACK)
        session.execute(
            repository.insert_cursor(session.get_bind().dialect.name),
            {"cursor": first, "updated_at": utcnow()},
        )
        found = session.scalar(repository.relay_cursor(lock=postgres))
        assert found is not None
        return found

    def _deliveries(
        self, session: Session, found: list[tuple[str, BucketEventRow]], lanes: set[tuple[str, str]]
    ) -> int:
        organizations = sorted({organization_id for organization_id, _ in found})
        listening = list(session.scalars(repository.listening_endpoints(organizations)))
        # what an earlier run wrote (the events of the last LOOKBACK are read again): no new task
        made = {
            (e, v) for e, v in session.execute(repository.deliveries_of_events([row.id for _, row in found]))
        }
        now = utcnow()
        values = []
        for organization_id, row in found:
            for endpoint in listening:
                if endpoint.organization_id != organization_id:  # the tenant boundary: its own only
                    continue
                if not takes(endpoint, row) or (endpoint.id, row.id) in made:
                    continue
                values.append(
                    {
                        "id": new_id("whd"),
                        "organization_id": organization_id,
                        "endpoint_id": endpoint.id,
                        "event_id": row.id,
                        "event_type": row.type,
                        "bucket_id": row.bucket_id,
                        "lane": row.bucket_id,
                        "body": cloud_event(row, self._public_url),
                        "status": DeliveryStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                lanes.add((endpoint.id, row.bucket_id))
        if not values:
            return 0
        dialect = session.get_bind().dialect.name
        session.execute(repository.insert_deliveries(dialect), values)  # a concurrent run's are skipped
        return len(values)
