"""provider slots, region countries, provider checks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:50:11.004211
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "provider_slots",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("slot", sa.String(length=63), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_provider_slots_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_slots")),
        sa.UniqueConstraint("provider_id", "slot", name=op.f("uq_provider_slots_provider_id")),
    )
    with op.batch_alter_table("provider_slots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provider_slots_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_provider_slots_provider_id"), ["provider_id"], unique=False)

    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slot", sa.String(length=63), nullable=True))

    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_check_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_check_error", sa.String(length=1000), nullable=True))

    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("regions", schema=None) as batch_op:
        batch_op.drop_column("country")

    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("last_check_error")
        batch_op.drop_column("last_check_at")

    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.drop_column("slot")

    with op.batch_alter_table("provider_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_slots_provider_id"))
        batch_op.drop_index(batch_op.f("ix_provider_slots_organization_id"))

    op.drop_table("provider_slots")
