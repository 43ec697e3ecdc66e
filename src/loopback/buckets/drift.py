"""The drift round: mark ready buckets that vanished at their provider ``lost``, and never recreate them.

A bucket removed outside the control plane may have been removed on purpose; recreating it would
hand its name and keys back without anyone asking, so the round only records what it saw and
``replace`` re-provisions on request. It runs over every tenant's ready buckets (a periodic job),
asks each provider with no transaction open, and writes each finding in a unit of its own.
"""

from __future__ import annotations

import logging

from loopback.buckets import repository
from loopback.buckets.events import record_event
from loopback.buckets.models import Bucket, BucketStatus
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.providers.base import ProviderError
from loopback.providers.service import ProviderService

log = logging.getLogger(__name__)


class DriftCheck:
    def __init__(self, db: Database, providers: ProviderService) -> None:
        self._db = db
        self._providers = providers

    def check_drift(self) -> int:
        """Look up every ready bucket at its provider; answers how many were found lost."""
        with self._db.session() as session:
            found = session.execute(repository.ready_with_region()).all()
            ready = [(b.id, b.name, b.provider_id, code, b.placement) for b, code in found]
            adapters = {p: self._providers.adapter(session, p) for p in {row[2] for row in ready}}
        lost = 0
        # A provider that is down answers every bucket after its timeouts: ask it once per round.
        unreachable: set[str] = set()
        for bucket_id, name, provider_id, region_code, placement in ready:
            if provider_id in unreachable:
                continue
            try:
                exists = adapters[provider_id].bucket_exists(name, region_code, placement)
            except ProviderError as error:
                if error.transient:
                    unreachable.add(provider_id)
                    log.warning(
                        "drift check of provider %s skipped this round: %s", provider_id, error.message
                    )
                else:
                    log.warning("drift check of bucket %s skipped: %s", bucket_id, error.message)
                continue
            with self._db.session() as session:
                bucket = session.get(Bucket, bucket_id)
                if bucket is None or bucket.status != BucketStatus.READY:
                    continue  # it changed meanwhile; the next check looks again
                bucket.last_checked_at = utcnow()
                if not exists:
                    bucket.status = BucketStatus.LOST
                    bucket.status_reason = (
                        f"bucket {name!r} no longer exists at the provider; it was removed outside "
                        "Loopback. Replace it to provision it again, or delete the record."
                    )
                    record_event(session, bucket, "lost", bucket.status_reason)
                    log.warning(
                        "bucket %s (%s) is lost: it no longer exists at the provider", bucket_id, name
                    )
                    lost += 1
        return lost
