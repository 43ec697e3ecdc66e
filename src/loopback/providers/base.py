"""The contract every provider family implements, and the errors and values it speaks in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

# What a tenant is told of a provider's refusal, by the provider's code. The raw text names the
# operator's key, the provider's own codes (``InvalidAccessKeyId`` reads as if the tenant's key were
# wrong) and sometimes more; it goes to the operator's log, and tenants read only these.
CREDENTIALS_REFUSED = "the provider refused the control plane's credentials; the operator has been told"
CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AuthFailure",
        "AuthorizationHeaderMalformed",
        "ExpiredToken",
        "Forbidden",
        "HTTP401",
        "HTTP403",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "Unauthorized",
        "401",
        "403",
    }
)
TENANT_REASONS: dict[str, str] = {
    "BucketAlreadyExists": "the name is taken at the provider by another account; choose another name",
    "BucketNotEmpty": "the bucket still holds objects at the provider",
    "NoSlot": "the provider has no key linked for this tenant; the operator has been told",
    "NoSuchSlot": "the provider has no key linked for this tenant; the operator has been told",
    "NoSuchRegion": "the provider does not offer this region (anymore); the operator has been told",
    "Timeout": "the provider did not answer in time (timeout)",
    "TooManyBuckets": "the provider's bucket limit is reached; the operator has been told",
    "Unreachable": "the provider could not be reached",
}
TRANSIENT_REASON = "the provider is unavailable for now"
REFUSED_REASON = "the provider refused the request; the operator has been told"


def tenant_reason(code: str | None, transient: bool) -> str:
    """The one translation of a provider's refusal into what a tenant may read: no code, no key."""
    if code in CREDENTIAL_CODES:
        return CREDENTIALS_REFUSED
    if code in TENANT_REASONS:
        return TENANT_REASONS[code]
    return TRANSIENT_REASON if transient else REFUSED_REASON


