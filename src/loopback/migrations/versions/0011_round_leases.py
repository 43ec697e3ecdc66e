"""rounds that never overlap and read a region a page at a time: round leases, an index of the ready
buckets per region

A periodic round claims its lease before it works and keeps it while its batches run, so the next
period's round never starts on top of a slow one (``kit.leases``). The usage and drift rounds page
through each region's ready buckets by id, which ``ix_buckets_ready_region`` answers at any size.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopback.kit.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

READY = sa.text("status = 'ready'")


def upgrade() -> None:
    op.create_table(
        "round_leases",
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("holder", sa.String(40), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("pending", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("listed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_round_leases")),
    )
    op.create_index(
        "ix_buckets_ready_region",
        "buckets",
        ["region_id", "id"],
        sqlite_where=READY,
        postgresql_where=READY,
    )


def downgrade() -> None:
    op.drop_index("ix_buckets_ready_region", table_name="buckets")
    op.drop_table("round_leases")
