"""Bucket and usage tasks: thin names over the bucket service, registered on the queue."""

from __future__ import annotations

from loopback.automation.queue import Automation
from loopback.buckets.service import BucketService
from loopback.kit.settings import Settings


def register_tasks(automation: Automation, buckets: BucketService, settings: Settings) -> None:
    automation.register("bucket.reconcile", buckets.reconcile)
    automation.register("usage.sync", buckets.sync_usage)

    def resync() -> None:
        buckets.resync()

    def sync_all_usage() -> None:
        buckets.sync_all_usage()

    def check_drift() -> None:
        buckets.check_drift()

    automation.register("bucket.resync", resync)
    automation.periodic("bucket.drift.periodic", settings.drift_minutes, check_drift)
    automation.periodic("bucket.resync.periodic", settings.resync_minutes, resync)
    automation.periodic("usage.sync_all", settings.usage_minutes, sync_all_usage)
