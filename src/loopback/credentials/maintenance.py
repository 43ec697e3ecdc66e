"""The periodic round over keys: expiry, the end of rotations, and legacy policy rewrites.

Runs once per resync period (``credential.maintain``), at every start, and after a rotation's
grace period. Safe to run twice at once: every transition is a conditional update, so its events
are written once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from loopback.buckets import repository as bucket_repository
from loopback.buckets.models import Bucket, BucketStatus, QuotaState
from loopback.buckets.service import KeyRelease, record_event
from loopback.credentials import repository
from loopback.credentials.issuing import Issuing
from loopback.credentials.models import CURRENT_POLICY_VERSION, Credential, CredentialStatus
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.providers.base import Access, Grant, Placement, ProviderError
from loopback.providers.models import Region
from loopback.providers.service import ProviderService
from loopback.tenancy import audit

log = logging.getLogger(__name__)

EXPIRING_WITHIN = timedelta(days=7)
MAINTENANCE_BATCH = 200


@dataclass
class MaintenanceReport:
    expired: int = 0
    rotated_out: int = 0
    expiring: int = 0
    narrowed: int = 0
    abandoned: int = 0  # identities of issues whose process died, removed at the provider
    failed: list[str] = field(default_factory=list)


def granted_buckets(session: Session, credential: Credential) -> list[Bucket]:
    ids = [g.bucket_id for g in credential.grants]
    return list(session.scalars(bucket_repository.by_ids(ids)))


def placement_of(credential: Credential, buckets: Sequence[Bucket]) -> Placement:
    """Whose key it is, from its granted buckets (``granted_buckets``), else its own project."""
    if buckets:
        return buckets[0].placement
    return Placement(credential.organization_id, credential.project_id)


def provider_grant(bucket: Bucket, access: str, prefix: str | None) -> Grant:
    """One grant as the provider names it: a bucket over its quota is read and deleted, not written."""
    return Grant(bucket.name, Access(access), prefix, writable=bucket.quota_state != QuotaState.EXCEEDED)


def provider_grants(credential: Credential, buckets: Sequence[Bucket]) -> list[Grant]:
    """The key's grants as the provider names them, for the buckets still there."""
    by_id = {b.id: b for b in buckets}
    return [
        provider_grant(by_id[g.bucket_id], g.access, g.prefix)
        for g in credential.grants
        if g.bucket_id in by_id
    ]


class BucketKeyReleases:
    """``buckets.service.BucketKeys``: what deleting a bucket does to the keys that reach it."""

    def releases(self, session: Session, bucket_id: str) -> list[KeyRelease]:
        """A key left with no grant is revoked; the others lose this bucket only."""
        keys = session.scalars(repository.active_on_bucket(bucket_id)).all()
        others = sorted({g.bucket_id for key in keys for g in key.grants if g.bucket_id != bucket_id})
        live = [
            b for b in session.scalars(bucket_repository.by_ids(others)) if b.status != BucketStatus.DELETED
        ]
        return [KeyRelease(key.id, key.provider_user, provider_grants(key, live)) for key in keys]

    def released(self, session: Session, bucket_id: str, releases: Sequence[KeyRelease]) -> None:
        """The provider did it: record it, in the transaction that marks the bucket deleted."""
        for release in releases:
            credential = session.get(Credential, release.credential_id)
            if credential is None:
                continue
            if release.keeps:
                credential.grants = [g for g in credential.grants if g.bucket_id != bucket_id]
            else:
                credential.mark_revoked(session)


