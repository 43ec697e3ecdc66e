"""lifecycle webhooks: an organization's endpoints, the deliveries made to them, the relay's cursor

``bucket_events`` is the outbox (issue 15, point 6): the relay reads it after ``webhook_relay``'s
cursor and writes one ``webhook_deliveries`` row per matching endpoint (unique per endpoint and
event, so a relay that runs twice writes nothing twice). Partial indexes over the open deliveries
find a lane's head (the oldest open delivery of an endpoint and bucket) and what is due.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from loopback.kit.db import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'retrying')")


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_id", sa.String(40), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("deleted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_endpoints_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index("ix_webhook_endpoints_organization_id_id", "webhook_endpoints", ["organization_id", "id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("organization_id", sa.String(40), nullable=False),
        sa.Column("endpoint_id", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("bucket_id", sa.String(40), nullable=True),
        sa.Column("lane", sa.String(40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("next_attempt_at", nullable=True),
        _at("claimed_until", nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _at("delivered_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_webhook_deliveries_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_id_event_id"),
    )
    op.create_index(op.f("ix_webhook_deliveries_organization_id"), "webhook_deliveries", ["organization_id"])
    op.create_index("ix_webhook_deliveries_endpoint_id_id", "webhook_deliveries", ["endpoint_id", "id"])
    op.create_index(
        "ix_webhook_deliveries_open_lane",
        "webhook_deliveries",
        ["endpoint_id", "lane", "event_id"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index(
        "ix_webhook_deliveries_open_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "webhook_relay",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("cursor", sa.String(40), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_relay")),
    )


def downgrade() -> None:
    op.drop_table("webhook_relay")
    for index in (
        "ix_webhook_deliveries_open_due",
        "ix_webhook_deliveries_open_lane",
        "ix_webhook_deliveries_endpoint_id_id",
        "ix_webhook_deliveries_organization_id",
    ):
        op.drop_index(index, table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_endpoints_organization_id_id", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
