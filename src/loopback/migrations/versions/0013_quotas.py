"""quotas: an organization's (set by the operator) and a project's (set by its owners and admins)

Each row holds a value per quota (buckets per project; bytes and objects per bucket and per
project), none meaning "the next level's": project, then organization, then the installation's
settings (``LOOPBACK_QUOTA_*``). The bucket count a quota is checked against is ``bucket_totals``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopback.kit.db import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

QUOTAS = ("buckets", "bucket_bytes", "bucket_objects", "project_bytes", "project_objects")


def _values() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger(), nullable=True) for name in QUOTAS]


def upgrade() -> None:
    op.create_table(
        "organization_quotas",
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        *_values(),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_organization_quotas_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organization_quotas")),
    )
    op.create_table(
        "project_quotas",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        *_values(),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_project_quotas_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_project_quotas_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_quotas")),
    )
    op.create_index(op.f("ix_project_quotas_organization_id"), "project_quotas", ["organization_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_project_quotas_organization_id"), table_name="project_quotas")
    op.drop_table("project_quotas")
    op.drop_table("organization_quotas")
