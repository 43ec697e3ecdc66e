"""bucket lifecycle: superseded rows, deletion policy, forced deletion, drift checks, idempotent requests

A superseded row gives its name up to its replacement, so the unique index covers current rows only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:21:28.049149
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotent_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_requests")),
        sa.UniqueConstraint("caller", "key", name=op.f("uq_idempotent_requests_caller")),
    )
    with op.batch_alter_table("idempotent_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotent_requests_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supersedes_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("superseded_by_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("deletion_policy", sa.String(length=20), server_default="delete", nullable=False)
        )
        batch_op.add_column(
            sa.Column("force_delete", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("adopted", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("last_checked_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_index("uq_buckets_live_name")
        batch_op.create_index(batch_op.f("ix_buckets_superseded_by_id"), ["superseded_by_id"], unique=False)
        batch_op.create_index(
            "uq_buckets_current_name",
            ["provider_id", "name"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL AND superseded_by_id IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL AND superseded_by_id IS NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_buckets_supersedes_id_buckets"), "buckets", ["supersedes_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_buckets_supersedes_id_buckets"), type_="foreignkey")
        batch_op.drop_index(
            "uq_buckets_current_name",
            sqlite_where=sa.text("deleted_at IS NULL AND superseded_by_id IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL AND superseded_by_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_buckets_superseded_by_id"))
        batch_op.create_index(
            "uq_buckets_live_name",
            ["provider_id", "name"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_column("last_checked_at")
        batch_op.drop_column("adopted")
        batch_op.drop_column("force_delete")
        batch_op.drop_column("deletion_policy")
        batch_op.drop_column("superseded_by_id")
        batch_op.drop_column("supersedes_id")

    with op.batch_alter_table("idempotent_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotent_requests_expires_at"))

    op.drop_table("idempotent_requests")
