"""Every query of credential rows: a tenant's reads through ``readable`` with the caller's scope,
and the periodic round's reads over all tenants, each named for what it finds.

Nothing else in ``src/`` selects ``Credential`` or ``CredentialGrant`` (tests/architecture/test_scoping.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select

from loopback.credentials.models import CURRENT_POLICY_VERSION, Credential, CredentialGrant, CredentialStatus
from loopback.kit.scoping import Scope, readable

# --- a tenant's reads: always within the caller's scope -----------------------------------------


def in_scope(scope: Scope) -> Select[Credential]:
    """The scope's keys; every tenant read of credentials starts here."""
    return readable(select(Credential), Credential, scope)


def granted_on(bucket_id: str) -> Select[str]:
    """Ids of the keys with a grant on a bucket, to narrow an already scoped statement."""
    return select(CredentialGrant.credential_id).where(CredentialGrant.bucket_id == bucket_id)


def successors_of(credential_ids: Sequence[str]) -> Select[str | None, str]:
    """``(old id, new id)`` of the rotations that replaced these keys.

    Keyed by ids the caller already read through ``in_scope``: a rotation never leaves its project,
    so a second scope filter here would guard nothing (``scripts/mutate_scopes.py`` would say so).
    """
    return select(Credential.rotated_from_id, Credential.id).where(
        Credential.rotated_from_id.in_(list(credential_ids))
    )


# --- the installation's own reads: every tenant's keys, on purpose ------------------------------


def active_on_bucket(bucket_id: str) -> Select[Credential]:
    """Active keys with a grant on a bucket being deleted."""
    return select(Credential).where(
        Credential.status == CredentialStatus.ACTIVE, Credential.id.in_(granted_on(bucket_id))
    )


def due_for_revocation(now: datetime, limit: int) -> Select[str, datetime | None]:
    """Active keys past their expiry or their rotation's grace: ``(id, expires_at)``."""
    return (
        select(Credential.id, Credential.expires_at)
        .where(
            Credential.status == CredentialStatus.ACTIVE,
            or_(Credential.expires_at <= now, Credential.revoke_at <= now),
        )
        .order_by(Credential.id)
        .limit(limit)
    )


def entering_last_days(now: datetime, within: timedelta, limit: int) -> Select[Credential]:
    return (
        select(Credential)
        .where(
            Credential.status == CredentialStatus.ACTIVE,
            Credential.expires_at > now,
            Credential.expires_at <= now + within,
            Credential.expiry_noticed_at.is_(None),
        )
        .limit(limit)
    )


def under_older_policy(limit: int) -> Select[Credential]:
    return (
        select(Credential)
        .where(
            Credential.status == CredentialStatus.ACTIVE,
            Credential.policy_version < CURRENT_POLICY_VERSION,
        )
        .order_by(Credential.id)
        .limit(limit)
    )
