"""idempotent requests: a renewed lease, and the committed change's status and where it reads back

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:10:00

A running record holds its key while its process renews ``lease_expires_at``; rows from before
have none and count as abandoned once their process is gone (which an upgrade implies).
``committed_status`` and ``read_back`` are written by the service's commit, in the same
transaction as the change, so a create whose answer was lost can be replayed by reading it back.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotent_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lease_expires_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("committed_status", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("read_back", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotent_requests", schema=None) as batch_op:
        batch_op.drop_column("read_back")
        batch_op.drop_column("committed_status")
        batch_op.drop_column("lease_expires_at")
