"""What an IONOS key issuer does, whichever of IONOS's two key APIs it speaks.

The provider picks one issuer when it is built (``settings["key_api"]``: ``cloud`` or
``management``) and asks it for everything about keys; no method branches on the API again.
An issued key is recorded as ``provider_user``: ``cloud:<user id>:<key id>`` (the key id may be
``sha256:<digest>`` when too long to record) or ``management:<key id>``. A key of the other API
is refused with ``KeyApiChanged`` (the operator switched ``key_api`` since it was issued), any
other identity with ``UnknownIdentity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from loopback.providers.base import IssuedCredential, Placement, ProviderError
from loopback.providers.ionos.regions import Ownership

MAX_KEYS_PER_USER = 5  # Cloud API, POST /um/users/{userId}/s3keys: "A maximum of five keys per user"

CLOUD_USER_PREFIX = "cloud:"
MANAGEMENT_USER_PREFIX = "management:"

# Which API made a key of each prefix, and the key_api setting that names it.
_ISSUED_THROUGH = {
    CLOUD_USER_PREFIX: ("the Cloud API", "cloud"),
    MANAGEMENT_USER_PREFIX: ("the Object Storage Management API", "management"),
}


class KeyIssuer(Protocol):
    """Makes, describes and deletes the keys of one IONOS key API.

    - ``issue`` makes a key for the tenant of ``placement`` and grants its IONOS user each of
      ``buckets`` (``storage.grant``); a key made before a later step fails is deleted again.
    - ``principal`` is the bucket-policy principal the statements of an issued key name, read
      from its ``provider_user``; ``update_credential`` grants it further buckets.
    - ``revoke`` deletes the key at IONOS; a key (or user) already gone is success.
    - ``notes`` says what one key reaches, for ``capabilities``; ``check`` makes one read with
      the API token, for the readiness check.
    """

    notes: tuple[str, ...]

    def issue(
        self, buckets: Sequence[str], region: str, ownership: Ownership, user_name: str, placement: Placement
    ) -> IssuedCredential: ...

    def principal(self, provider_user: str, ownership: Ownership) -> dict[str, list[str]]: ...

    def revoke(self, provider_user: str) -> None: ...

    def check(self) -> None: ...


def key_reference(provider: str, provider_user: str, prefix: str) -> str:
    """What follows ``prefix`` in ``provider_user``, refused when the key is not this issuer's."""
    if provider_user.startswith(prefix):
        return provider_user.removeprefix(prefix)
    now = _ISSUED_THROUGH[prefix][1]
    for other, (through, _) in _ISSUED_THROUGH.items():
        if provider_user.startswith(other):
            raise ProviderError(
                f"provider {provider}: this key was issued through {through}, but the provider "
                f"now uses key_api {now}; switch back to revoke it",
                transient=False,
                code="KeyApiChanged",
            )
    raise ProviderError(
        f"provider {provider}: credential identity {provider_user!r} was not issued by the ionos family",
        transient=False,
        code="UnknownIdentity",
    )
