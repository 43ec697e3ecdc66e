"""Every query of bucket rows: a tenant's reads through ``readable`` with the caller's scope, and the
automation's reads over all tenants, each named for the round that needs it.

Nothing else in ``src/`` selects ``Bucket`` or ``BucketEvent`` (tests/architecture/test_scoping.py checks it).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, Select, Table, Update, bindparam, func, select, update

from loopback.buckets.models import INSTALL_COLUMNS, Bucket, BucketEvent, BucketStatus, BucketTotals
from loopback.kit.scoping import Scope, readable
from loopback.providers.models import Provider, Region
from loopback.tenancy.access import ProjectScope
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


def one_in_scope(scope: ProjectScope, bucket_id: str) -> tuple[Select[Bucket, str, str], dict[str, str]]:
    """One bucket of the scope with its names, as a statement and its parameters: the statement is
    built once and its ids bound at each execution, which spares a request building it anew."""
    parameters = {"organization_id": scope.organization_id, "project_id": scope.project_id}
    return _one_in_bound_scope(), {**parameters, "bucket_id": bucket_id}


@functools.cache
def _one_in_bound_scope() -> Select[Bucket, str, str]:
    bound = cast(Scope, _BoundScope(bindparam("organization_id"), bindparam("project_id")))
    statement: Select[Bucket, str, str] = readable(with_names(), Bucket, bound)
    return statement.where(Bucket.id == bindparam("bucket_id"))


# What a bucket's one view shows, as plain columns: a row of these costs no ORM object.
SHOWN = (
    Bucket.id,
    Bucket.name,
    Bucket.status,
    Bucket.status_reason,
    Bucket.endpoint,
    Bucket.object_count,
    Bucket.bytes,
    Bucket.last_synced_at,
    Bucket.created_at,
    Bucket.updated_at,
    Bucket.supersedes_id,
    Bucket.superseded_by_id,
    Bucket.deletion_policy,
    Bucket.attempts,
    Bucket.next_attempt_at,
    Bucket.adopted,
    *INSTALL_COLUMNS.values(),
    Bucket.quota_state,
    Bucket.quota_name,
    Bucket.quota_limit,
    Bucket.quota_used,
)


def one_shown_in_scope(
    scope: ProjectScope, bucket_id: str
) -> tuple[Select[*tuple[Any, ...]], dict[str, str]]:
    """``one_in_scope`` as the columns of ``SHOWN`` and ``provider`` and ``region`` names: what one
    bucket's answer is made of, read as a Core row."""
    parameters = {"organization_id": scope.organization_id, "project_id": scope.project_id}
    return _one_shown_in_bound_scope(), {**parameters, "bucket_id": bucket_id}


@functools.cache
def _one_shown_in_bound_scope() -> Select[*tuple[Any, ...]]:
    bound = cast(Scope, _BoundScope(bindparam("organization_id"), bindparam("project_id")))
    names = (
        select(*SHOWN, Provider.name.label("provider"), Region.code.label("region"))
        .join(Provider, Provider.id == Bucket.provider_id)
        .join(Region, Region.id == Bucket.region_id)
    )
    statement: Select[*tuple[Any, ...]] = readable(names, Bucket, bound)
    return statement.where(Bucket.id == bindparam("bucket_id"))


@dataclass(frozen=True)
class _BoundScope:
    """A scope whose ids are parameters, so that one statement serves every caller."""

    organization_id: BindParameter[str]
    project_id: BindParameter[str]


def current_ids(scope: Scope) -> Select[str]:
    """Ids of the scope's current rows, read from ``ix_buckets_current`` alone: the rows v2 pages over."""
    current = select(Bucket.id).where(Bucket.superseded_by_id.is_(None))
    statement: Select[str] = readable(current, Bucket, scope)
    return statement


def current_total(scope: Scope) -> Select[int]:
    """How many rows no other row replaced, from the maintained totals: v2's ``total``."""
    statement: Select[int] = readable(
        select(func.coalesce(func.sum(BucketTotals.current_rows), 0)), BucketTotals, scope
    )
    return statement


def events_of(scope: Scope, bucket_id: str) -> Select[BucketEvent]:
    """A bucket's events, oldest first, if the bucket is in the scope (else none)."""
    statement: Select[BucketEvent] = (
        select(BucketEvent)
        .join(Bucket, Bucket.id == BucketEvent.bucket_id)
        .where(BucketEvent.bucket_id == bucket_id)
        .order_by(BucketEvent.id)
    )
    return readable(statement, Bucket, scope)


def usage_per_project(scope: Scope) -> Select[str, int, int, int, datetime | None]:
    """Live buckets, objects and bytes per live project of the scope's organization, from the
    maintained totals; the oldest sync is one seek per project in ``ix_buckets_live_sync``."""
    oldest = (
        select(func.min(Bucket.last_synced_at))
        .where(Bucket.project_id == Project.id, Bucket.deleted_at.is_(None))
        .correlate(Project)
        .scalar_subquery()
    )
    statement = (
        select(
            Project.slug,
            func.coalesce(BucketTotals.live_buckets, 0),
            func.coalesce(BucketTotals.object_count, 0),
            func.coalesce(BucketTotals.bytes, 0),
            oldest,
        )
        .select_from(Project)
        .outerjoin(BucketTotals, BucketTotals.project_id == Project.id)
        .where(Project.deleted_at.is_(None))
        .order_by(Project.slug)
    )
    return readable(statement, Project, scope)


def live_count(organization_id: str, project_id: str | None) -> Select[int]:
    """Buckets not yet deleted in an organization, or in one of its projects, from the totals."""
    where = [BucketTotals.organization_id == organization_id]
    if project_id is not None:
        where.append(BucketTotals.project_id == project_id)
    return select(func.coalesce(func.sum(BucketTotals.live_buckets), 0)).where(*where)


