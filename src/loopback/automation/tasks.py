"""Every task and periodic job, by name: thin names over the domain services, on the queue.

Tasks sit above the domains (they call services) and below the API; services enqueue them by name
through ``kit.enqueue.Enqueue`` and never import this module.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Table, select

from loopback.automation.queue import Automation
from loopback.buckets.models import Bucket
from loopback.buckets.samples import SampleCompaction
from loopback.buckets.service import BucketService
from loopback.credentials.service import CredentialService
from loopback.kit.db import Database
from loopback.kit.logs import bind
from loopback.kit.metrics import RECONCILE_DURATION, timed
from loopback.kit.settings import Settings
from loopback.providers.models import Provider
from loopback.webhooks.delivery import Deliverer
from loopback.webhooks.relay import Relay
from loopback.webhooks.service import DELIVER, RELAY


def register_tasks(
    automation: Automation,
    buckets: BucketService,
    credentials: CredentialService,
    settings: Settings,
    compaction: SampleCompaction,
    db: Database,
) -> None:
    def reconcile(bucket_id: str) -> None:
        reconcile_observed(db, buckets.reconcile, bucket_id)

    def sync_usage(bucket_id: str) -> None:
        bind(bucket_id=bucket_id)
        buckets.sync_usage(bucket_id)

    automation.register("bucket.reconcile", reconcile)
    automation.register("usage.sync", sync_usage)

    def resync() -> None:
        buckets.resync()

    def sync_all_usage() -> None:
        buckets.sync_all_usage()

    def sync_usage_batch(token: str, bucket_ids: list[str]) -> None:
        buckets.sync_usage_batch(token, bucket_ids)

    def check_drift() -> None:
        buckets.check_drift()

    def maintain_keys() -> None:  # expiry, the end of rotations, legacy policy rewrites
        credentials.maintain()

    def compact_samples() -> None:  # usage history: raw -> hourly -> daily (buckets/samples.py)
        compaction.run()

    automation.register("bucket.resync", resync)
    automation.register("usage.sync_batch", sync_usage_batch)
    automation.register("credential.maintain", maintain_keys)
    automation.register("credential.forget-abandoned", credentials.forget_abandoned)
    # Rounds run once per period for the whole installation, however many workers run.
    resync_seconds = settings.resync_seconds or settings.resync_minutes * 60
    automation.periodic("bucket.drift.periodic", settings.drift_minutes * 60, check_drift)
    automation.periodic("bucket.resync.periodic", resync_seconds, resync)
    automation.periodic("usage.sync_all", settings.usage_minutes * 60, sync_all_usage)
    automation.periodic("credential.maintain.periodic", resync_seconds, maintain_keys)
    automation.periodic("usage.compact.periodic", 3600, compact_samples)


def register_webhook_tasks(
    automation: Automation, relay: Relay, deliverer: Deliverer, settings: Settings
) -> None:
    """The relay of bucket events into deliveries and the delivery of one lane (webhooks/relay.py).

    The relay runs every ``webhook_relay_seconds`` and, sooner, after every other task this process
    enqueues or runs: the bucket events a request or a task commits go out within moments.
    """

    def run_relay() -> None:
        relay.run()

    automation.register(RELAY, run_relay)

    def deliver(endpoint_id: str, lane: str) -> None:
        deliverer.deliver(endpoint_id, lane)

    automation.register(DELIVER, deliver)
    automation.periodic("webhook.relay.periodic", settings.webhook_relay_seconds, run_relay)

    def wake(task: str) -> None:
        if not task.startswith("webhook."):
            relay.wake()

    automation.when_enqueued(wake)
    automation.when_done(wake)
    automation.when_started(relay.wake)  # what was written while no worker ran goes out now


BUCKETS: Table = Bucket.__table__  # type: ignore[assignment]
PROVIDERS: Table = Provider.__table__  # type: ignore[assignment]


def reconcile_observed(db: Database, reconcile: Callable[[str], None], bucket_id: str) -> None:
    """Run one reconcile with the bucket's ids on its log lines, and time it by provider and outcome
    (kit.metrics): the bucket's status after the run, ``error`` when it raised, ``gone`` when
    there is no such bucket. Two reads by primary key around the run, of ids and status only."""
    with db.session() as session:
        found = session.execute(
            select(BUCKETS.c.organization_id, BUCKETS.c.project_id, BUCKETS.c.provider_id, PROVIDERS.c.family)
            .join(PROVIDERS, PROVIDERS.c.id == BUCKETS.c.provider_id)
            .where(BUCKETS.c.id == bucket_id)
        ).first()
    bind(bucket_id=bucket_id)
    if found is not None:
        bind(organization_id=found.organization_id, project_id=found.project_id)
    outcome = "error"
    try:
        with timed() as elapsed:
            reconcile(bucket_id)
        with db.session() as session:
            status = session.execute(select(BUCKETS.c.status).where(BUCKETS.c.id == bucket_id)).scalar()
        outcome = str(status) if status is not None else "gone"
    finally:
        if found is not None:
            RECONCILE_DURATION.labels(found.provider_id, found.family, outcome).observe(elapsed[0])
