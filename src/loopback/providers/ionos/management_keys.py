"""Keys through IONOS's Object Storage Management API: keys of the API token's own user.

``POST /accesskeys`` makes a key of the token's own IONOS user, ``metadata.status`` goes from
``PROVISIONING`` to ``AVAILABLE``, ``DELETE /accesskeys/{id}`` answers 202. Every key made this
way belongs to the same IONOS user, so IONOS cannot keep tenants apart: ``notes`` says so.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

from loopback.providers.base import IssuedCredential, Placement, ProviderError
from loopback.providers.ionos.api import IonosApi
from loopback.providers.ionos.keys import MANAGEMENT_USER_PREFIX, MAX_KEYS_PER_USER, key_reference
from loopback.providers.ionos.policies import principal_for
from loopback.providers.ionos.regions import Ownership
from loopback.providers.ionos.storage import IonosS3


def _owner_field(ownership: Ownership) -> str:
    """Where a key's details name its owner as the bucket policies of ``ownership`` name users."""
    return "canonicalUserId" if ownership == "user" else "contractUserId"


class ManagementKeys:
    """The ``management`` key issuer: a ``KeyIssuer`` whose keys all belong to one IONOS user."""

    notes: tuple[str, ...] = (
        "no isolation between tenants: the Object Storage Management API makes keys of the API "
        "token's own IONOS user only, so every key reaches every bucket any key was issued for; "
        "use key_api management only with a token whose user serves a single tenant",
        f"that user holds at most {MAX_KEYS_PER_USER} keys, so at most {MAX_KEYS_PER_USER} "
        "credentials exist at this provider at a time",
    )

    def __init__(
        self, provider: str, api: IonosApi, storage: IonosS3, *, poll_interval: float, poll_timeout: float
    ) -> None:
        self._provider = provider
        self._api = api
        self._storage = storage
        self._poll = (poll_interval, poll_timeout)

    def check(self) -> None:
        self._api.call("list access keys", "GET", "/accesskeys", params={"limit": 1})

    def issue(
        self, buckets: Sequence[str], region: str, ownership: Ownership, user_name: str, placement: Placement
    ) -> IssuedCredential:
        description = (
            f"Loopback {user_name}: bucket{'s' if len(buckets) > 1 else ''} {', '.join(buckets)} of "
            f"{placement.organization_id}/{placement.project_id}"
        )
        created = self._api.call(
            "create access key",
            "POST",
            "/accesskeys",
            body={"metadata": {}, "properties": {"description": description[:255]}},
        )
        key_id = str((created or {}).get("id") or "")
        if not key_id:
            raise ProviderError(
                "create access key: the IONOS Object Storage Management API answered without an id",
                transient=True,
                code="NoKey",
            )
        provider_user = f"{MANAGEMENT_USER_PREFIX}{key_id}"
        try:
            ready = self._await_available(key_id)
            first = dict((created or {}).get("properties", {}))
            later = dict(ready.get("properties", {}))
            access_key = str(later.get("accessKey") or first.get("accessKey") or "")
            secret = str(first.get("secretKey") or later.get("secretKey") or "")
            if not access_key or not secret:
                raise ProviderError(
                    "create access key: IONOS answered without the key pair",
                    transient=True,
                    code="NoKey",
                )
            field = _owner_field(ownership)
            owner = str(later.get(field) or first.get(field) or "")
            if not owner:
                raise ProviderError(
                    f"create access key: IONOS named no {field} for the key's owner",
                    transient=False,
                    code="NoUserId",
                )
            principal = principal_for(ownership, canonical_user_id=owner, contract_user_id=owner)
            for bucket in buckets:
                self._storage.grant(bucket, region, ownership, principal)
        except ProviderError:
            with contextlib.suppress(ProviderError):  # no key without its grant is left behind
                self.revoke(provider_user)
            raise
        return IssuedCredential(
            provider_user=provider_user, access_key_id=access_key, secret_access_key=secret
        )

    def principal(self, provider_user: str, ownership: Ownership) -> dict[str, list[str]]:
        key_id = key_reference(self._provider, provider_user, MANAGEMENT_USER_PREFIX)
        key = dict(self._api.call("read access key", "GET", f"/accesskeys/{key_id}") or {})
        field = _owner_field(ownership)
        owner = str(key.get("properties", {}).get(field) or "")
        if not owner:
            raise ProviderError(
                f"read access key: IONOS named no {field} for key {key_id}",
                transient=False,
                code="NoUserId",
            )
        return principal_for(ownership, canonical_user_id=owner, contract_user_id=owner)

    def revoke(self, provider_user: str) -> None:
        key_id = key_reference(self._provider, provider_user, MANAGEMENT_USER_PREFIX)
        self._api.call("delete access key", "DELETE", f"/accesskeys/{key_id}", tolerate=frozenset({404}))

    def _await_available(self, key_id: str) -> dict[str, Any]:
        """Poll ``GET /accesskeys/{id}`` until ``metadata.status`` is ``AVAILABLE``, for a bounded time."""
        interval, timeout = self._poll
        deadline = time.monotonic() + timeout
        while True:
            key = dict(self._api.call("read access key", "GET", f"/accesskeys/{key_id}") or {})
            metadata = key.get("metadata", {})
            status = str(metadata.get("status", ""))
            if status == "AVAILABLE":
                return key
            if status == "FAILED":
                raise ProviderError(
                    "create access key: IONOS could not provision it: "
                    f"{metadata.get('statusMessage') or 'FAILED'}",
                    transient=False,
                    code="KeyFailed",
                )
            if time.monotonic() + interval > deadline:
                raise ProviderError(
                    f"create access key: still {status or 'not ready'} after {timeout:.0f} s",
                    transient=True,
                    code="KeyNotReady",
                )
            time.sleep(interval)
