"""``admin_api: garage``: Garage's admin API v2, GetBucketInfo of one bucket.

Garage's admin API listens apart from its S3 API (``[admin] api_bind_addr``, port 3903 by default),
so ``settings.admin_endpoint`` is required, and it takes a bearer token (``[admin] admin_token``),
kept in the secret store as the provider's named secret ``admin_token``. The call is
``GET /v2/GetBucketInfo?globalAlias=NAME`` (Garage's ``src/api/admin/api.rs``, ``GetBucketInfoRequest``
and ``GetBucketInfoResponse``; reference manual, Administration API), which answers the bucket's
``objects`` and ``bytes`` and its unfinished multipart uploads' ``unfinishedMultipartUploadParts``
and ``unfinishedMultipartUploadBytes`` from counters Garage keeps, with no listing.

Garage has no region-wide call for these (ListBuckets answers ids and aliases only), so this is
one call per bucket: ``read_usage`` replaced, not ``read_usages``. Garage keeps no versions, so
its objects are every stored object; counted as a listing counts (``providers.base.Usage``):
objects plus parts, bytes plus the parts' bytes.

The bucket's quota is UpdateBucket (``POST /v2/UpdateBucket?id=ID``, ``UpdateBucketRequestBody``
with ``quotas``: ``ApiBucketQuotas``, ``maxSize`` in bytes and ``maxObjects``, null for no limit),
after GetBucketInfo has named the bucket's id. Garage checks both at each write against the
counters it keeps, as of the write before it.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from loopback.providers.base import (
    Capabilities,
    Placement,
    ProviderError,
    ProviderSetup,
    QuotaLimits,
    StorageProvider,
    Usage,
)
from loopback.providers.s3 import S3Provider, S3ProviderConfig
from loopback.providers.s3_admin.signed import answer_of, count, required

PATH = "/v2/GetBucketInfo"
UPDATE_PATH = "/v2/UpdateBucket"


class GarageS3Provider(S3Provider):
    """Family ``s3`` at a Garage, whose bucket usage its admin API answers, a bucket per call."""

    def __init__(self, config: S3ProviderConfig, endpoint: str, token: str) -> None:
        super().__init__(config)
        self._admin_endpoint = endpoint.rstrip("/")
        self._admin_token = token

    def capabilities(self) -> Capabilities:
        return Capabilities(per_bucket_credentials=True, native_usage_stats=True, native_quota=True)

    def _info(self, bucket: str, region: str) -> dict[str, object]:
        self._region(region)  # a region the provider has, as every call checks
        url = f"{self._admin_endpoint}{PATH}?{urlencode({'globalAlias': bucket})}"
        answer = answer_of(url, self._bearer(), "read bucket info")
        return answer if isinstance(answer, dict) else {}

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._admin_token}"}

    def apply_quota(self, bucket: str, region: str, limits: QuotaLimits) -> None:
        bucket_id = self._info(bucket, region).get("id")
        if not isinstance(bucket_id, str):
            raise ProviderError("read bucket info: the answer has no id", transient=False, code="BadAnswer")
        body = {"quotas": {"maxSize": limits.bytes, "maxObjects": limits.objects}}
        url = f"{self._admin_endpoint}{UPDATE_PATH}?{urlencode({'id': bucket_id})}"
        headers = {**self._bearer(), "Content-Type": "application/json"}
        answer_of(url, headers, "set bucket quotas", "POST", json.dumps(body).encode())

    def read_usage(self, bucket: str, region: str, placement: Placement) -> Usage:
        info = self._info(bucket, region)
        return Usage(
            object_count=count(info.get("objects")) + count(info.get("unfinishedMultipartUploadParts")),
            bytes=count(info.get("bytes")) + count(info.get("unfinishedMultipartUploadBytes")),
        )


def build(config: S3ProviderConfig, setup: ProviderSetup) -> StorageProvider:
    endpoint = required(setup, "admin_endpoint", "Garage's admin API (its port 3903 by default)")
    token = setup.secrets.get("admin_token")
    if not token:
        raise ValueError(f"provider {setup.name}: admin_api garage needs the secret admin_token")
    return GarageS3Provider(config, endpoint, token)
