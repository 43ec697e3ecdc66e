"""the secret canary: a known value sealed with the installation's key, for /readyz

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:00:00

Empty after the upgrade: the first process that starts seals it (``kit.secrets.prove_secret_key``),
after opening one stored secret with its key when there is one, so an installation upgraded with
a replica on the wrong key does not seal the canary with that key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secret_canary",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secret_canary")),
    )


def downgrade() -> None:
    op.drop_table("secret_canary")
