"""Bytes and objects quotas held by the control plane: keys narrowed while a bucket is over one.

After each usage sync the buckets it measured are set against the bytes and objects quotas of
their project (``quotas.service``: per bucket and for the project's buckets together). A bucket's
``quota_state`` is that of the quota nearest its limit: ``ok`` under 80%, ``warning`` from 80%,
``exceeded`` at or over the limit. When a bucket enters ``exceeded``, every active key that reaches
it is rewritten at the provider to read and delete there, not write (``Grant.writable``); when it
leaves, the keys get their writes back. The same happens to a key issued or rotated meanwhile,
since every grant is built by ``maintenance.provider_grant``.

Why the control plane and not the backend's own quota: it holds on every family that can refuse a
bucket's writes (``providers.base.holds_quota``: the s3 family by key policies, IONOS by the
tenant's bucket-policy statement, Hetzner by a statement of the bucket's policy denying every key's
writes: ``providers.base.BucketHold``), with the same states, events and audit everywhere. A family
that cannot gets the state and the events, and the event says writes are not refused there.
Enforcement trails usage by one sync: a tenant can pass a limit by what it writes between two syncs.
Where the backend holds quotas itself (Ceph RGW, MinIO, Garage), the same step gives it the bucket's
own limits too (``quotas.native``), so it refuses the write that passes one; this hold stays the
second line.

A state is written only after every key of the bucket was rewritten; a provider that fails leaves
the old state, so the next sync tries again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from loopback.buckets import repository as bucket_repository
from loopback.buckets.models import Bucket, BucketStatus, QuotaState
from loopback.buckets.service import record_event
from loopback.credentials import repository
from loopback.credentials.maintenance import granted_buckets, placement_of, provider_grants
from loopback.credentials.models import Credential
from loopback.kit.db import Database
from loopback.providers.base import Placement, ProviderError, bucket_hold, holds_quota
from loopback.providers.models import Region
from loopback.providers.service import ProviderService
from loopback.quotas.native import NativeQuotas, own_limits
from loopback.quotas.service import Applied, ProjectRef, Quotas
from loopback.tenancy import audit

log = logging.getLogger(__name__)

WARNING_AT = 0.8  # of a limit: the state turns ``warning``
PROJECT_SWEEP = 10_000  # buckets of a project set against a project quota in one sync


@dataclass(frozen=True)
class Standing:
    """A bucket against the quota nearest its limit."""

    state: QuotaState
    quota: str
    limit: int
    used: int

    def describe(self) -> str:
        unit = "bytes" if self.quota.endswith("bytes") else "objects"
        return f"{self.quota} {self.used} of {self.limit} {unit}"


def standing(
    bucket: Bucket, applied: dict[str, Applied], project_objects: int, project_bytes: int
) -> Standing | None:
    """Where ``bucket`` stands (None while no bytes or objects quota applies to it)."""
    used = {
        "bucket_bytes": bucket.bytes or 0,
        "bucket_objects": bucket.object_count or 0,
        "project_bytes": project_bytes,
        "project_objects": project_objects,
    }
    nearest: Standing | None = None
    nearest_share = -1.0
    for quota, amount in used.items():
        limit = applied[quota].limit
        if limit is None:
            continue
        share = amount / limit if limit else float("inf")
        if share > nearest_share:
            nearest_share = share
            state = (
                QuotaState.EXCEEDED
                if amount >= limit
                else QuotaState.WARNING
                if share >= WARNING_AT
                else QuotaState.OK
            )
            nearest = Standing(state, quota, limit, amount)
    return nearest


class QuotaEnforcement:
    """``buckets.usage.QuotaCheck``: the step after a usage sync wrote its figures."""

    def __init__(self, db: Database, providers: ProviderService, quotas: Quotas) -> None:
        self._db = db
        self._providers = providers
        self._quotas = quotas
        self.native = NativeQuotas(providers)

    def measured(self, bucket_ids: Sequence[str]) -> int:
        """Set the measured buckets against their quotas; answers how many changed state.

        A project with a project quota has all its ready buckets set again (up to
        ``PROJECT_SWEEP``), since one bucket's growth can take the project over."""
        changed = 0
        with self._db.session() as session:
            measured = list(session.scalars(bucket_repository.by_ids(bucket_ids)))
            projects: dict[tuple[str, str], list[Bucket]] = defaultdict(list)
            for bucket in measured:
                projects[(bucket.organization_id, bucket.project_id)].append(bucket)
            for (organization_id, project_id), buckets in projects.items():
                project = ProjectRef(organization_id, project_id)
                applied = self._quotas.of_project(session, project)
                _, objects, size = self._quotas.use(session, project)
                if any(applied[name].limit is not None for name in ("project_bytes", "project_objects")):
                    swept = bucket_repository.ready_in_project(project_id, PROJECT_SWEEP)
                    buckets = list(session.scalars(swept))
                limits = own_limits(applied)
                for bucket in buckets:
                    if bucket.status == BucketStatus.READY:
                        self.native.give(session, bucket, limits)
                        changed += self._settle(session, bucket, standing(bucket, applied, objects, size))
            session.commit()  # the figures of the buckets whose state stayed
        return changed

    def _settle(self, session: Session, bucket: Bucket, now: Standing | None) -> bool:
        """Record where the bucket stands; rewrite its keys when it enters or leaves ``exceeded``.

        The keys are rewritten before anything is written here, so no write lock is held while the
        provider is asked; their grants read the bucket's new state from the session, unflushed."""
        before = QuotaState(bucket.quota_state) if bucket.quota_state else None
        after = now.state if now is not None else None
        bucket.quota_name, bucket.quota_limit, bucket.quota_used = (
            (now.quota, now.limit, now.used) if now is not None else (None, None, None)
        )
        if after == before:
            return False
        bucket.quota_state = after
        enforced = True
        if QuotaState.EXCEEDED in (before, after):
            try:
                with session.no_autoflush:
                    enforced = self._rewrite_keys(session, bucket)
            except ProviderError as error:
                session.rollback()  # the old state stands; the next sync tries again
                log.warning(
                    "bucket %s keeps quota state %s: its keys could not be rewritten: %s",
                    bucket.id,
                    before,
                    error.message,
                )
                return False
        if before not in (None, QuotaState.OK) or after not in (None, QuotaState.OK):
            kind, reason = _event(before, after, now, enforced)
            record_event(session, bucket, kind, reason)
            audit.record_system(
                session,
                f"bucket.{kind.replace('-', '_')}",
                organization_id=bucket.organization_id,
                project_id=bucket.project_id,
                target=bucket.id,
                detail=reason,
            )
            log.info("bucket %s: %s", bucket.id, reason)
        session.commit()
        return True

    def _rewrite_keys(self, session: Session, bucket: Bucket) -> bool:
        """Every active key on the bucket gets the policy of its buckets' states now; answers False
        when the family cannot refuse a bucket's writes (the state is recorded, not enforced)."""
        adapter = self._providers.adapter(session, bucket.provider_id)
        if not holds_quota(adapter.capabilities()):
            return False
        region = session.get(Region, bucket.region_id)
        assert region is not None
        whole = bucket_hold(adapter)
        if whole is not None:  # held at the bucket (Hetzner): its keys cannot be narrowed
            placement = Placement(bucket.organization_id, bucket.project_id, bucket.slot)
            whole.hold_writes(bucket.name, region.code, placement, bucket.quota_state == QuotaState.EXCEEDED)
            return True
        keys: Sequence[Credential] = session.scalars(repository.active_on_bucket(bucket.id)).all()
        for key in keys:
            buckets = granted_buckets(session, key)
            adapter.update_credential(
                region.code, key.provider_user, provider_grants(key, buckets), placement_of(key, buckets)
            )
        return True


def _event(
    before: QuotaState | None, after: QuotaState | None, now: Standing | None, enforced: bool
) -> tuple[str, str]:
    """The event kind and its reason for a change of state."""
    if now is None or after is None:
        return "quota-ok", "no bytes or objects quota applies any more; its keys write again"
    if after == QuotaState.EXCEEDED:
        what = (
            "its keys read and delete, and write nothing, until it is back under"
            if enforced
            else "this provider cannot hold keys to it, so writes are not refused"
        )
        return "quota-exceeded", f"at or over its quota ({now.describe()}): {what}"
    again = "; its keys write again" if before == QuotaState.EXCEEDED else ""
    if after == QuotaState.WARNING:
        return (
            "quota-warning",
            f"at {now.used * 100 // max(now.limit, 1)}% of its quota ({now.describe()}){again}",
        )
    return "quota-ok", f"under its quota ({now.describe()}){again}"
