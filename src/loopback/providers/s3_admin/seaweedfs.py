"""``admin_api: seaweedfs``: which buckets' stored data changed, from the SeaweedFS master's volumes.

SeaweedFS keeps no per-bucket figure a provider bills (its volume sums count compressed needles and
chunks, and a deleted object until its volume is vacuumed: ``docs/scale.md``), so usage is still
read by listing. But those sums *change* whenever a bucket's stored data does: every needle written
(an object, a version, a multipart part) adds to its volume's ``FileCount`` and ``Size``, every one
deleted to ``DeleteCount``; a bucket's needles live in the volumes of the collection named after it.
The master's ``GET /vol/status`` (``settings.admin_endpoint``: the master's HTTP address) lists every
volume of every collection in one answer, so one call per batch says which of its buckets changed;
the usage batch lists only those (``buckets.usage``), and the rest keep their figures, synced now.

What this cannot see, since it writes no needle: an empty object, a delete marker, a completed
multipart upload (its parts become the object in place). Bytes are right whatever happens; an object
count can lag until the bucket's next full listing, which the usage batch makes at least daily
(``RoundLimits.full_listing``). Volume servers report to the master every few seconds (measured 4.5
to 4.8 s with SeaweedFS 4.48), so a write in the last seconds before a round is seen by the next one.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from loopback.providers.base import ProviderError, ProviderSetup, StorageProvider
from loopback.providers.s3 import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, S3Provider, S3ProviderConfig
from loopback.providers.s3_admin.signed import required

PATH = "/vol/status"
# What of a volume moves when a needle is written or deleted (and, harmlessly, when it is vacuumed).
COUNTERS = ("Id", "FileCount", "DeleteCount", "Size", "DeletedByteCount", "ModifiedAtSecond")


class SeaweedS3Provider(S3Provider):
    """Family ``s3`` on SeaweedFS, whose master tells which buckets' data changed, all in one call."""

    def __init__(self, config: S3ProviderConfig, master: str) -> None:
        super().__init__(config)
        self._master = master.rstrip("/")

    def usage_fingerprints(self, region: str) -> Mapping[str, str]:
        """A fingerprint of every bucket's volumes, by name: a bucket whose data changed has a new
        one. A bucket with no volume is ``NO_DATA``, which callers read from a missing name."""
        try:
            answer = httpx.get(
                self._master + PATH,
                timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            )
            answer.raise_for_status()
            status = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderError(
                f"read the SeaweedFS master's volumes: {error}", transient=True, code="MasterUnreachable"
            ) from error
        return fingerprints(status)


def fingerprints(status: Any) -> dict[str, str]:
    """Each collection's volumes' counters, hashed; a volume held by several servers counts once."""
    volumes: dict[str, dict[int, tuple[Any, ...]]] = defaultdict(dict)
    for volume in volume_entries(status.get("Volumes") if isinstance(status, dict) else None):
        collection = volume.get("Collection")
        if isinstance(collection, str) and collection and isinstance(volume.get("Id"), int):
            counters = tuple(volume.get(name) for name in COUNTERS)
            volumes[collection].setdefault(volume["Id"], counters)
    return {
        name: hashlib.sha256(repr(sorted(by_id.values())).encode()).hexdigest()[:32]
        for name, by_id in volumes.items()
    }


def volume_entries(tree: Any) -> Iterator[dict[str, Any]]:
    """The volume objects of ``/vol/status``: lists under data center, rack and server names."""
    if isinstance(tree, list):
        for item in tree:
            if isinstance(item, dict) and "FileCount" in item:
                yield item
    elif isinstance(tree, dict):
        for value in tree.values():
            yield from volume_entries(value)


def build(config: S3ProviderConfig, setup: ProviderSetup) -> StorageProvider:
    master = required(
        setup, "admin_endpoint", "the SeaweedFS master's HTTP address (its port 9333 by default)"
    )
    return SeaweedS3Provider(config, master)
