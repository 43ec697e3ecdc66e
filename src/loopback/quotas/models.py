"""The quotas an organization and a project set for themselves; none is "inherit" (docs/quotas.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base

# The quotas, in the order the API shows them; each is a column of both tables below.
NAMES = ("buckets", "bucket_bytes", "bucket_objects", "project_bytes", "project_objects")


class QuotaColumns:
    """One value per quota; none takes the next level's (organization, then installation)."""

    buckets: Mapped[int | None] = mapped_column(BigInteger, default=None, doc="buckets per project")
    bucket_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    bucket_objects: Mapped[int | None] = mapped_column(BigInteger, default=None)
    project_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    project_objects: Mapped[int | None] = mapped_column(BigInteger, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrganizationQuotas(QuotaColumns, Base):
    """An organization's quotas, set by the operator; they bound its projects' own."""

    __tablename__ = "organization_quotas"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)


class ProjectQuotas(QuotaColumns, Base):
    """A project's quotas, set by its organization's owners and admins."""

    __tablename__ = "project_quotas"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(40), ForeignKey("organizations.id"), index=True)
