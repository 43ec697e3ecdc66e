"""A bucket's history as its page shows it: its own events and its keys' issues and revocations.

A bucket records its transitions as events; a key's issue and revocation are recorded on the key
(``created_at``, ``revoked_at``) and in the organization's audit log, which only an admin reads. The
page already lists the bucket's keys, so it reads both moments from them, for whoever may read keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from loopback.buckets.models import BucketEvent
from loopback.credentials.service import CredentialView

# A key's end the bucket recorded itself (revoked through the API, expired, or its rotation over):
# the page shows that event, not a second row read from the key.
ENDED_KINDS = frozenset({"credential-revoked", "credential-expired"})


@dataclass(frozen=True)
class Moment:
    """One row of a bucket's history: when, what happened, the status after it, and why."""

    created_at: datetime
    kind: str
    status: str
    reason: str


def _key_named(view: CredentialView) -> str:
    credential = view.credential
    return f"{credential.access_key_id} ({credential.name})" if credential.name else credential.access_key_id


def history(events: Iterable[BucketEvent], keys: Sequence[CredentialView]) -> list[Moment]:
    """Newest first: the bucket's events, and each listed key's issue and revocation."""
    events = list(events)
    moments = [Moment(e.created_at, e.kind, e.status, e.reason or "") for e in events]
    ended = " ".join(e.reason or "" for e in events if e.kind in ENDED_KINDS)
    for view in keys:
        credential = view.credential
        named = _key_named(view)
        moments.append(Moment(credential.created_at, "key-issued", "", named))
        if credential.revoked_at is not None and credential.access_key_id not in ended:
            moments.append(Moment(credential.revoked_at, f"key-{credential.status}", "", named))
    # stable: events of one moment keep their recorded order, reversed with the rest
    return sorted(moments, key=lambda moment: _naive(moment.created_at))[::-1]


def _naive(moment: datetime) -> datetime:
    """SQLite answers naive UTC times and PostgreSQL aware ones: compare them alike."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
