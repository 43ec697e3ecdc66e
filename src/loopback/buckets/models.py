"""Bucket records and the events that tell their history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, TextClause, text
from sqlalchemy.orm import Mapped, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base
from loopback.providers.base import Placement


class BucketStatus(enum.StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"
    LOST = "lost"


class QuotaState(enum.StrEnum):
    """A bucket against its nearest bytes or objects quota: under 80%, from 80%, at or over it."""

    OK = "ok"
    WARNING = "warning"
    EXCEEDED = "exceeded"


class DeletionPolicy(enum.StrEnum):
    DELETE = "delete"  # deleting the record deletes the bucket at the provider
    RETAIN = "retain"  # deleting the record releases it and leaves the bucket at the provider


class DesiredState(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


CURRENT = text("deleted_at IS NULL AND superseded_by_id IS NULL")
NOT_SUPERSEDED = text("superseded_by_id IS NULL")
SUPERSEDED = text("superseded_by_id IS NOT NULL")
LIVE = text("deleted_at IS NULL")
UNRECONCILED = text("generation <> observed_generation")  # no bound value: generic plans use it too
READY = text("status = 'ready'")

# The install link's parts and their longest values: Kubernetes names (a DNS subdomain, 253; a
# namespace is a DNS label, 63). A bucket has a link when any part is set; the columns are
# ``install_<part>``.
INSTALL_LENGTHS: dict[str, int] = {
    "catalog_item": 253,
    "release": 253,
    "cluster": 253,
    "namespace": 63,
    "claim": 253,
}
INSTALL_LINKED = {part: text(f"install_{part} IS NOT NULL") for part in INSTALL_LENGTHS}


def _partial(name: str, *columns: str, where: TextClause) -> Index:
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


class Bucket(Base):
    """What a tenant asked for (desired state, generation) and what the provider showed (the rest)."""

    __tablename__ = "buckets"
    __table_args__ = (
        # One current bucket of a name per provider: the provider's namespace is shared by every
        # tenant. A superseded row gives its name up to the row that replaced it.
        Index(
            "uq_buckets_current_name",
            "provider_id",
            "name",
            unique=True,
            sqlite_where=CURRENT,
            postgresql_where=CURRENT,
        ),
        # A list seeks the index of its filter, in ``id`` order: a page costs the same at a million
        # rows as at a thousand (migration 0010, benchmarks/lists.py).
        Index("ix_buckets_project_id_id", "project_id", "id"),
        Index("ix_buckets_project_id_status", "project_id", "status", "id"),
        Index("ix_buckets_project_id_provider_id", "project_id", "provider_id", "id"),
        Index("ix_buckets_project_id_region_id", "project_id", "region_id", "id"),
        # every column v2's pages test, so skipping to a page reads this index alone
        _partial(
            "ix_buckets_current",
            "project_id",
            "organization_id",
            "id",
            "superseded_by_id",
            where=NOT_SUPERSEDED,
        ),
        _partial("ix_buckets_superseded", "project_id", "id", where=SUPERSEDED),
        _partial("ix_buckets_live_sync", "project_id", "last_synced_at", where=LIVE),  # oldest sync
        _partial("ix_buckets_unreconciled", "id", where=UNRECONCILED),  # what the resync reads
        # /metrics' buckets by provider and status and their oldest sync, read from this index
        # alone, never the table's wide rows (migration 0018; tests/metrics/scrape_cost.py)
        _partial(
            "ix_buckets_figures",
            "provider_id",
            "status",
            "last_synced_at",
            "superseded_by_id",
            where=NOT_SUPERSEDED,
        ),
        # the usage and drift rounds page through a region's ready buckets (migration 0011)
        _partial("ix_buckets_ready_region", "region_id", "id", where=READY),
        # a list filtered by one part of the install link seeks its own index in ``id`` order;
        # partial, so the buckets no install made (most) cost them nothing (migration 0014)
        *(
            _partial(f"ix_buckets_install_{part}", "project_id", f"install_{part}", "id", where=linked)
            for part, linked in INSTALL_LINKED.items()
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(63))
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"))
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id"))
    status: Mapped[str] = mapped_column(String(20), default=BucketStatus.PENDING)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    desired_state: Mapped[str] = mapped_column(String(20), default=DesiredState.PRESENT)
    generation: Mapped[int] = mapped_column(default=1)
    observed_generation: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    endpoint: Mapped[str | None] = mapped_column(String(500), default=None)
    # BigInteger: a bucket holds more than 2 GiB, and PostgreSQL's integer stops there
    object_count: Mapped[int | None] = mapped_column(BigInteger, default=None)
    bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    # what the last listing saw: the provider's change fingerprint then (``providers.changes``), and
    # its time; a batch lists again only a bucket whose fingerprint moved or whose listing is old
    usage_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    usage_listed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("buckets.id"), default=None)
    # No foreign key: the old row points at its replacement before that row is inserted.
    superseded_by_id: Mapped[str | None] = mapped_column(String(40), default=None)
    deletion_policy: Mapped[str] = mapped_column(
        String(20), default=DeletionPolicy.DELETE, server_default=DeletionPolicy.DELETE.value
    )
    force_delete: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    adopted: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    last_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    slot: Mapped[str | None] = mapped_column(
        String(63), default=None, doc="the operator-linked key slot of the tenant, for families that need one"
    )
    # the catalog-driven Kubernetes install the bucket was made for (issue 13), each part optional
    install_catalog_item: Mapped[str | None] = mapped_column(
        String(INSTALL_LENGTHS["catalog_item"]), default=None
    )
    install_release: Mapped[str | None] = mapped_column(String(INSTALL_LENGTHS["release"]), default=None)
    install_cluster: Mapped[str | None] = mapped_column(String(INSTALL_LENGTHS["cluster"]), default=None)
    install_namespace: Mapped[str | None] = mapped_column(String(INSTALL_LENGTHS["namespace"]), default=None)
    install_claim: Mapped[str | None] = mapped_column(String(INSTALL_LENGTHS["claim"]), default=None)
    # where the bucket stood against the quota nearest its limit at its last usage sync (issue 15);
    # all null while no bytes or objects quota applies (credentials/quota_enforcement.py writes them)
    quota_state: Mapped[str | None] = mapped_column(String(10), default=None)
    quota_name: Mapped[str | None] = mapped_column(String(20), default=None)
    quota_limit: Mapped[int | None] = mapped_column(BigInteger, default=None)
    quota_used: Mapped[int | None] = mapped_column(BigInteger, default=None)

    @property
    def placement(self) -> Placement:
        return Placement(self.organization_id, self.project_id, self.slot)


# The install link's columns by part, in INSTALL_LENGTHS' order.
INSTALL_COLUMNS = {
    "catalog_item": Bucket.install_catalog_item,
    "release": Bucket.install_release,
    "cluster": Bucket.install_cluster,
    "namespace": Bucket.install_namespace,
    "claim": Bucket.install_claim,
}


class BucketEvent(Base):
    """One transition or action on a bucket, written in the same transaction as the change."""

    __tablename__ = "bucket_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BucketTotals(Base):
    """A project's bucket counts and usage, kept by database triggers (migration 0010) in the
    transaction that changes a bucket, so API v2's total and the usage rollup never count rows.

    Triggers rather than the services: every writer (a create, the reconcile, the usage and drift
    rounds, a bulk update) keeps them exact without knowing about them, and the database applies
    each change against the row it locked, so concurrent writers never lose one.
    """

    __tablename__ = "bucket_totals"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    current_rows: Mapped[int] = mapped_column(BigInteger, doc="rows no other row replaced: v2's list")
    live_buckets: Mapped[int] = mapped_column(BigInteger, doc="rows not deleted")
    object_count: Mapped[int] = mapped_column(BigInteger, doc="objects of the live rows")
    bytes: Mapped[int] = mapped_column(BigInteger, doc="bytes of the live rows")
