"""The drift round: mark ready buckets that vanished at their provider ``lost``, and never recreate them.

A bucket removed outside the control plane may have been removed on purpose; recreating it would
hand its name and keys back without anyone asking, so the round only records what it saw and
``replace`` re-provisions on request.

One ListBuckets per provider region (per key slot, for families whose keys reach one tenant's
buckets) answers for every bucket there at once; only a bucket that listing does not name is asked
about by itself (HeadBucket, in the provider's bounded pool), since it may have been created after
the listing was taken. The round walks each region's ready buckets a page at a time (``rounds.pages``),
holds its lease so that it never runs twice at once, asks providers with no transaction open, and
records each page's findings in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future

from loopback.buckets import repository, rounds
from loopback.buckets.events import record_event
from loopback.buckets.models import BucketStatus
from loopback.buckets.rounds import RegionRef, RoundLimits, Target
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.leases import RoundLeases
from loopback.providers.base import ProviderError, StorageProvider
from loopback.providers.pools import ProviderPools
from loopback.providers.service import ProviderService

log = logging.getLogger(__name__)

ROUND = "drift"


class DriftCheck:
    def __init__(
        self,
        db: Database,
        providers: ProviderService,
        pools: ProviderPools,
        leases: RoundLeases,
        limits: RoundLimits,
    ) -> None:
        self._db = db
        self._providers = providers
        self._pools = pools
        self._leases = leases
        self._limits = limits

    def check_drift(self) -> int:
        """Look up every ready bucket at its provider; answers how many were found lost (0 when a
        drift round is running already: that one looks)."""
        with self._leases.running(ROUND) as token:
            if token is None:
                log.info("a drift round is still running; this one is skipped")
                return 0
            return sum(self._check_region(region) for region in rounds.regions(self._db))

    def _check_region(self, region: RegionRef) -> int:
        listings: dict[str | None, set[str] | None] = {}  # per key slot; dropped with the region
        lost = 0
        adapter: StorageProvider | None = None  # built for a region that has ready buckets only
        for page in rounds.pages(self._db, region, self._limits.batch, settled=True):
            if adapter is None:
                with self._db.session() as session:
                    adapter = self._providers.adapter(session, region.provider_id)
            listed: list[Target] = []
            absent: list[Target] = []
            for target in page:
                names = self._listing(listings, adapter, region, target)
                if names is None:  # the listing failed: these wait for the next round
                    continue
                (listed if target.name in names else absent).append(target)
            found, gone = self._confirm(adapter, region, absent)
            lost += self._record([t.id for t in listed + found], gone)
        return lost

    def _listing(
        self,
        listings: dict[str | None, set[str] | None],
        adapter: StorageProvider,
        region: RegionRef,
        target: Target,
    ) -> set[str] | None:
        """The names the key serving ``target`` sees in the region: one ListBuckets per round."""
        slot = target.placement.slot
        if slot not in listings:
            try:
                listings[slot] = adapter.bucket_names(region.code, target.placement)
            except ProviderError as error:
                log.warning(
                    "drift check of provider %s region %s skipped this round: %s",
                    region.provider_id,
                    region.code,
                    error.message,
                )
                listings[slot] = None
        return listings[slot]

    def _confirm(
        self, adapter: StorageProvider, region: RegionRef, absent: Sequence[Target]
    ) -> tuple[list[Target], list[Target]]:
        """Ask about each bucket the listing did not name, in the provider's pool: found, and gone."""
        exists = adapter.bucket_exists
        calls: list[tuple[Target, Future[bool]]] = [
            (t, self._pools.submit(region.provider_id, exists, t.name, region.code, t.placement))
            for t in absent
        ]
        found: list[Target] = []
        gone: list[Target] = []
        for target, call in calls:
            try:
                (found if call.result() else gone).append(target)
            except ProviderError as error:
                log.warning("drift check of bucket %s skipped: %s", target.id, error.message)
        return found, gone

    def _record(self, checked: Sequence[str], gone: Sequence[Target]) -> int:
        """One transaction per page: the buckets seen, and the vanished ones still ready, ``lost``."""
        now = utcnow()
        lost = 0
        with self._db.session() as session:
            if checked:
                session.execute(repository.mark_checked(checked, now))
            if not gone:
                return 0
            for bucket in session.scalars(repository.still_ready([t.id for t in gone])):
                bucket.status = BucketStatus.LOST
                bucket.last_checked_at = now
                bucket.status_reason = (
                    f"bucket {bucket.name!r} no longer exists at the provider; it was removed outside "
                    "Loopback. Replace it to provision it again, or delete the record."
                )
                record_event(session, bucket, "lost", bucket.status_reason)
                log.warning("bucket %s (%s) is lost: it is gone at the provider", bucket.id, bucket.name)
                lost += 1
        return lost
