"""Family ``hetzner``: Hetzner Object Storage, whose S3 keys are made by hand and reach a whole project.

Hetzner offers no public API for S3 keys: they are created in the Hetzner Cloud Console, per
Hetzner project, and each one reaches every bucket of that project. So the operator links one key
per Hetzner project as a *slot*; ``ProviderService.place`` assigns each tenant (a project, or an
organization with ``isolation: organization``) a slot of its own, and every call for a bucket uses
that bucket's slot key. A credential issued for a bucket is the tenant's slot key itself: it reaches
every bucket of that tenant at this provider, and never another tenant's.

The S3 work itself is the ``s3`` family's: one ``S3Provider`` per slot key, composed, not copied.

A bucket over its bytes or objects quota is held at the bucket, since its keys cannot be narrowed:
one statement of its bucket policy (``HOLD_SID``) denies ``s3:PutObject`` (which covers uploads,
multipart parts and copies into it) to every principal, merged into whatever policy the bucket
has, and removed when the bucket is back under (``hold_writes``). Hetzner takes bucket policies
(its list of supported actions names no exception for them); a ``Deny`` to ``"*"`` needs no
Hetzner principal format, which Hetzner does not publish.
"""

from __future__ import annotations

import json
import threading
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
    SlotKey,
    StorageProvider,
    Usage,
)
from loopback.providers.s3 import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    S3Provider,
    S3ProviderConfig,
    guard_botocore_logs,
    with_statement,
)

FAMILY = "hetzner"

# Hetzner's Object Storage locations and their endpoints (docs.hetzner.com/storage/object-storage/overview).
REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec("fsn1", "Falkenstein", "https://fsn1.your-objectstorage.com"),
    RegionSpec("nbg1", "Nuremberg", "https://nbg1.your-objectstorage.com"),
    RegionSpec("hel1", "Helsinki", "https://hel1.your-objectstorage.com"),
)
COUNTRIES: dict[str, str] = {"fsn1": "DE", "nbg1": "DE", "hel1": "FI"}  # ISO 3166-1 alpha-2

ISOLATION_SCOPES = frozenset({"project", "organization"})
HOLD_SID = "LoopbackQuotaHold"  # the bucket-policy statement that refuses writes while over quota
SLOT_USER_PREFIX = "slot:"


