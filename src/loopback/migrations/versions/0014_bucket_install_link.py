"""a bucket's install link: the catalog-driven Kubernetes install it was made for (issue 13)

Five optional columns (``install_catalog_item``, ``install_release``, ``install_cluster``,
``install_namespace``, ``install_claim``), and for each a partial index of the project's linked
rows in ``id`` order: a list filtered by one of them seeks its page there, at a million rows as at
a thousand, and the buckets no install made (most of them) are in none of these indexes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# part -> longest value (as buckets.models.INSTALL_LENGTHS at this revision)
PARTS = {"catalog_item": 253, "release": 253, "cluster": 253, "namespace": 63, "claim": 253}


def upgrade() -> None:
    for part, length in PARTS.items():
        op.add_column("buckets", sa.Column(f"install_{part}", sa.String(length=length), nullable=True))
    for part in PARTS:
        linked = sa.text(f"install_{part} IS NOT NULL")
        op.create_index(
            f"ix_buckets_install_{part}",
            "buckets",
            ["project_id", f"install_{part}", "id"],
            sqlite_where=linked,
            postgresql_where=linked,
        )


def downgrade() -> None:
    for part in PARTS:
        op.drop_index(f"ix_buckets_install_{part}", table_name="buckets")
    for part in PARTS:
        op.drop_column("buckets", f"install_{part}")
