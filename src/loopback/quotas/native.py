"""A bucket's own bytes and objects limits, held by its backend too where the backend has quotas.

Ceph RGW, MinIO and Garage refuse the write that passes a quota they hold (``providers.base.
NativeQuota``), which the control plane's hold (``credentials.quota_enforcement``) cannot: that one
acts at the sync after a bucket went over. So after each usage sync the step that sets a bucket
against its quotas also gives the backend the bucket's own limits (``bucket_bytes`` and
``bucket_objects`` as they apply to its project; a project's limits span buckets, which no backend
quota does), when they differ from what it was last given: set when a limit is known, changed when
it changes, cleared when it is removed. The control plane's hold stays the second line, and the one
that counts as providers bill: RGW and MinIO check against statistics they refresh apart from the
write (RGW's cache, MinIO's scanner), and MinIO has no object count.

What each bucket's backend was given is remembered in this process (``_given``), not in the
database: a restarted worker gives every bucket it syncs its limits once again, or clears them, so a
limit removed while no worker ran does not stay at the backend. A call that fails is logged and
tried again at the bucket's next sync; the bucket and its quota state are not touched by it.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session

from loopback.buckets.models import Bucket
from loopback.providers.base import ProviderError, QuotaLimits, native_quota
from loopback.providers.models import Region
from loopback.providers.service import ProviderService
from loopback.quotas.service import Applied

log = logging.getLogger(__name__)


def own_limits(applied: dict[str, Applied]) -> QuotaLimits:
    """The limits of one bucket alone, of the quotas that apply to its project."""
    return QuotaLimits(bytes=applied["bucket_bytes"].limit, objects=applied["bucket_objects"].limit)


class NativeQuotas:
    """Gives backends that hold quotas the limits of the buckets a sync measured."""

    def __init__(self, providers: ProviderService) -> None:
        self._providers = providers
        self._given: dict[str, QuotaLimits] = {}  # bucket id: the limits its backend holds
        self._lock = threading.Lock()

    def give(self, session: Session, bucket: Bucket, limits: QuotaLimits) -> bool:
        """Give the bucket's backend ``limits`` unless it has them; answers whether it was asked.

        Reads only (nothing is flushed, so no write lock is held while the backend answers)."""
        with self._lock:
            if self._given.get(bucket.id) == limits:
                return False
        with session.no_autoflush:
            backend = native_quota(self._providers.adapter(session, bucket.provider_id))
            region = session.get(Region, bucket.region_id) if backend is not None else None
        if backend is None or region is None:
            return False
        try:
            backend.apply_quota(bucket.name, region.code, limits)
        except ProviderError as error:
            log.warning(
                "bucket %s: its backend's quota was not set (%s); the next sync tries again: %s",
                bucket.id,
                describe(limits),
                error.message,
            )
            return True
        with self._lock:
            self._given[bucket.id] = limits
        log.info("bucket %s: its backend's quota is %s", bucket.id, describe(limits))
        return True


def describe(limits: QuotaLimits) -> str:
    given = ((limits.bytes, "bytes"), (limits.objects, "objects"))
    return " and ".join(f"{amount} {unit}" for amount, unit in given if amount is not None) or "cleared"
