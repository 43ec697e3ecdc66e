"""``admin_api: ceph``: Ceph RGW's admin ops API, Get Bucket Info with statistics.

One call answers every bucket of the RGW user that owns the provider's buckets
(``GET /admin/bucket?format=json&stats=True&uid=USER``, capability ``buckets=read``): a JSON list
with one object per bucket, as ``RGWBucketAdminOp::info`` writes it (``bucket_stats`` and
``dump_bucket_usage`` in Ceph's ``src/rgw/driver/rados/rgw_bucket.cc``; Admin Operations, "Get
Bucket Info", in Ceph's documentation). A bucket alone is ``...&bucket=NAME``: one such object.

Each object's ``usage`` holds RGW's own accounting per object category, from the bucket index's
header (no listing): ``size`` (logical bytes), ``size_actual`` (rounded up to 4 KiB per object),
``size_utilized`` (after compression), their ``_kb`` forms and ``num_objects``. Counted here as a
listing counts (``providers.base.Usage``), in logical bytes:

- ``rgw.main``: every stored object version (RGW indexes each version);
- ``rgw.multipart``: the parts uploaded to unfinished multipart uploads, in releases that keep them
  apart (Ceph pull request 69591); older ones count them in ``rgw.main`` already;
- ``rgw.multimeta``: one entry per unfinished upload, holding no part: its bytes count (none, in
  practice), its entries do not, since they are uploads, not parts.

An empty bucket has an empty ``usage``: 0 objects and 0 bytes.

The bucket's quota is Set Quota for an Individual Bucket (Admin Operations;
``PUT /admin/bucket?quota&uid=USER&bucket=NAME``, capability ``buckets=write``), whose JSON body is
the quota as Get Bucket Info writes it, read by ``RGWQuotaInfo::decode_json`` (Ceph
``src/rgw/rgw_common.cc``): ``enabled``, ``max_size`` in bytes and ``max_objects``, a negative
value for no limit. Clearing disables it (``enabled`` false, both -1). RGW checks it at each write
against the bucket's stats, which it caches (``rgw_bucket_quota_ttl``, 600 s by default), so a
bucket can pass its limit by what is written within that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
from loopback.providers.s3_admin.signed import AdminKey, admin_key, count, required, signed, signed_get

PATH = "/admin/bucket"
OBJECTS = ("rgw.main", "rgw.multipart")
BYTES = ("rgw.main", "rgw.multipart", "rgw.multimeta")


@dataclass(frozen=True)
class RgwStats:
    key: AdminKey
    uid: str

    def region(self, spec: RegionSpec) -> dict[str, Usage]:
        query = [("format", "json"), ("stats", "True"), ("uid", self.uid)]
        answer = signed_get(self.key, spec, PATH, query, "read bucket stats")
        if not isinstance(answer, list):
            raise ProviderError(
                "read bucket stats: the answer is not a list", transient=False, code="BadAnswer"
            )
        return dict(
            named(entry)
            for entry in answer
            if isinstance(entry, dict) and isinstance(entry.get("bucket"), str)
        )

    def bucket(self, spec: RegionSpec, name: str) -> dict[str, Usage] | None:
        query = [("bucket", name), ("format", "json"), ("stats", "True")]
        try:
            answer = signed_get(self.key, spec, PATH, query, "read bucket stats")
        except ProviderError as error:
            if error.code in ("NoSuchBucket", "HTTP404"):
                return {}  # not there: no figure, which the caller keeps apart from zero
            raise
        return dict([named(answer)]) if isinstance(answer, dict) and answer.get("bucket") == name else {}

    def quota(self, spec: RegionSpec, name: str, limits: QuotaLimits) -> None:
        query = [("bucket", name), ("quota", ""), ("uid", self.uid)]
        signed(self.key, spec, "PUT", PATH, query, "set bucket quota", quota_document(limits))


def quota_document(limits: QuotaLimits) -> dict[str, Any]:
    """RGW's ``RGWQuotaInfo`` for the limits: -1 for no limit, disabled when there is none."""
    return {
        "enabled": not limits.none,
        "max_size": -1 if limits.bytes is None else limits.bytes,
        "max_objects": -1 if limits.objects is None else limits.objects,
    }


def named(entry: dict[str, Any]) -> tuple[str, Usage]:
    """A bucket's name and its usage, from one object of Get Bucket Info's answer."""
    categories = entry.get("usage")
    usage: dict[str, Any] = categories if isinstance(categories, dict) else {}

    def total(names: tuple[str, ...], field: str) -> int:
        return sum(count(usage[name].get(field)) for name in names if isinstance(usage.get(name), dict))

    return str(entry["bucket"]), Usage(object_count=total(OBJECTS, "num_objects"), bytes=total(BYTES, "size"))


def build(config: S3ProviderConfig, setup: ProviderSetup) -> StorageProvider:
    uid = required(setup, "admin_uid", "the RGW user that owns the buckets")
    return StatsS3Provider(config, RgwStats(admin_key(setup), uid))
