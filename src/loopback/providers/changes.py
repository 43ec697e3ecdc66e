"""Which buckets' stored data changed since a bucket was last listed, where a provider can tell.

A provider whose server keeps counters that move with every write or delete (SeaweedFS's volume
sums: ``s3_admin.seaweedfs``) answers a fingerprint per bucket for a whole region in one call; the
usage batch lists only the buckets whose fingerprint moved since their last listing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from loopback.providers.base import StorageProvider

NO_DATA = "no-data"  # the fingerprint of a bucket the answer does not name: it holds no stored data


@runtime_checkable
class UsageChanges(Protocol):
    def usage_fingerprints(self, region: str) -> Mapping[str, str]:
        """A fingerprint by bucket name of every bucket holding data in ``region``; a bucket left
        out holds none (``NO_DATA``). Failures raise ``ProviderError``."""
        ...


def usage_changes(provider: StorageProvider) -> UsageChanges | None:
    """The provider's region-wide change signal, when it has one."""
    return provider if isinstance(provider, UsageChanges) else None
