"""usage history: a sample per bucket at every usage sync, compacted as it ages

Each row is one observation of a bucket (``raw``) or an hour's or day's of them compacted
(``buckets/samples.py``); billing integrates them over a period (``loopback.billing``). The primary
key (bucket_id, at) is the index every read seeks; on SQLite it holds the rows themselves (no rowid).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopback.kit.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_samples",
        sa.Column("bucket_id", sa.String(40), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolution", sa.String(4), nullable=False),
        sa.Column("object_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("peak_bytes", sa.BigInteger(), nullable=True),
        sa.Column("noncurrent_bytes", sa.BigInteger(), nullable=True),
        sa.Column("multipart_bytes", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("bucket_id", "at", name="pk_usage_samples"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("usage_samples")
