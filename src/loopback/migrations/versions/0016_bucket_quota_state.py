"""a bucket's quota state: where it stood against its nearest bytes or objects quota (issue 15)

Four nullable columns written after each usage sync: ``quota_state`` (ok, warning, exceeded),
``quota_name`` (which quota), ``quota_limit`` and ``quota_used``. Null while no such quota applies,
so the buckets of an installation without quotas gain nothing but four empty columns.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("buckets", sa.Column("quota_state", sa.String(length=10), nullable=True))
    op.add_column("buckets", sa.Column("quota_name", sa.String(length=20), nullable=True))
    op.add_column("buckets", sa.Column("quota_limit", sa.BigInteger(), nullable=True))
    op.add_column("buckets", sa.Column("quota_used", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for column in ("quota_used", "quota_limit", "quota_name", "quota_state"):
        op.drop_column("buckets", column)