class HetznerProvider:
    """A Hetzner Object Storage account, reached through the operator-linked key slots."""

    family = FAMILY

    def __init__(
        self,
        name: str,
        slots: tuple[SlotKey, ...],
        endpoints: Mapping[str, str] | None = None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        guard_botocore_logs()
        overrides = dict(endpoints or {})
        unknown = sorted(set(overrides) - {region.code for region in REGIONS})
        if unknown:
            raise ValueError(
                f"provider {name}: endpoint overrides name unknown Hetzner regions {unknown}; "
                f"known are {[region.code for region in REGIONS]}"
            )
        names = [slot.name for slot in slots]
        duplicates = sorted({slot for slot in names if names.count(slot) > 1})
        if duplicates:
            raise ValueError(f"provider {name}: key slots {duplicates} are linked more than once")
        self.name = name
        self._regions = tuple(
            RegionSpec(region.code, region.name, overrides.get(region.code, region.endpoint))
            for region in REGIONS
        )
        self._region_codes = frozenset(region.code for region in self._regions)
        self._slot_keys = {slot.name: slot for slot in slots}
        self._slot_order = tuple(names)
        self._timeouts = (connect_timeout, read_timeout)
        self._adapters: dict[str, S3Provider] = {}
        self._lock = threading.Lock()

    def _slot(self, placement: Placement) -> S3Provider:
        """The ``s3`` adapter speaking with the key of the bucket's slot; built once per slot."""
        slot = placement.slot
        if not slot:
            raise ProviderError(
                f"provider {self.name}: the bucket has no key slot; Hetzner keys reach a whole "
                "Hetzner project, so every bucket needs its tenant's linked key",
                transient=False,
                code="NoSlot",
            )
        key = self._slot_keys.get(slot)
        if key is None:
            raise ProviderError(
                f"provider {self.name}: key slot {slot!r} is not linked (anymore); "
                "the operator must link it again",
                transient=False,
                code="NoSuchSlot",
            )
        with self._lock:
            adapter = self._adapters.get(slot)
            if adapter is None:
                adapter = S3Provider(
                    S3ProviderConfig(
                        name=self.name,
                        regions=self._regions,
                        access_key_id=key.access_key_id,
                        secret_access_key=key.secret_access_key,
                        connect_timeout=self._timeouts[0],
                        read_timeout=self._timeouts[1],
                    )
                )
                self._adapters[slot] = adapter
            return adapter

    def _check_region(self, region: str) -> None:
        if region not in self._region_codes:
            raise ProviderError(
                f"provider {self.name} has no region {region}", transient=False, code="NoSuchRegion"
            )

    def regions(self) -> list[RegionSpec]:
        return list(self._regions)

    def capabilities(self) -> Capabilities:
        return Capabilities(
            per_bucket_credentials=False,
            native_usage_stats=False,
            regions_fixed=True,
            keys_by_slot=True,
            access_modes=(Access.READ_WRITE,),
            prefixes=False,
            revocable=False,
            narrowable=False,
            quota_holds=True,  # at the bucket, by its policy (``hold_writes``), not by its keys
            limits_reason=(
                "hetzner keys reach every bucket of a Hetzner project with full object access, and "
                "Hetzner has no API to make, limit or revoke them"
            ),
            notes=(
                "keys are per tenant, not per bucket: a credential is the tenant's linked Hetzner "
                "project key and reaches every bucket of that tenant at this provider, no other's",
                "Hetzner has no API for keys: the operator creates one per Hetzner project in the "
                "Hetzner Cloud Console and links it as a slot; each tenant gets a slot of its own",
                "revoking a credential marks the record only; the key stays valid until the "
                "operator rotates it in the Hetzner Cloud Console",
            ),
        )

    def name_problems(self, bucket: str, region: str) -> list[str]:
        return []  # S3's rules are checked for every family; no documented Hetzner rule adds to them

    def slots(self) -> tuple[str, ...]:
        return self._slot_order

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._slot(placement).create_bucket(bucket, region, placement)

    def bucket_exists(self, bucket: str, region: str, placement: Placement) -> bool:
        return self._slot(placement).bucket_exists(bucket, region, placement)

    def bucket_names(self, region: str, placement: Placement) -> set[str]:
        """The buckets the tenant's slot key sees: its Hetzner project's, and no other tenant's."""
        return self._slot(placement).bucket_names(region, placement)

    def object_count_hint(self, bucket: str, region: str, limit: int, placement: Placement) -> int:
        return self._slot(placement).object_count_hint(bucket, region, limit, placement)

    def empty_bucket(self, bucket: str, region: str, placement: Placement) -> int:
        return self._slot(placement).empty_bucket(bucket, region, placement)

    def delete_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._slot(placement).delete_bucket(bucket, region, placement)

    def issue_credential(
        self, region: str, user_name: str, grants: Sequence[Grant], placement: Placement
    ) -> IssuedCredential:
        """The tenant's own slot key, since Hetzner cannot mint keys.

        It reaches every bucket of this tenant at this provider (the Hetzner project behind the
        slot holds this tenant's buckets only) and no bucket of any other tenant.
        """
        self._check_region(region)
        self._slot(placement)  # a missing or unlinked slot is refused here, as for every bucket call
        assert placement.slot is not None
        key = self._slot_keys[placement.slot]
        return IssuedCredential(
            provider_user=f"{SLOT_USER_PREFIX}{placement.slot}",
            access_key_id=key.access_key_id,
            secret_access_key=key.secret_access_key,
        )

    def update_credential(
        self, region: str, provider_user: str, grants: Sequence[Grant], placement: Placement
    ) -> None:
        """Nothing to change at Hetzner: the slot key reaches every bucket of the tenant already.

        Only widening to more of the tenant's buckets reaches here; narrowing is refused by the
        credential service, because ``capabilities().narrowable`` is false.
        """
        self._check_region(region)
        self._slot(placement)

    def revoke_credential(self, region: str, provider_user: str, placement: Placement) -> None:
        """Nothing happens at Hetzner: the key is the tenant's shared slot key, which no API can revoke.

        The caller marks the credential record revoked; the key itself stays valid until the
        operator rotates it in the Hetzner Cloud Console. Until then it still reaches only that
        tenant's own buckets, because the slot is never given to another tenant.
        """

    def hold_writes(self, bucket: str, region: str, placement: Placement, held: bool) -> None:
        """Add (``held``) or remove the bucket policy's statement denying every principal's writes;
        the policy's other statements stay, and a policy left empty is deleted."""
        self._check_region(region)
        slot = self._slot(placement)
        policy = held_policy(slot.bucket_policy(bucket, region), bucket, held)
        if policy is None:
            slot.delete_bucket_policy(bucket, region)
        else:
            slot.put_bucket_policy(bucket, region, json.dumps(policy, separators=(",", ":")))

    def read_usage(self, bucket: str, region: str, placement: Placement) -> Usage:
        return self._slot(placement).read_usage(bucket, region, placement)

    def check(self) -> None:
        if not self._slot_order:
            raise ProviderError(
                f"provider {self.name} has no key slot linked; create an S3 key in the Hetzner Cloud "
                "Console for a Hetzner project and link it",
                transient=False,
                code="NoSlot",
            )
        first = self._slot_order[0]
        placement = Placement("", "", first)
        self._slot(placement).check()


def build(setup: ProviderSetup) -> StorageProvider:
    """A ``HetznerProvider`` from the record: linked slots, and ``settings["endpoints"]`` overrides."""
    endpoints: Any = setup.settings.get("endpoints") or {}
    if not isinstance(endpoints, Mapping) or not all(
        isinstance(code, str) and isinstance(url, str) and url for code, url in endpoints.items()
    ):
        raise ValueError(f"provider {setup.name}: settings.endpoints must map region codes to URLs")
    isolation = setup.settings.get("isolation", "project")
    if isolation not in ISOLATION_SCOPES:
        raise ValueError(
            f"provider {setup.name}: settings.isolation is {isolation!r}; "
            f"it must be one of {sorted(ISOLATION_SCOPES)}"
        )
    return HetznerProvider(setup.name, setup.slots, endpoints)


def held_policy(existing: str | None, bucket: str, held: bool) -> dict[str, Any] | None:
    """``existing`` with the quota hold's statement added (``held``) or taken out; None when nothing
    is left of it."""
    statement = {
        "Sid": HOLD_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/*"],
    }
    policy = with_statement(existing, bucket, HOLD_SID, statement if held else None, "hold writes")
    return policy if policy["Statement"] else None
