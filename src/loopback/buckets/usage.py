"""The usage round: object count, bytes and last sync time of ready buckets, read from their provider.

Reading usage walks a bucket at the provider and may take long, so it is a task per bucket
(``usage.sync``), enqueued by a tenant's refresh or by the periodic round over every ready bucket;
the provider is asked with no transaction open and the answer is written only to a bucket still ready.
"""

from __future__ import annotations

import logging

from loopback.buckets import repository
from loopback.buckets.models import Bucket, BucketStatus
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.enqueue import Enqueue
from loopback.providers.base import ProviderError
from loopback.providers.models import Region
from loopback.providers.service import ProviderService

log = logging.getLogger(__name__)


class UsageSync:
    def __init__(self, db: Database, providers: ProviderService, enqueue: Enqueue) -> None:
        self._db = db
        self._providers = providers
        self._enqueue = enqueue

    def enqueue(self, bucket_id: str) -> None:
        """Ask for a refresh of one bucket's usage."""
        self._enqueue("usage.sync", bucket_id)

    def sync_usage(self, bucket_id: str) -> None:
        """Refresh object count, bytes and last sync time of one ready bucket."""
        with self._db.session() as session:
            bucket = session.get(Bucket, bucket_id)
            if bucket is None or bucket.status != BucketStatus.READY:
                return
            region = session.get(Region, bucket.region_id)
            assert region is not None
            adapter = self._providers.adapter(session, bucket.provider_id)
            name, region_code, placement = bucket.name, region.code, bucket.placement
        try:
            usage = adapter.read_usage(name, region_code, placement)
        except ProviderError as error:
            log.warning("usage of bucket %s not refreshed: %s", bucket_id, error.message)
            return
        with self._db.session() as session:
            bucket = session.get(Bucket, bucket_id)
            if bucket is None or bucket.status != BucketStatus.READY:
                return
            bucket.object_count = usage.object_count
            bucket.bytes = usage.bytes
            bucket.last_synced_at = utcnow()

    def sync_all_usage(self) -> int:
        """Enqueue a ``usage.sync`` of every ready bucket; answers how many."""
        with self._db.session() as session:
            ready = session.scalars(repository.ready_ids()).all()
        for bucket_id in ready:
            self.enqueue(bucket_id)
        return len(ready)
