"""credential grants, names, expiry, rotation and policy versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:20:00

Every existing key becomes one ``read-write`` grant on its bucket, at its bucket's provider and
region, with policy version 1 (``s3:*``): ``CredentialService.narrow_legacy`` rewrites those to
object operations only at the provider on every start until none is left.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _create_grants_table() -> None:
    op.create_table(
        "credential_grants",
        sa.Column("credential_id", sa.String(length=40), nullable=False),
        sa.Column("bucket_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("access", sa.String(length=20), nullable=False),
        sa.Column("prefix", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["bucket_id"], ["buckets.id"], name=op.f("fk_credential_grants_bucket_id_buckets")
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_credential_grants_credential_id_credentials"),
        ),
        sa.PrimaryKeyConstraint("credential_id", "bucket_id", name=op.f("pk_credential_grants")),
    )
    with op.batch_alter_table("credential_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credential_grants_bucket_id"), ["bucket_id"], unique=False)


def upgrade() -> None:
    # SQLite rebuilds ``credentials`` to drop a column, which a table referencing it would block:
    # so the grants wait in a plain table until ``credentials`` has its new shape.
    op.execute(
        "CREATE TABLE credential_grants_moving AS "
        "SELECT id AS credential_id, bucket_id, 0 AS position, 'read-write' AS access FROM credentials"
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=63), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("provider_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("region_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("policy_version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("expires_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("revoke_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rotated_from_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("expiry_noticed_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE credentials SET "
        "provider_id = (SELECT buckets.provider_id FROM buckets WHERE buckets.id = credentials.bucket_id), "
        "region_id = (SELECT buckets.region_id FROM buckets WHERE buckets.id = credentials.bucket_id), "
        "name = 'key ' || id"
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_bucket_id"))
        batch_op.drop_constraint(batch_op.f("fk_credentials_bucket_id_buckets"), type_="foreignkey")
        batch_op.drop_column("bucket_id")
        batch_op.alter_column("provider_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column("region_id", existing_type=sa.String(length=40), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_provider_id_providers"), "providers", ["provider_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_region_id_regions"), "regions", ["region_id"], ["id"]
        )
        batch_op.alter_column("policy_version", server_default="2", existing_type=sa.Integer())
        batch_op.create_index(batch_op.f("ix_credentials_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_credentials_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_credentials_revoke_at"), ["revoke_at"], unique=False)
    _create_grants_table()
    op.execute(
        "INSERT INTO credential_grants (credential_id, bucket_id, position, access, prefix) "
        "SELECT credential_id, bucket_id, position, access, NULL FROM credential_grants_moving"
    )
    op.drop_table("credential_grants_moving")


def downgrade() -> None:
    op.execute(
        "CREATE TABLE credential_grants_moving AS SELECT credential_id, bucket_id, position "
        "FROM credential_grants"
    )
    op.drop_table("credential_grants")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bucket_id", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE credentials SET bucket_id = (SELECT g.bucket_id FROM credential_grants_moving g "
        "WHERE g.credential_id = credentials.id ORDER BY g.position LIMIT 1)"
    )
    op.drop_table("credential_grants_moving")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credentials_revoke_at"))
        batch_op.drop_index(batch_op.f("ix_credentials_expires_at"))
        batch_op.drop_index(batch_op.f("ix_credentials_status"))
        batch_op.drop_constraint(batch_op.f("fk_credentials_region_id_regions"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_credentials_provider_id_providers"), type_="foreignkey")
        for column in (
            "expiry_noticed_at",
            "rotated_from_id",
            "revoke_at",
            "expires_at",
            "policy_version",
            "region_id",
        ):
            batch_op.drop_column(column)
        batch_op.drop_column("provider_id")
        batch_op.drop_column("name")
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_bucket_id_buckets"), "buckets", ["bucket_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_credentials_bucket_id"), ["bucket_id"], unique=False)
