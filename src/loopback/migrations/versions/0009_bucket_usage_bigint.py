"""bucket usage in 64 bits: a bucket over 2 GiB could not be recorded on PostgreSQL

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


COLUMNS = ("object_count", "bytes")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return  # SQLite's INTEGER already holds 64 bits; rebuilding the table would trip its keys
    for column in COLUMNS:
        op.alter_column("buckets", column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for column in COLUMNS:
        op.alter_column("buckets", column, type_=sa.Integer(), existing_type=sa.BigInteger())
