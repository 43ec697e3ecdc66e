"""The contract every provider family implements, and the errors and values it speaks in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class ProviderError(Exception):
    """A provider refused or failed. ``transient`` errors are retried; the others are final.

    ``code`` is the provider's own error code (``BucketNotEmpty``, ``AccessDenied`` ...) when it gave one.
    """

    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.code = code


@dataclass(frozen=True)
class RegionSpec:
    """A region as the provider offers it: code, display name for pickers, S3 endpoint."""

    code: str
    name: str
    endpoint: str


@dataclass(frozen=True)
class Capabilities:
    """What a family can do, shown to operators and used to decide how to read usage."""

    per_bucket_credentials: bool
    native_usage_stats: bool
    regions_fixed: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class IssuedCredential:
    """A new key pair; the caller must encrypt ``secret_access_key`` at once and never log it."""

    provider_user: str
    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:
        return f"IssuedCredential(provider_user={self.provider_user!r}, access_key_id={self.access_key_id!r})"


@dataclass(frozen=True)
class Usage:
    object_count: int
    bytes: int


class StorageProvider(Protocol):
    """One configured provider. Every method is idempotent, because automation runs at least once.

    - ``create_bucket`` succeeds when the bucket exists and is ours (``BucketAlreadyOwnedByYou``);
      a name taken by someone else is a permanent ``ProviderError`` with code ``BucketAlreadyExists``.
    - ``bucket_exists`` answers whether the provider has the bucket now.
    - ``object_count_hint`` lists at most ``limit`` keys, to refuse deleting a bucket that holds objects.
    - ``delete_bucket`` succeeds when the bucket is already gone; a bucket with objects is refused
      with code ``BucketNotEmpty``.
    - ``issue_credential`` creates an identity whose key reaches exactly one bucket;
      ``revoke_credential`` removes it and succeeds when it is already gone.
    - ``read_usage`` counts objects and bytes, natively where the provider can, by listing otherwise.
    - ``check`` makes one cheap authenticated call, for readiness.
    Network faults, throttling and 5xx answers raise ``ProviderError(transient=True)``.
    """

    name: str

    def regions(self) -> list[RegionSpec]: ...

    def capabilities(self) -> Capabilities: ...

    def create_bucket(self, bucket: str, region: str) -> None: ...

    def bucket_exists(self, bucket: str, region: str) -> bool: ...

    def object_count_hint(self, bucket: str, region: str, limit: int) -> int: ...

    def delete_bucket(self, bucket: str, region: str) -> None: ...

    def issue_credential(self, bucket: str, region: str, user_name: str) -> IssuedCredential: ...

    def revoke_credential(self, region: str, provider_user: str) -> None: ...

    def read_usage(self, bucket: str, region: str) -> Usage: ...

    def check(self) -> None: ...
