"""Provider and region records, as the operator configured them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base


class Provider(Base):
    """A configured backend of one family; its service credentials are a reference into ``secrets``."""

    __tablename__ = "providers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    family: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    access_key_id: Mapped[str | None] = mapped_column(String(128), default=None)
    secret_id: Mapped[str | None] = mapped_column(ForeignKey("secrets.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_check_at: Mapped[datetime | None] = mapped_column(default=None)
    last_check_error: Mapped[str | None] = mapped_column(String(1000), default=None)


class Region(Base):
    """A place a provider offers, with the S3 endpoint clients use there."""

    __tablename__ = "regions"
    __table_args__ = (UniqueConstraint("provider_id", "code"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    code: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(2), default=None, doc="ISO 3166-1 alpha-2")
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderSlot(Base):
    """An operator-linked key slot (a Hetzner project's key) assigned to one tenant alone.

    Families whose keys reach every bucket of an account cannot issue per-bucket keys; giving
    each tenant its own slot is how no tenant ever holds a key that reaches another's bucket.
    """

    __tablename__ = "provider_slots"
    __table_args__ = (UniqueConstraint("provider_id", "slot"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    slot: Mapped[str] = mapped_column(String(63))
    organization_id: Mapped[str] = mapped_column(String(40), index=True)
    project_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
