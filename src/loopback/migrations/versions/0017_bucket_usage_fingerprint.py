"""what a bucket's last listing saw: its provider's change fingerprint, and when it was listed (issue 14)

Two nullable columns the usage batch writes: ``usage_fingerprint`` (where the provider can tell
which buckets' stored data changed, ``providers.changes``: what it said when the bucket was last
listed) and ``usage_listed_at`` (when its figures last came from a listing, which is made at least
daily whatever the fingerprint says). An expand migration: code that does not know them ignores them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("buckets", sa.Column("usage_fingerprint", sa.String(length=64), nullable=True))
    op.add_column(
        "buckets", sa.Column("usage_listed_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("buckets", "usage_listed_at")
    op.drop_column("buckets", "usage_fingerprint")
