"""``IonosProvider``, the family's ``StorageProvider``, and ``build``, which makes it from a record.

Buckets go to the S3 side (``storage``); keys to the one key issuer (``keys.KeyIssuer``) chosen
here from ``settings["key_api"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopback.providers.base import (
    Access,
    Capabilities,
    Grant,
    IssuedCredential,
    Placement,
    ProviderError,
    ProviderSetup,
    RegionSpec,
    StorageProvider,
    Usage,
)
from loopback.providers.ionos.api import CLOUD_URL, MANAGEMENT_URL, IonosApi
from loopback.providers.ionos.cloud_keys import CloudKeys
from loopback.providers.ionos.keys import KeyIssuer
from loopback.providers.ionos.management_keys import ManagementKeys
from loopback.providers.ionos.naming import NAME_NOTES, ionos_name_problems
from loopback.providers.ionos.regions import IONOS_REGIONS, OWNERSHIP, Ownership
from loopback.providers.ionos.storage import FAMILY, MAX_BUCKETS_PER_USER, IonosS3
from loopback.providers.s3 import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    S3ProviderConfig,
    guard_botocore_logs,
)

KEY_APIS = ("cloud", "management")
ISOLATION_SCOPES = ("project", "organization")


class IonosProvider:
    """IONOS Object Storage: buckets with the operator's S3 key, keys through IONOS's key APIs."""

    family = FAMILY

    def __init__(
        self,
        name: str,
        *,
        access_key_id: str,
        secret_access_key: str,
        api_token: str,
        key_api: str = "cloud",
        endpoints: Mapping[str, str] | None = None,
        management_url: str = MANAGEMENT_URL,
        cloud_url: str = CLOUD_URL,
        user_domain: str | None = None,
        contract_number: str | None = None,
        group_id: str | None = None,
        isolation: str = "project",
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,  # the s3 family's bounds, for both APIs too
        read_timeout: float = READ_TIMEOUT_SECONDS,
        key_poll_interval: float = 1.0,
        key_poll_timeout: float = 60.0,
    ) -> None:
        guard_botocore_logs()
        overrides = dict(endpoints or {})
        unknown = sorted(set(overrides) - set(OWNERSHIP))
        if unknown:
            raise ValueError(
                f"provider {name}: endpoint overrides name unknown IONOS regions {unknown}; "
                f"known are {sorted(OWNERSHIP)}"
            )
        if key_api not in KEY_APIS:
            raise ValueError(
                f"provider {name}: settings.key_api is {key_api!r}; it must be one of {list(KEY_APIS)}"
            )
        if isolation not in ISOLATION_SCOPES:
            raise ValueError(
                f"provider {name}: settings.isolation is {isolation!r}; "
                f"it must be one of {list(ISOLATION_SCOPES)}"
            )
        if key_api == "cloud" and not user_domain:
            raise ValueError(
                f"provider {name}: settings.user_domain is needed with key_api cloud: each tenant's "
                "IONOS user is made with the address lb-<tenant id>@<user_domain>"
            )
        self.name = name
        self._regions = tuple(region.spec(overrides.get(region.code)) for region in IONOS_REGIONS)
        self._storage = IonosS3(
            S3ProviderConfig(
                name=name,
                regions=self._regions,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
        )
        self._keys: KeyIssuer  # chosen once, here: no other method asks which key API is in use
        if key_api == "cloud":
            self._keys = CloudKeys(
                name,
                IonosApi(
                    name,
                    "Cloud API",
                    cloud_url,
                    api_token,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                ),
                self._storage,
                user_domain=user_domain or "",
                contract_number=contract_number,
                group_id=group_id,
                isolation=isolation,
            )
        else:
            self._keys = ManagementKeys(
                name,
                IonosApi(
                    name,
                    "Object Storage Management API",
                    management_url,
                    api_token,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                ),
                self._storage,
                poll_interval=key_poll_interval,
                poll_timeout=key_poll_timeout,
            )

    # --- the contract's simple parts ---------------------------------------------------------

    def regions(self) -> list[RegionSpec]:
        return list(self._regions)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            per_bucket_credentials=False,
            native_usage_stats=False,
            regions_fixed=True,
            access_modes=(Access.READ_WRITE,),
            prefixes=False,
            narrowable=False,
            quota_holds=True,  # the tenant's statement on a bucket over quota loses s3:PutObject
            limits_reason=(
                "ionos keys of one tenant are keys of one IONOS user, and a bucket policy grants that "
                "user, not a key: every key of the tenant gets the same object access to each granted "
                "bucket, so a mode, a prefix or a removed bucket cannot be held to one key"
            ),
            notes=(
                *self._keys.notes,
                "revoking deletes the key at IONOS at once; the bucket policy statement for the "
                "tenant's user stays until the bucket is deleted",
                f"IONOS allows at most {MAX_BUCKETS_PER_USER} buckets per user; every bucket of this "
                "provider is made with the operator's key, so that is this provider's limit",
                *NAME_NOTES,
            ),
        )

    def name_problems(self, bucket: str, region: str) -> list[str]:
        return ionos_name_problems(bucket)

    def slots(self) -> tuple[str, ...]:
        return ()

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._storage.create_bucket(bucket, region, placement)

    def bucket_exists(self, bucket: str, region: str, placement: Placement) -> bool:
        return self._storage.bucket_exists(bucket, region, placement)

    def bucket_names(self, region: str, placement: Placement) -> set[str]:
        return self._storage.bucket_names(region, placement)

    def object_count_hint(self, bucket: str, region: str, limit: int, placement: Placement) -> int:
        return self._storage.object_count_hint(bucket, region, limit, placement)

    def empty_bucket(self, bucket: str, region: str, placement: Placement) -> int:
        return self._storage.empty_bucket(bucket, region, placement)

    def delete_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._storage.delete_bucket(bucket, region, placement)

    def read_usage(self, bucket: str, region: str, placement: Placement) -> Usage:
        return self._storage.read_usage(bucket, region, placement)

    def check(self) -> None:
        """One S3 call with the operator's key, and one read with the API token."""
        self._storage.check()
        self._keys.check()

    # --- credentials -------------------------------------------------------------------------

    def issue_credential(
        self, region: str, user_name: str, grants: Sequence[Grant], placement: Placement
    ) -> IssuedCredential:
        """A new key of the tenant's IONOS identity, and a policy statement on each granted bucket.

        The statement is merged into the bucket's policy (one per principal, its Sid derived from
        the principal), so other tenants' or the operator's statements stay. A key made before a
        later step fails is deleted again.
        """
        ownership = self._ownership(region)
        issued = self._keys.issue([grant.bucket for grant in grants], region, ownership, user_name, placement)
        held = [grant for grant in grants if not grant.writable]
        if held:  # a bucket over its quota: the statement the issue merged loses its writes again
            principal = self._keys.principal(issued.provider_user, ownership)
            for grant in held:
                self._storage.grant(grant.bucket, region, ownership, principal, writable=False)
        return issued

    def update_credential(
        self, region: str, provider_user: str, grants: Sequence[Grant], placement: Placement
    ) -> None:
        """Grant the key's IONOS user each bucket of ``grants`` (statements already there stay).

        Removing a bucket cannot be held to one key (``narrowable`` is false): the credential
        service refuses it before this is called.
        """
        ownership = self._ownership(region)
        principal = self._keys.principal(provider_user, ownership)
        for grant in grants:
            self._storage.grant(grant.bucket, region, ownership, principal, grant.writable)

    def revoke_credential(self, region: str, provider_user: str, placement: Placement) -> None:
        """Delete the key at IONOS; a key (or user) already gone is success.

        The bucket policy statement for the tenant's identity is left in place: it names the
        identity, not the key, other keys of the same tenant may rely on it, and the caller does
        not say which bucket the key was for. It goes with the bucket.
        """
        self._keys.revoke(provider_user)

    def _ownership(self, region: str) -> Ownership:
        try:
            return OWNERSHIP[region]
        except KeyError:
            raise ProviderError(
                f"provider {self.name} has no region {region}", transient=False, code="NoSuchRegion"
            ) from None


