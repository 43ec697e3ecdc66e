"""What deleting a bucket asks of the keys that reach it, declared here and answered above.

The credentials domain sits above buckets and owns the keys; the reconcile of a delete needs to
know which keys lose the bucket and to tell them when it is gone. It asks through ``BucketKeys``,
which the runtime plugs in (``buckets.keys = BucketKeyReleases()``); until then no key is released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from loopback.providers.base import Grant


@dataclass(frozen=True)
class KeyRelease:
    """What deleting a bucket does to one key with a grant on it: it keeps ``keeps`` at the
    provider, or, with nothing left to keep, is revoked there."""

    credential_id: str
    provider_user: str
    keeps: list[Grant]


class BucketKeys(Protocol):
    """The keys that reach a bucket, as the credentials domain (above this one) answers for them."""

    def releases(self, session: Session, bucket_id: str) -> list[KeyRelease]: ...

    def released(self, session: Session, bucket_id: str, releases: Sequence[KeyRelease]) -> None: ...


class NoKeys:
    def releases(self, session: Session, bucket_id: str) -> list[KeyRelease]:
        return []

    def released(self, session: Session, bucket_id: str, releases: Sequence[KeyRelease]) -> None:
        return None
