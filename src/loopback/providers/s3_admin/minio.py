"""``admin_api: minio``: the data usage MinIO's background scanner keeps.

One call answers every bucket of the deployment: ``GET /minio/admin/v3/datausageinfo?capacity=true``
(as madmin-go's ``AdminClient.DataUsageInfo`` asks it, ``info-commands.go``; the key needs the
``admin:DataUsageInfo`` action), answering madmin-go's ``DataUsageInfo``, whose
``bucketsUsageInfo`` maps each bucket's name to a ``BucketUsageInfo``: ``size`` (bytes of every
stored version), ``objectsCount`` (current objects), ``versionsCount`` (every version, current and
noncurrent), ``deleteMarkersCount`` and histograms. Counted here as a listing counts
(``providers.base.Usage``): ``versionsCount`` objects (``objectsCount`` from a server too old to
send versions) and ``size`` bytes.

What it does not give: the parts of unfinished multipart uploads (the scanner counts objects, and an
upload's parts are not one yet), so a MinIO bucket's figure leaves them out where a listing counts
them; and the figures are as old as the scanner's last cycle (``lastUpdate``), minutes on a busy
deployment. A bucket the scanner has not reached yet is not in the map: it keeps its last figures.

The bucket's quota is madmin-go's ``AdminClient.SetBucketQuota`` (``quota-commands.go``):
``PUT /minio/admin/v3/set-bucket-quota?bucket=NAME`` with the JSON of its ``BucketQuota``
(``size`` in bytes, ``rate``, ``requests``, ``quotatype`` ``hard``; the key needs
``admin:SetBucketQuota``); a ``size`` of 0 disables it, as ``mc admin bucket quota --clear`` does.
MinIO has no object-count quota: an objects limit is held by the control plane alone. MinIO checks
a write against the bucket's size from its scanner's last cycle, so a bucket can pass its limit by
what is written before the scanner counts it.
"""

from __future__ import annotations

from dataclasses import dataclass

from loopback.providers.base import (
    ProviderError,
    ProviderSetup,
    QuotaLimits,
    RegionSpec,
    StorageProvider,
    Usage,
)
from loopback.providers.s3 import S3ProviderConfig
from loopback.providers.s3_admin.regionwide import StatsS3Provider
from loopback.providers.s3_admin.signed import AdminKey, admin_key, count, signed, signed_get

PATH = "/minio/admin/v3/datausageinfo"
QUOTA_PATH = "/minio/admin/v3/set-bucket-quota"


@dataclass(frozen=True)
class MinioStats:
    key: AdminKey

    def region(self, spec: RegionSpec) -> dict[str, Usage]:
        answer = signed_get(self.key, spec, PATH, [("capacity", "true")], "read data usage")
        buckets = answer.get("bucketsUsageInfo") if isinstance(answer, dict) else None
        if buckets is None:
            return {}  # the scanner has not finished a first cycle
        if not isinstance(buckets, dict):
            raise ProviderError(
                "read data usage: bucketsUsageInfo is not a map", transient=False, code="BadAnswer"
            )
        return {
            name: Usage(
                object_count=max(count(info.get("versionsCount")), count(info.get("objectsCount"))),
                bytes=count(info.get("size")),
            )
            for name, info in buckets.items()
            if isinstance(info, dict)
        }

    def bucket(self, spec: RegionSpec, name: str) -> dict[str, Usage] | None:
        return None  # MinIO's data usage comes for the whole deployment at once

    def quota(self, spec: RegionSpec, name: str, limits: QuotaLimits) -> None:
        document: dict[str, object] = {"size": limits.bytes or 0, "rate": 0, "requests": 0}
        if limits.bytes is not None:
            document["quotatype"] = "hard"
        signed(self.key, spec, "PUT", QUOTA_PATH, [("bucket", name)], "set bucket quota", document)


def build(config: S3ProviderConfig, setup: ProviderSetup) -> StorageProvider:
    return StatsS3Provider(config, MinioStats(admin_key(setup)))