class ProviderError(Exception):
    """A provider refused or failed. ``transient`` errors are retried; the others are final.

    ``code`` is the provider's own error code (``BucketNotEmpty``, ``AccessDenied`` ...) when it gave one.
    ``message`` is the raw text, for the operator's log; ``summary`` is what a tenant may read
    (``tenant_reason`` of the code, unless the adapter knows better), and never carries a code,
    a key id or a secret.
    """

    def __init__(
        self, message: str, *, transient: bool, code: str | None = None, summary: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.code = code
        self.summary = summary or tenant_reason(code, transient)


@dataclass(frozen=True)
class RegionSpec:
    """A region as the provider offers it: code, display name for pickers, S3 endpoint."""

    code: str
    name: str
    endpoint: str


class Access(StrEnum):
    """What a key may do in one granted bucket; never anything to the bucket itself."""

    READ_WRITE = "read-write"  # get, head, put, delete objects, multipart, list, object tags
    READ_ONLY = "read-only"  # get, head, list, read object tags
    WRITE_ONLY = "write-only"  # put and multipart only: no get, no list, no delete


ALL_ACCESS: tuple[Access, ...] = tuple(Access)


@dataclass(frozen=True)
class Grant:
    """One bucket a key reaches, how, and optionally only under a key prefix."""

    bucket: str
    access: Access = Access.READ_WRITE
    prefix: str | None = None
    # False while the bucket is over a bytes or objects quota: the key keeps reading and deleting,
    # so the tenant can make room, and writes nothing (credentials/quota_enforcement.py)
    writable: bool = True


@dataclass(frozen=True)
class Capabilities:
    """What a family can do, shown to operators and used to decide how to read usage.

    The key fields say what a family can *enforce*; the credential service refuses (422) whatever
    a request asks beyond them, so a key is never silently wider than asked.
    """

    per_bucket_credentials: bool
    native_usage_stats: bool
    regions_fixed: bool = False
    keys_by_slot: bool = False  # keys are operator-linked slots; with none linked, nothing can be placed
    notes: tuple[str, ...] = field(default_factory=tuple)
    access_modes: tuple[Access, ...] = ALL_ACCESS  # the modes a key of this family can be held to
    prefixes: bool = True  # a grant can be held to keys under a prefix
    max_buckets_per_key: int = 128  # grants one key may carry (COSI's BucketAccess allows 128)
    revocable: bool = True  # a key can be revoked at the provider (so it can expire and rotate)
    narrowable: bool = True  # a key's grants can be narrowed after issuance (fewer buckets, less access)
    # the writes of a bucket's keys can be refused while it is over quota (``Grant.writable``); by
    # default where keys can be narrowed, and a family that holds them otherwise says so
    quota_holds: bool | None = None
    # the backend holds a bucket's own bytes and objects limits itself (``NativeQuota``): RGW, MinIO
    # and Garage through their admin APIs; the control plane's hold stays the second line
    native_quota: bool = False
    limits_reason: str = ""  # why a family enforces less, for the 422 that refuses a request


def holds_quota(capabilities: Capabilities) -> bool:
    """Whether a family refuses the writes of a bucket over quota (``Capabilities.quota_holds``)."""
    return capabilities.narrowable if capabilities.quota_holds is None else capabilities.quota_holds


@dataclass(frozen=True)
class QuotaLimits:
    """A bucket's own bytes and objects limits, as a backend holds them natively; None is no limit,
    and neither clears the backend's quota."""

    bytes: int | None = None
    objects: int | None = None

    @property
    def none(self) -> bool:
        return self.bytes is None and self.objects is None


@dataclass(frozen=True)
class IssuedCredential:
    """A new key pair; the caller must encrypt ``secret_access_key`` at once and never log it."""

    provider_user: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"IssuedCredential(provider_user={self.provider_user!r}, access_key_id={self.access_key_id!r})"


@dataclass(frozen=True)
class Placement:
    """Whose bucket it is, and for families whose keys reach a whole account (Hetzner) the
    operator-linked key slot assigned to that tenant alone."""

    organization_id: str
    project_id: str
    slot: str | None = None


@dataclass(frozen=True)
class Usage:
    """What a bucket holds as providers bill it (and as AWS's CloudWatch counts it).

    ``object_count``: every stored version, current and noncurrent (delete markers hold no data and
    are not counted), plus every uploaded part of an unfinished multipart upload.
    ``bytes``: the sizes of all of those. A tenant's own listing shows fewer when the bucket is
    versioned or an upload was left unfinished; both are still stored and billed.
    """

    object_count: int
    bytes: int


@dataclass(frozen=True)
class SlotKey:
    """An operator-linked key (a Hetzner project's S3 key), assigned to one tenant at a time."""

    name: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"SlotKey(name={self.name!r}, access_key_id={self.access_key_id!r})"


@dataclass(frozen=True)
class ProviderSetup:
    """A provider record with its secrets decrypted, handed to a family's builder.

    ``settings`` is the family's own configuration; references to the secret store in it
    (``settings["secret_refs"]`` by name, ``settings["slots"][i]["secret_id"]``) arrive decrypted
    as ``secrets`` and ``slots``. None of it is ever logged or returned.
    """

    name: str
    family: str
    settings: dict[str, Any]
    regions: tuple[RegionSpec, ...]
    access_key_id: str | None
    secret_access_key: str | None
    secrets: dict[str, str] = field(default_factory=dict)
    slots: tuple[SlotKey, ...] = ()

    def __repr__(self) -> str:
        return f"ProviderSetup(name={self.name!r}, family={self.family!r})"


class StorageProvider(Protocol):
    """One configured provider. Every method is idempotent, because automation runs at least once.

    - ``create_bucket`` succeeds when the bucket exists and is ours (``BucketAlreadyOwnedByYou``);
      a name taken by someone else is a permanent ``ProviderError`` with code ``BucketAlreadyExists``.
    - ``bucket_exists`` answers whether the provider has the bucket now.
    - ``bucket_names`` answers every bucket the key serving ``placement`` sees in ``region`` (one
      ListBuckets, paged): the drift round asks it once per provider region (and key slot) and
      confirms with ``bucket_exists`` only the buckets it does not name.
    - ``object_count_hint`` lists at most ``limit`` keys, to refuse deleting a bucket that holds objects.
    - ``empty_bucket`` deletes every object (a forced deletion) and says how many it removed.
    - ``delete_bucket`` succeeds when the bucket is already gone; a bucket with objects is refused
      with code ``BucketNotEmpty``.
    - ``issue_credential`` creates an identity whose key reaches exactly its grants, with object
      operations only (never bucket policy, ACL, creation or deletion); ``update_credential``
      replaces the grants of an existing identity without changing its key; ``revoke_credential``
      removes it and succeeds when it is already gone.
    - ``read_usage`` counts objects and bytes as ``Usage`` says (noncurrent versions and unfinished
      multipart uploads included), natively where the provider can, by listing otherwise. A family
      whose ``Capabilities.native_usage_stats`` is true may also answer ``RegionUsage.read_usages``:
      many buckets of a region in one call, which the usage round asks instead (``region_usage``).
    - ``check`` makes one cheap authenticated call, for readiness.
    - ``name_problems`` adds the family's own naming rules to S3's; ``slots`` lists the key slots
      the operator linked (empty when the family issues keys per bucket itself).
    Every bucket call carries the bucket's ``Placement``.
    Network faults, throttling and 5xx answers raise ``ProviderError(transient=True)``.
    """

    name: str

    def regions(self) -> list[RegionSpec]: ...

    def capabilities(self) -> Capabilities: ...

    def name_problems(self, bucket: str, region: str) -> list[str]: ...

    def slots(self) -> tuple[str, ...]: ...

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None: ...

    def bucket_exists(self, bucket: str, region: str, placement: Placement) -> bool: ...

    def bucket_names(self, region: str, placement: Placement) -> set[str]: ...

    def object_count_hint(self, bucket: str, region: str, limit: int, placement: Placement) -> int: ...

    def empty_bucket(self, bucket: str, region: str, placement: Placement) -> int: ...

    def delete_bucket(self, bucket: str, region: str, placement: Placement) -> None: ...

    def issue_credential(
        self, region: str, user_name: str, grants: Sequence[Grant], placement: Placement
    ) -> IssuedCredential: ...

    def update_credential(
        self, region: str, provider_user: str, grants: Sequence[Grant], placement: Placement
    ) -> None: ...

    def revoke_credential(self, region: str, provider_user: str, placement: Placement) -> None: ...

    def read_usage(self, bucket: str, region: str, placement: Placement) -> Usage: ...

    def check(self) -> None: ...


@runtime_checkable
class RegionUsage(Protocol):
    """A family whose provider keeps statistics of every bucket and answers them in one call.

    ``read_usages`` answers ``Usage`` by name for the ``buckets`` of ``region`` it has figures for;
    a bucket it leaves out has no figure there yet (a statistic not computed yet, a bucket made
    after it), which is not the same as an empty bucket: the caller keeps what it knew of it.
    Failures raise ``ProviderError`` as every other call does.
    """

    def read_usages(self, region: str, buckets: Sequence[str]) -> Mapping[str, Usage]: ...


def region_usage(provider: StorageProvider) -> RegionUsage | None:
    """The provider's call for many buckets' usage at once, when its capabilities say it has one."""
    if provider.capabilities().native_usage_stats and isinstance(provider, RegionUsage):
        return provider
    return None


@runtime_checkable
class NativeQuota(Protocol):
    """A family whose backend refuses a bucket's writes past limits it holds itself.

    ``apply_quota`` sets the bucket's limits at the backend (``QuotaLimits.none`` clears them); it
    is idempotent, and a backend without one of the two limits holds the other alone (MinIO has no
    object count). Failures raise ``ProviderError`` as every other call does.
    """

    def apply_quota(self, bucket: str, region: str, limits: QuotaLimits) -> None: ...


def native_quota(provider: StorageProvider) -> NativeQuota | None:
    """The provider's own bucket quota, when its capabilities say it has one."""
    if provider.capabilities().native_quota and isinstance(provider, NativeQuota):
        return provider
    return None


@runtime_checkable
class BucketHold(Protocol):
    """A family that refuses a bucket's writes at the bucket rather than by its keys (Hetzner, whose
    keys reach every bucket of a tenant and cannot be narrowed): ``hold_writes`` makes the bucket
    refuse, or (``held`` false) accept again, the writes of every key; idempotent."""

    def hold_writes(self, bucket: str, region: str, placement: Placement, held: bool) -> None: ...


def bucket_hold(provider: StorageProvider) -> BucketHold | None:
    """The provider's hold of a whole bucket, when it has one."""
    return provider if isinstance(provider, BucketHold) else None