def _text(settings: Mapping[str, Any], key: str, name: str) -> str | None:
    value = settings.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"provider {name}: settings.{key} must be a string")
    return str(value)


def _number(settings: Mapping[str, Any], key: str, name: str, default: float) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"provider {name}: settings.{key} must be a positive number")
    return float(value)


def build(setup: ProviderSetup) -> StorageProvider:
    """An ``IonosProvider`` from the record.

    ``access_key_id``/``secret_access_key``: the operator's IONOS S3 key, which makes the buckets.
    ``secrets["api_token"]``: the IONOS API token (``settings.secret_refs.api_token``).
    ``settings``: ``key_api`` (``cloud``/``management``), ``user_domain`` (cloud), ``contract_number``
    (cloud, contract-owned regions), ``group_id`` (a group with the Use Object Storage privilege),
    ``isolation``, ``endpoints`` (per-region overrides), ``management_url``, ``cloud_url``,
    ``key_poll_interval``, ``key_poll_timeout``.
    """
    settings = setup.settings
    if not setup.access_key_id or not setup.secret_access_key:
        raise ValueError(f"provider {setup.name} has no IONOS S3 key for bucket operations")
    token = setup.secrets.get("api_token")
    if not token:
        raise ValueError(
            f"provider {setup.name} has no IONOS API token: settings.secret_refs.api_token must name it"
        )
    endpoints: Any = settings.get("endpoints") or {}
    if not isinstance(endpoints, Mapping) or not all(
        isinstance(code, str) and isinstance(url, str) and url for code, url in endpoints.items()
    ):
        raise ValueError(f"provider {setup.name}: settings.endpoints must map region codes to URLs")
    return IonosProvider(
        setup.name,
        access_key_id=setup.access_key_id,
        secret_access_key=setup.secret_access_key,
        api_token=token,
        key_api=str(settings.get("key_api", "cloud")),
        endpoints=endpoints,
        management_url=_text(settings, "management_url", setup.name) or MANAGEMENT_URL,
        cloud_url=_text(settings, "cloud_url", setup.name) or CLOUD_URL,
        user_domain=_text(settings, "user_domain", setup.name),
        contract_number=_text(settings, "contract_number", setup.name),
        group_id=_text(settings, "group_id", setup.name),
        isolation=str(settings.get("isolation", "project")),
        key_poll_interval=_number(settings, "key_poll_interval", setup.name, 1.0),
        key_poll_timeout=_number(settings, "key_poll_timeout", setup.name, 60.0),
    )
