"""Family ``s3`` with its server's own usage statistics: which admin API a partner's endpoint has.

A partner's S3 endpoint is a MinIO, a Ceph RGW, a SeaweedFS, a Garage ...; the S3 and IAM calls are
the same for all of them (``providers.s3``), but each keeps per-bucket statistics behind an admin
API of its own, which answers a bucket's objects and bytes without listing it. The setting
``admin_api`` names that API; each is a module of this package, chosen from ``VARIANTS`` as
``providers.registry`` chooses families (a new variant is a new module and one line here):

- ``ceph``: RGW's admin ops API, Get Bucket Info with stats for every bucket of the operator's RGW
  user (``rgw``);
- ``minio``: MinIO's admin API, the data usage its scanner keeps (``minio``);
- ``garage``: Garage's admin API v2, GetBucketInfo of one bucket (``garage``);
- ``seaweedfs``: no figures a provider bills, but the master's volume counters, which say which
  buckets' data changed, so only those are listed (``seaweedfs``; the embedded storage has it).

Without ``admin_api`` (or with ``none``) a provider reads usage by listing, as ``providers.s3``
does. RGW and MinIO answer every bucket of a region in one call, which the usage batch asks once
per region (``regionwide``); Garage answers one bucket per call, which replaces its two listings.
"""

from __future__ import annotations

from collections.abc import Callable

from loopback.providers.base import ProviderSetup, StorageProvider
from loopback.providers.s3 import S3Provider, S3ProviderConfig
from loopback.providers.s3_admin import garage, minio, rgw, seaweedfs

VARIANTS: dict[str, Callable[[S3ProviderConfig, ProviderSetup], StorageProvider]] = {
    "ceph": rgw.build,
    "minio": minio.build,
    "garage": garage.build,
    "seaweedfs": seaweedfs.build,
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
    return VARIANTS[str(variant)](config, setup)
