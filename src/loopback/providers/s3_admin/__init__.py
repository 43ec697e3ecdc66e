"""Family ``s3`` with its server's own usage statistics: which admin API a partner's endpoint has.

A partner's S3 endpoint is a MinIO, a Ceph RGW, a SeaweedFS, a Garage ...; the S3 and IAM calls are
the same for all of them (``providers.s3``), but each keeps per-bucket statistics behind an admin
API of its own, which answers a bucket's objects and bytes without listing it. The setting
``admin_api`` names that API; each is a module of this package, chosen from ``VARIANTS`` as
``providers.registry`` chooses families (a new variant is a new module and one line here):

- ``ceph``: RGW's admin ops API, Get Bucket Info with stats for every bucket of the operator's RGW
  user (``rgw``);
- ``minio``: MinIO's admin API, the data usage its scanner keeps (``minio``).

Without ``admin_api`` (or with ``none``) a provider reads usage by listing, as ``providers.s3``
does. With one, its usage batch asks ``read_usages`` once per region for all the batch's buckets,
and an answer serves every batch of the process for ``ANSWER_SECONDS`` (a region's answer names
every bucket of it, whichever batch asked).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from loopback.providers.base import Capabilities, ProviderSetup, RegionSpec, StorageProvider, Usage
from loopback.providers.s3 import S3Provider, S3ProviderConfig
from loopback.providers.s3_admin import minio, rgw

# How long one region-wide answer serves the batches of a round in this process. Every batch of a
# round runs within a few minutes of the first; the statistics themselves are as old as the
# server keeps them (RGW: current; MinIO: its last scanner cycle, minutes).
ANSWER_SECONDS = 60.0


class AdminStats(Protocol):
    """One variant: the statistics of a region's buckets, by the server's admin API."""

    def region(self, spec: RegionSpec) -> dict[str, Usage]:
        """Every bucket the server has figures for in the region, by name (one call)."""
        ...

    def bucket(self, spec: RegionSpec, name: str) -> dict[str, Usage] | None:
        """One bucket's figures by a call for it alone, when the API has one (``None`` otherwise)."""
        ...


VARIANTS: dict[str, Callable[[ProviderSetup], AdminStats]] = {
    "ceph": rgw.build,
    "minio": minio.build,
}
NO_ADMIN_API = frozenset({"", "none"})


def s3_config(setup: ProviderSetup) -> S3ProviderConfig:
    """The S3 and IAM side of a provider of family ``s3``, whatever its admin API."""
    if not setup.access_key_id or not setup.secret_access_key:
        raise ValueError(f"provider {setup.name} has no service credentials")
    iam_endpoint = setup.settings.get("iam_endpoint")
    return S3ProviderConfig(
        name=setup.name,
        regions=setup.regions,
        access_key_id=setup.access_key_id,
        secret_access_key=setup.secret_access_key,
        iam_endpoint=str(iam_endpoint) if iam_endpoint else None,
    )


def build(setup: ProviderSetup) -> StorageProvider:
    """A provider of family ``s3``: with its admin API's statistics when ``admin_api`` names one."""
    config = s3_config(setup)
    variant = setup.settings.get("admin_api")
    if variant is None or variant in NO_ADMIN_API:
        return S3Provider(config)
    if variant not in VARIANTS:
        known = ", ".join(sorted(VARIANTS))
        raise ValueError(
            f"provider {setup.name}: settings.admin_api is {variant!r}; it must be one of {known}"
        )
    return StatsS3Provider(config, VARIANTS[str(variant)](setup))


class StatsS3Provider(S3Provider):
    """Family ``s3`` whose usage the server's admin API answers, many buckets in one call."""

    def __init__(self, config: S3ProviderConfig, stats: AdminStats) -> None:
        super().__init__(config)
        self._stats = stats
        self._answers: dict[str, tuple[float, dict[str, Usage]]] = {}  # region: (asked at, answer)
        self._asking: dict[str, threading.Lock] = {}
        self._answers_lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        return dataclasses.replace(super().capabilities(), native_usage_stats=True)

    def read_usages(self, region: str, buckets: Sequence[str]) -> Mapping[str, Usage]:
        """The figures of ``buckets`` the server has: a bucket alone by its own call where the API
        has one (a tenant's refresh), otherwise the region's answer, asked once per
        ``ANSWER_SECONDS`` however many batches want it (the others wait for it)."""
        spec = self._region(region)
        if len(buckets) == 1:
            alone = self._stats.bucket(spec, buckets[0])
            if alone is not None:
                return alone
        answer = self._region_answer(spec)
        return {name: answer[name] for name in buckets if name in answer}

    def _region_answer(self, spec: RegionSpec) -> dict[str, Usage]:
        with self._answers_lock:
            asking = self._asking.setdefault(spec.code, threading.Lock())
        with asking:  # one call per region at a time; whoever waited reads its answer
            with self._answers_lock:
                kept = self._answers.get(spec.code)
            if kept is not None and time.monotonic() - kept[0] < ANSWER_SECONDS:
                return kept[1]
            asked = time.monotonic()
            answer = self._stats.region(spec)
            with self._answers_lock:
                self._answers[spec.code] = (asked, answer)
            return answer
