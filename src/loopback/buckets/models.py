"""Bucket records and the events that tell their history."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base


class BucketStatus(enum.StrEnum):
    PENDING = "pending"
    PROVISIONING = "provisioning"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"
    DELETED = "deleted"


class DesiredState(enum.StrEnum):
    PRESENT = "present"
    ABSENT = "absent"


class Bucket(Base):
    """What a tenant asked for (desired state, generation) and what the provider showed (the rest)."""

    __tablename__ = "buckets"
    __table_args__ = (
        # One live bucket of a name per provider: the provider's namespace is shared by every tenant.
        Index(
            "uq_buckets_live_name",
            "provider_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_buckets_unreconciled", "generation", "observed_generation"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
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
    object_count: Mapped[int | None] = mapped_column(default=None)
    bytes: Mapped[int | None] = mapped_column(default=None)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class BucketEvent(Base):
    """One transition or action on a bucket, written in the same transaction as the change."""

    __tablename__ = "bucket_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    bucket_id: Mapped[str] = mapped_column(ForeignKey("buckets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
