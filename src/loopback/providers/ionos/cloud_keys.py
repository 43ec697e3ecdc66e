"""Keys through IONOS's Cloud API: one IONOS user per tenant, each credential a key of that user.

The tenant (a project; an organization with ``isolation: organization``) is found by a
deterministic e-mail address through ``GET /um/users`` or made with ``POST /um/users``; its keys
through ``/um/users/{userId}/s3keys``. IONOS documents that "a maximum of five keys per user can
be generated", so a tenant holds at most five keys here. A fresh user owns no bucket, so its key
reaches only what bucket-policy statements grant that user.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loopback.providers.base import IssuedCredential, Placement, ProviderError
from loopback.providers.ionos.api import IonosApi
from loopback.providers.ionos.keys import CLOUD_USER_PREFIX, MAX_KEYS_PER_USER, key_reference
from loopback.providers.ionos.policies import principal_for
from loopback.providers.ionos.regions import Ownership
from loopback.providers.ionos.storage import IonosS3

_DIGEST_MARK = "sha256:"
_PROVIDER_USER_MAX = 128  # credentials.provider_user


@dataclass(frozen=True)
class _TenantUser:
    user_id: str
    email: str


class CloudKeys:
    """The ``cloud`` key issuer: a ``KeyIssuer`` that keeps tenants apart by IONOS user."""

    notes: tuple[str, ...] = (
        "keys are per tenant, not per bucket: each tenant has one IONOS user (made through the "
        "Cloud API), every credential is a key of that user, and each bucket's policy grants "
        "that user its objects; so a key reaches every bucket of its tenant that a key was "
        "issued for, never another tenant's",
        f"IONOS allows at most {MAX_KEYS_PER_USER} keys per user: a tenant can hold at most "
        f"{MAX_KEYS_PER_USER} active credentials at this provider; a sixth is refused",
    )

    def __init__(
        self,
        provider: str,
        api: IonosApi,
        storage: IonosS3,
        *,
        user_domain: str,
        contract_number: str | None,
        group_id: str | None,
        isolation: str,
    ) -> None:
        self._provider = provider
        self._api = api
        self._storage = storage
        self._user_domain = user_domain.lower()
        self._contract_number = contract_number
        self._group_id = group_id
        self._isolation = isolation
        self._user_lock = threading.Lock()

    def check(self) -> None:
        self._api.call("list users", "GET", "/um/users", params={"depth": 0, "limit": 1})

    def issue(
        self, buckets: Sequence[str], region: str, ownership: Ownership, user_name: str, placement: Placement
    ) -> IssuedCredential:
        if ownership == "contract" and not self._contract_number:
            raise ProviderError(
                f"provider {self._provider}: settings.contract_number is needed for contract-owned regions "
                f"such as {region}: their bucket policies name users as <contract number>:<user id>",
                transient=False,
                code="NoContractNumber",
            )
        user = self._tenant_user(placement)
        held = self._keys_of(user.user_id)
        if len(held) >= MAX_KEYS_PER_USER:
            raise ProviderError(
                f"issue credential: IONOS allows at most {MAX_KEYS_PER_USER} object storage keys per user, "
                f"and this tenant's IONOS user ({user.email}) holds {len(held)}; revoke one of the "
                "tenant's credentials at this provider first",
                transient=False,
                code="KeyLimitExceeded",
            )
        created = self._api.call("create object storage key", "POST", f"/um/users/{user.user_id}/s3keys")
        key_id = str((created or {}).get("id") or "")
        secret = str((created or {}).get("properties", {}).get("secretKey") or "")
        if not key_id or not secret:
            raise ProviderError(
                "create object storage key: the IONOS Cloud API answered without the key",
                transient=True,
                code="NoKey",
            )
        provider_user = f"{CLOUD_USER_PREFIX}{user.user_id}:{key_id}"
        if len(provider_user) > _PROVIDER_USER_MAX:
            digest = hashlib.sha256(key_id.encode()).hexdigest()[:32]
            provider_user = f"{CLOUD_USER_PREFIX}{user.user_id}:{_DIGEST_MARK}{digest}"
        try:
            # IONOS assigns the canonical user id with the user's first key, so it is read now.
            principal = self._principal_of_user(user.user_id, ownership)
            for bucket in buckets:
                self._storage.grant(bucket, region, ownership, principal)
        except ProviderError:
            with contextlib.suppress(ProviderError):  # no key without its grant is left behind
                self.revoke(provider_user)
            raise
        return IssuedCredential(provider_user=provider_user, access_key_id=key_id, secret_access_key=secret)

    def principal(self, provider_user: str, ownership: Ownership) -> dict[str, list[str]]:
        user_id = key_reference(self._provider, provider_user, CLOUD_USER_PREFIX).partition(":")[0]
        return self._principal_of_user(user_id, ownership)

    def revoke(self, provider_user: str) -> None:
        reference = key_reference(self._provider, provider_user, CLOUD_USER_PREFIX)
        user_id, _, key_ref = reference.partition(":")
        found = (
            self._key_by_digest(user_id, key_ref.removeprefix(_DIGEST_MARK))
            if key_ref.startswith(_DIGEST_MARK)
            else key_ref
        )
        if found is None:
            return
        self._api.call(
            "delete object storage key",
            "DELETE",
            f"/um/users/{user_id}/s3keys/{found}",
            tolerate=frozenset({404}),
        )

    def _principal_of_user(self, user_id: str, ownership: Ownership) -> dict[str, list[str]]:
        """The bucket-policy principal of a tenant's IONOS user."""
        if ownership == "contract":
            return principal_for(
                "contract", canonical_user_id="", contract_user_id=f"{self._contract_number}:{user_id}"
            )
        details = self._api.call("read user", "GET", f"/um/users/{user_id}", params={"depth": 1})
        canonical = str((details or {}).get("properties", {}).get("s3CanonicalUserId") or "")
        if not canonical:
            raise ProviderError(
                f"read user: IONOS has no canonical user id for user {user_id} yet",
                transient=True,
                code="NoCanonicalUserId",
            )
        return principal_for("user", canonical_user_id=canonical, contract_user_id="")

    def _tenant_scope(self, placement: Placement) -> str:
        return placement.project_id if self._isolation == "project" else placement.organization_id

    def _find_user(self, email: str) -> dict[str, Any] | None:
        offset, limit = 0, 100
        while True:
            page = self._api.call(
                "list users", "GET", "/um/users", params={"depth": 1, "offset": offset, "limit": limit}
            )
            items = list((page or {}).get("items", []))
            for item in items:
                if str(item.get("properties", {}).get("email", "")).lower() == email:
                    return dict(item)
            if len(items) < limit:
                return None
            offset += limit

    def _tenant_user(self, placement: Placement) -> _TenantUser:
        """The tenant's IONOS user, made on first use with a strong password that nobody keeps."""
        email = f"lb-{self._tenant_scope(placement)}@{self._user_domain}".lower()
        with self._user_lock:  # two credentials at once for a new tenant make one user
            found = self._find_user(email)
            if found is None:
                body = {
                    "properties": {
                        "firstname": "Loopback",
                        "lastname": self._tenant_scope(placement),
                        "email": email,
                        # never stored nor logged: the user works with keys, nobody signs in as it
                        "password": f"{secrets.token_urlsafe(32)}-Lb9",
                        "administrator": False,
                        "forceSecAuth": False,
                        "active": True,
                    }
                }
                try:
                    found = self._api.call("create user", "POST", "/um/users", body=body)
                except ProviderError as error:
                    if error.transient:
                        raise
                    found = self._find_user(email)  # made meanwhile by another process
                    if found is None:
                        raise
                if not found or "id" not in found:
                    raise ProviderError(
                        "create user: the IONOS Cloud API answered without the user's id",
                        transient=True,
                        code="NoUserId",
                    )
            user = _TenantUser(str(found["id"]), email)
        if self._group_id:
            self._ensure_member(user)
        return user

    def _ensure_member(self, user: _TenantUser) -> None:
        """Put the user into the operator's group with the Use Object Storage privilege."""
        groups = self._api.call("list the user's groups", "GET", f"/um/users/{user.user_id}/groups")
        if any(str(group.get("id")) == self._group_id for group in (groups or {}).get("items", [])):
            return
        self._api.call(
            "add the user to the object storage group",
            "POST",
            f"/um/groups/{self._group_id}/users",
            body={"id": user.user_id},
        )

    def _keys_of(self, user_id: str) -> list[dict[str, Any]]:
        listing = self._api.call(
            "list object storage keys", "GET", f"/um/users/{user_id}/s3keys", params={"depth": 1}
        )
        return [dict(item) for item in (listing or {}).get("items", [])]

    def _key_by_digest(self, user_id: str, digest: str) -> str | None:
        listing = self._api.call(
            "list object storage keys",
            "GET",
            f"/um/users/{user_id}/s3keys",
            params={"depth": 1},
            tolerate=frozenset({404}),
        )
        for item in (listing or {}).get("items", []):
            if hashlib.sha256(str(item.get("id")).encode()).hexdigest()[:32] == digest:
                return str(item["id"])
        return None