class KeyMaintenance:
    def __init__(self, db: Database, providers: ProviderService, issuing: Issuing) -> None:
        self._db = db
        self._providers = providers
        self._issuing = issuing

    def run(self) -> MaintenanceReport:
        """Revoke expired keys and rotated-out ones at the provider, note keys entering their last
        week, rewrite keys issued under an older policy, and forget identities whose issue was
        abandoned (``credentials.issuing``). Safe to run twice at once: every
        transition is a conditional update, so its events are written once."""
        report = MaintenanceReport()
        now = utcnow()
        with self._db.session() as session:
            due = list(session.execute(repository.due_for_revocation(now, MAINTENANCE_BATCH)))
        for credential_id, expires_at in due:
            expired = expires_at is not None and expires_at <= now
            status = CredentialStatus.EXPIRED if expired else CredentialStatus.REVOKED
            action = "credential.expire" if expired else "credential.rotation-ended"
            try:
                if self.revoke_due(credential_id, status, action):
                    if expired:
                        report.expired += 1
                    else:
                        report.rotated_out += 1
            except ProviderError as error:
                log.warning(
                    "credential %s could not be revoked at the provider: %s", credential_id, error.message
                )
                report.failed.append(credential_id)
        report.expiring = self._note_expiring(now)
        report.narrowed = self.narrow_legacy(report)
        report.abandoned = self._issuing.sweep()
        return report

    def revoke_due(self, credential_id: str, status: str, action: str) -> bool:
        """Revoke one key at the provider and record it once; False when another run did it."""
        with self._db.session() as session:
            credential = session.get(Credential, credential_id)
            if credential is None or credential.status != CredentialStatus.ACTIVE:
                return False
            region = session.get(Region, credential.region_id)
            assert region is not None
            buckets = granted_buckets(session, credential)
            adapter = self._providers.adapter(session, credential.provider_id)
            adapter.revoke_credential(
                region.code, credential.provider_user, placement_of(credential, buckets)
            )
            claimed = session.execute(
                update(Credential)
                .where(Credential.id == credential_id, Credential.status == CredentialStatus.ACTIVE)
                .values(status=status)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return False
            session.refresh(credential)
            credential.mark_revoked(session, status)
            kind = "credential-expired" if status == CredentialStatus.EXPIRED else "credential-revoked"
            reason = "expired" if status == CredentialStatus.EXPIRED else "its rotation's grace period ended"
            self._record_transition(
                session,
                credential,
                buckets,
                kind,
                action,
                f"{credential.access_key_id} revoked at the provider: {reason}",
            )
            session.commit()
            log.info("credential %s (%s) %s", credential_id, credential.access_key_id, reason)
            return True

    def _record_transition(
        self,
        session: Session,
        credential: Credential,
        buckets: Sequence[Bucket],
        event: str,
        action: str,
        detail: str,
    ) -> None:
        """What automation did to a key: an event on each granted bucket and one audit event."""
        for bucket in buckets:
            record_event(session, bucket, event, detail)
        audit.record_system(
            session,
            action,
            organization_id=credential.organization_id,
            project_id=credential.project_id,
            target=credential.id,
            detail=detail,
        )

    def _note_expiring(self, now: datetime) -> int:
        """An event for each key that entered its last week (once: ``expiry_noticed_at`` remembers)."""
        noted = 0
        with self._db.session() as session:
            soon = list(
                session.scalars(repository.entering_last_days(now, EXPIRING_WITHIN, MAINTENANCE_BATCH))
            )
            for credential in soon:
                claimed = session.execute(
                    update(Credential)
                    .where(Credential.id == credential.id, Credential.expiry_noticed_at.is_(None))
                    .values(expiry_noticed_at=now)
                    .execution_options(synchronize_session=False)
                )
                if getattr(claimed, "rowcount", 0) != 1:
                    continue
                assert credential.expires_at is not None
                when = credential.expires_at.isoformat(timespec="seconds")
                self._record_transition(
                    session,
                    credential,
                    granted_buckets(session, credential),
                    "credential-expiring",
                    "credential.expiring",
                    f"{credential.access_key_id} expires {when}",
                )
                noted += 1
            session.commit()
        return noted

    def narrow_legacy(self, report: MaintenanceReport | None = None) -> int:
        """Rewrite keys issued under an older policy (``s3:*``) to the current least-privilege one."""
        narrowed = 0
        with self._db.session() as session:
            legacy = list(session.scalars(repository.under_older_policy(MAINTENANCE_BATCH)))
            for credential in legacy:
                region = session.get(Region, credential.region_id)
                assert region is not None
                buckets = granted_buckets(session, credential)
                grants = provider_grants(credential, buckets)
                if not grants:
                    continue
                adapter = self._providers.adapter(session, credential.provider_id)
                try:
                    adapter.update_credential(
                        region.code, credential.provider_user, grants, placement_of(credential, buckets)
                    )
                except ProviderError as error:
                    log.warning(
                        "credential %s keeps its old policy for now: %s", credential.id, error.message
                    )
                    if report is not None:
                        report.failed.append(credential.id)
                    continue
                credential.policy_version = CURRENT_POLICY_VERSION
                detail = "its policy now allows object operations only"
                self._record_transition(
                    session,
                    credential,
                    buckets,
                    "credential-narrowed",
                    "credential.narrow",
                    f"{credential.access_key_id}: {detail}",
                )
                session.commit()
                narrowed += 1
        return narrowed
