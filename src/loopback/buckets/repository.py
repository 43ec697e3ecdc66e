"""Every query of bucket rows: a tenant's reads through ``readable`` with the caller's scope, and the
automation's reads over all tenants, each named for the round that needs it.

Nothing else in ``src/`` selects ``Bucket`` or ``BucketEvent`` (tests/architecture/test_scoping.py checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from loopback.buckets.models import Bucket, BucketEvent, BucketStatus
from loopback.kit.scoping import Scope, readable
from loopback.providers.models import Provider, Region
from loopback.tenancy.models import Project

# --- a tenant's reads: always within the caller's scope -----------------------------------------


def with_names() -> Select[Bucket, str, str]:
    """Buckets with the names of their provider and region, as every API version presents them."""
    return (
        select(Bucket, Provider.name, Region.code)
        .join(Provider, Provider.id == Bucket.provider_id)
        .join(Region, Region.id == Bucket.region_id)
    )


def in_scope(scope: Scope) -> Select[Bucket, str, str]:
    """The scope's buckets with their names; every tenant read of buckets starts here."""
    statement: Select[Bucket, str, str] = readable(with_names(), Bucket, scope)
    return statement


def count_of(statement: Select[*tuple[Any, ...]]) -> Select[int]:
    return select(func.count()).select_from(statement.subquery())


def events_of(scope: Scope, bucket_id: str) -> Select[BucketEvent]:
    """A bucket's events, oldest first, if the bucket is in the scope (else none)."""
    statement: Select[BucketEvent] = (
        select(BucketEvent)
        .join(Bucket, Bucket.id == BucketEvent.bucket_id)
        .where(BucketEvent.bucket_id == bucket_id)
        .order_by(BucketEvent.id)
    )
    return readable(statement, Bucket, scope)


def usage_per_project(scope: Scope) -> Select[str, int, int | None, int | None, datetime | None]:
    """Live buckets, objects and bytes per live project of the scope's organization."""
    statement = (
        select(
            Project.slug,
            func.count(Bucket.id),
            func.coalesce(func.sum(Bucket.object_count), 0),
            func.coalesce(func.sum(Bucket.bytes), 0),
            func.min(Bucket.last_synced_at),
        )
        .select_from(Project)
        .outerjoin(
            Bucket,
            (Bucket.project_id == Project.id)
            & (Bucket.organization_id == scope.organization_id)
            & Bucket.deleted_at.is_(None),
        )
        .where(Project.deleted_at.is_(None))
        .group_by(Project.slug)
        .order_by(Project.slug)
    )
    return readable(statement, Project, scope)


def live_count(organization_id: str, project_id: str | None) -> Select[Any]:
    """Buckets not yet deleted in an organization, or in one of its projects."""
    where = [Bucket.organization_id == organization_id, Bucket.deleted_at.is_(None)]
    if project_id is not None:
        where.append(Bucket.project_id == project_id)
    return select(func.count()).select_from(Bucket).where(*where)


# --- the installation's own reads: every tenant's rows, on purpose ------------------------------


def name_taken(provider_id: str, name: str) -> Select[str]:
    """A current bucket holding ``name`` at a provider, whoever's: names are unique per provider."""
    return select(Bucket.id).where(
        Bucket.provider_id == provider_id,
        Bucket.name == name,
        Bucket.deleted_at.is_(None),
        Bucket.superseded_by_id.is_(None),
    )


def due_for_reconcile(now: datetime) -> Select[str]:
    return select(Bucket.id).where(
        Bucket.generation != Bucket.observed_generation,
        Bucket.status != BucketStatus.DELETED,
        (Bucket.next_attempt_at.is_(None)) | (Bucket.next_attempt_at <= now),
    )


def ready_with_region() -> Select[Bucket, str]:
    return (
        select(Bucket, Region.code)
        .join(Region, Region.id == Bucket.region_id)
        .where(Bucket.status == BucketStatus.READY, Bucket.generation == Bucket.observed_generation)
    )


def ready_ids() -> Select[str]:
    return select(Bucket.id).where(Bucket.status == BucketStatus.READY)


def by_ids(bucket_ids: Sequence[str]) -> Select[Bucket]:
    return select(Bucket).where(Bucket.id.in_(list(bucket_ids))).order_by(Bucket.id)


def names_of(bucket_ids: Sequence[str] | set[str], *, live_only: bool = False) -> Select[str, str]:
    statement = select(Bucket.id, Bucket.name).where(Bucket.id.in_(list(bucket_ids)))
    if live_only:
        statement = statement.where(Bucket.status != BucketStatus.DELETED)
    return statement
