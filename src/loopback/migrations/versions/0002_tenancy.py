"""tenancy: roles, project tokens, audit log, soft-deleted organizations and projects

Existing tokens become personal tokens without a cap, as they acted before.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:13:38.876174
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loopback.kit.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=True),
        sa.Column("project_id", sa.String(length=40), nullable=True),
        sa.Column("actor_user_id", sa.String(length=40), nullable=True),
        sa.Column("actor_email", sa.String(length=320), nullable=True),
        sa.Column("token_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_organization_id_id", ["organization_id", "id"], unique=False)

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="personal")
        )
        batch_op.add_column(sa.Column("organization_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("project_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("role_cap", sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_organization_id"), ["organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_tokens_project_id"), ["project_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_organization_id_organizations"),
            "organizations",
            ["organization_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_project_id_projects"), "projects", ["project_id"], ["id"]
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(batch_op.f("uq_organizations_slug"), type_="unique")
        batch_op.create_index(
            "uq_organizations_live_slug",
            ["slug"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deleted_at", loopback.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint(batch_op.f("uq_projects_organization_id"), type_="unique")
        batch_op.create_index(
            "uq_projects_live_slug",
            ["organization_id", "slug"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_projects_live_slug",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_projects_organization_id"), ["organization_id", "slug"]
        )
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_organizations_live_slug",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.create_unique_constraint(batch_op.f("uq_organizations_slug"), ["slug"])
        batch_op.drop_column("deleted_at")

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_project_id_projects"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_api_tokens_organization_id_organizations"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_api_tokens_project_id"))
        batch_op.drop_index(batch_op.f("ix_api_tokens_organization_id"))
        batch_op.drop_column("role_cap")
        batch_op.drop_column("project_id")
        batch_op.drop_column("organization_id")
        batch_op.drop_column("kind")

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_organization_id_id")

    op.drop_table("audit_events")
