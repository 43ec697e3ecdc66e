"""Variants whose admin API answers every bucket of a region in one call (``rgw``, ``minio``).

``StatsS3Provider`` is family ``s3`` with ``read_usages``: the usage batch asks it once per region
for all its buckets, and one answer serves every batch of the process for ``ANSWER_SECONDS`` (a
region's answer names every bucket of it, whichever batch asked). Both admin APIs also hold a
bucket's quota, which ``apply_quota`` sets (``providers.base.NativeQuota``).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from loopback.providers.base import Capabilities, QuotaLimits, RegionSpec, Usage
from loopback.providers.s3 import S3Provider, S3ProviderConfig

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

    def quota(self, spec: RegionSpec, name: str, limits: QuotaLimits) -> None:
        """Set (or, with ``limits.none``, clear) the bucket's quota at the server (one call)."""
        ...


class StatsS3Provider(S3Provider):
    """Family ``s3`` whose usage the server's admin API answers, many buckets in one call."""

    def __init__(self, config: S3ProviderConfig, stats: AdminStats) -> None:
        super().__init__(config)
        self._stats = stats
        self._answers: dict[str, tuple[float, dict[str, Usage]]] = {}  # region: (asked at, answer)
        self._asking: dict[str, threading.Lock] = {}
        self._answers_lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        return dataclasses.replace(super().capabilities(), native_usage_stats=True, native_quota=True)

    def apply_quota(self, bucket: str, region: str, limits: QuotaLimits) -> None:
        self._stats.quota(self._region(region), bucket, limits)

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
