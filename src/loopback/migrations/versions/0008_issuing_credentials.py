"""keys being issued: a row per key the provider is asked for, until the key's record commits

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:50:00

A process killed between the provider's answer and the commit left an identity at the provider
that no record named; this row names it, so the key upkeep removes it (``credentials.issuing``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuing_credentials",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("region_id", sa.String(length=40), nullable=False),
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("lease_expires_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_issuing_credentials_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_issuing_credentials_region_id_regions")
        ),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_issuing_credentials_bucket_id_buckets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuing_credentials")),
    )
    op.create_index(
        op.f("ix_issuing_credentials_lease_expires_at"), "issuing_credentials", ["lease_expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_issuing_credentials_lease_expires_at"), table_name="issuing_credentials")
    op.drop_table("issuing_credentials")