# --- the installation's own reads: every tenant's rows, on purpose ------------------------------


def name_taken(provider_id: str, name: str) -> Select[str]:
    """A current bucket holding ``name`` at a provider, whoever's: names are unique per provider."""
    return select(Bucket.id).where(
        Bucket.provider_id == provider_id,
        Bucket.name == name,
        Bucket.deleted_at.is_(None),
        Bucket.superseded_by_id.is_(None),
    )


def due_for_reconcile(now: datetime, after: str, limit: int) -> Select[str]:
    """A page of the buckets the resync re-enqueues, after the id ``after``.

    The first clause is ``ix_buckets_unreconciled``'s predicate and the order is its key, so the
    database reads that index of the rows needing work, never the table: PostgreSQL cannot tell
    how rare those rows are (it guesses most), but an ordered page of them is cheapest there.
    """
    return (
        select(Bucket.id)
        .where(
            Bucket.generation != Bucket.observed_generation,
            Bucket.status != BucketStatus.DELETED,
            (Bucket.next_attempt_at.is_(None)) | (Bucket.next_attempt_at <= now),
            Bucket.id > after,
        )
        .order_by(Bucket.id)
        .limit(limit)
    )


def regions_named(provider: str | None, code: str | None) -> Select[str, str]:
    """(provider id, region id) of the regions a list's ``provider`` and ``region`` filters name; a
    region code may exist at several providers."""
    statement = select(Region.provider_id, Region.id)
    if provider:
        statement = statement.join(Provider, Provider.id == Region.provider_id)
        statement = statement.where(Provider.name == provider)
    if code:
        statement = statement.where(Region.code == code)
    return statement


def by_ids(bucket_ids: Sequence[str]) -> Select[Bucket]:
    return select(Bucket).where(Bucket.id.in_(list(bucket_ids))).order_by(Bucket.id)


def ready_in_project(project_id: str, limit: int) -> Select[Bucket]:
    """A project's ready buckets, to set against a project quota (``credentials.quota_enforcement``)."""
    return (
        select(Bucket)
        .where(Bucket.project_id == project_id, Bucket.status == BucketStatus.READY)
        .order_by(Bucket.id)
        .limit(limit)
    )


def names_of(bucket_ids: Sequence[str] | set[str]) -> Select[str, str]:
    return select(Bucket.id, Bucket.name).where(Bucket.id.in_(list(bucket_ids)))


# --- the usage and drift rounds: every tenant's ready buckets, one region and one page at a time --


def ready_page(
    region_id: str, after: str, limit: int, *, settled: bool = False
) -> Select[str, str, str, str, str | None]:
    """A page of a region's ready buckets after the id ``after`` (keyset, on ``ix_buckets_ready_region``):
    id, name, organization, project and key slot; ``settled`` leaves out those a reconcile is changing."""
    statement = (
        select(Bucket.id, Bucket.name, Bucket.organization_id, Bucket.project_id, Bucket.slot)
        .where(Bucket.region_id == region_id, Bucket.status == BucketStatus.READY, Bucket.id > after)
        .order_by(Bucket.id)
        .limit(limit)
    )
    if settled:
        statement = statement.where(Bucket.generation == Bucket.observed_generation)
    return statement


def usage_targets(bucket_ids: Sequence[str]) -> Select[*tuple[Any, ...]]:
    """What the usage of these buckets is read with, for those still ready, and what their last
    listing saw (a bucket whose data did not change since is not listed again)."""
    return (
        select(
            Bucket.id,
            Bucket.name,
            Bucket.provider_id,
            Region.code,
            Bucket.organization_id,
            Bucket.project_id,
            Bucket.slot,
            Bucket.object_count,
            Bucket.bytes,
            Bucket.usage_fingerprint,
            Bucket.usage_listed_at,
        )
        .join(Region, Region.id == Bucket.region_id)
        .where(Bucket.id.in_(list(bucket_ids)), Bucket.status == BucketStatus.READY)
    )


def record_usage() -> Update:
    """Usage of many buckets in one statement run over many rows (``b_id``, ``b_count``, ``b_bytes``,
    ``b_at``); a bucket no longer ready keeps what it had."""
    table = cast(Table, Bucket.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("b_id"), table.c.status == BucketStatus.READY)
        .values(
            object_count=bindparam("b_count"),
            bytes=bindparam("b_bytes"),
            last_synced_at=bindparam("b_at"),
            usage_fingerprint=bindparam("b_fingerprint"),
            usage_listed_at=bindparam("b_listed_at"),
        )
    )


def confirm_usage() -> Update:
    """Buckets whose provider says their data did not change since their last listing (``b_id``,
    ``b_at``, ``b_fingerprint``): their figures stand, synced now, unless another sync wrote since."""
    table = cast(Table, Bucket.__table__)
    return (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.status == BucketStatus.READY,
            table.c.usage_fingerprint == bindparam("b_fingerprint"),
        )
        .values(last_synced_at=bindparam("b_at"))
    )


def mark_checked(bucket_ids: Sequence[str], now: datetime) -> Update:
    """The drift round found these at their provider now."""
    return (
        update(Bucket)
        .where(Bucket.id.in_(list(bucket_ids)), Bucket.status == BucketStatus.READY)
        .values(last_checked_at=now)
    )


def still_ready(bucket_ids: Sequence[str]) -> Select[Bucket]:
    """The buckets among these that are still ready and settled, to be marked lost."""
    return select(Bucket).where(
        Bucket.id.in_(list(bucket_ids)),
        Bucket.status == BucketStatus.READY,
        Bucket.generation == Bucket.observed_generation,
    )
