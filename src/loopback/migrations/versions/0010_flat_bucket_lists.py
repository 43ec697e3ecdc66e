"""flat bucket lists at a million rows: composite indexes, per-project totals kept by triggers, an
index of the buckets the resync needs

Every list query of a project seeks an index that holds its filter and its order (``id``), so a page
costs the same at a thousand rows and at a million. API v2's total and the organization's usage
rollup read ``bucket_totals``, one row per project, which triggers keep in the transaction that
changes a bucket, whatever code changes it; this migration builds it from the rows there are.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CURRENT = sa.text("superseded_by_id IS NULL")
SUPERSEDED = sa.text("superseded_by_id IS NOT NULL")
LIVE = sa.text("deleted_at IS NULL")
# No bound value in the predicate: a prepared (generic) plan can use the index too.
UNRECONCILED = sa.text("generation <> observed_generation")

# (name, columns, partial predicate): each list filter seeks its own index, already in ``id`` order.
INDEXES: list[tuple[str, list[str], sa.TextClause | None]] = [
    ("ix_buckets_project_id_id", ["project_id", "id"], None),
    ("ix_buckets_project_id_status", ["project_id", "status", "id"], None),
    ("ix_buckets_project_id_provider_id", ["project_id", "provider_id", "id"], None),
    ("ix_buckets_project_id_region_id", ["project_id", "region_id", "id"], None),
    # v2's pages may skip rows in this index alone, never the table: it holds every column they test
    # (SQLite reads a partial index alone only when it holds the predicate's column too)
    ("ix_buckets_current", ["project_id", "organization_id", "id", "superseded_by_id"], CURRENT),
    ("ix_buckets_superseded", ["project_id", "id"], SUPERSEDED),
    ("ix_buckets_live_sync", ["project_id", "last_synced_at"], LIVE),
    ("ix_buckets_unreconciled", ["id"], UNRECONCILED),
]

REPLACED = {
    "ix_buckets_project_id": ["project_id"],
    "ix_buckets_unreconciled": ["generation", "observed_generation"],
    "ix_buckets_superseded_by_id": ["superseded_by_id"],
}

# What one bucket row adds to its project's totals; ``R`` is NEW or OLD in a trigger.
CONTRIBUTION = {
    "current_rows": "CASE WHEN R.superseded_by_id IS NULL THEN 1 ELSE 0 END",
    "live_buckets": "CASE WHEN R.deleted_at IS NULL THEN 1 ELSE 0 END",
    "object_count": "CASE WHEN R.deleted_at IS NULL THEN COALESCE(R.object_count, 0) ELSE 0 END",
    "bytes": "CASE WHEN R.deleted_at IS NULL THEN COALESCE(R.bytes, 0) ELSE 0 END",
}
TOTALS = ", ".join(CONTRIBUTION)
WATCHED = ("project_id", "superseded_by_id", "deleted_at", "object_count", "bytes")


def _of(row: str) -> list[str]:
    return [expression.replace("R.", f"{row}.") for expression in CONTRIBUTION.values()]


ADDED = ", ".join(f"{column} = bucket_totals.{column} + excluded.{column}" for column in CONTRIBUTION)


def _add(row: str) -> str:
    """The upsert that adds ``row``'s share to its project's totals."""
    return (
        f"INSERT INTO bucket_totals (project_id, organization_id, {TOTALS}) "
        f"VALUES ({row}.project_id, {row}.organization_id, {', '.join(_of(row))}) "
        f"ON CONFLICT (project_id) DO UPDATE SET {ADDED}"
    )


def _summed(rows: str, shares: list[str], into: str = "bucket_totals", flag: str = "") -> str:
    """``shares`` (of each row of ``rows``) summed per project, one row a project, in project order."""
    return (
        f"INSERT INTO {into} ({'folds, ' if flag else ''}project_id, organization_id, {TOTALS}) "
        f"SELECT {flag + ', ' if flag else ''}project_id, organization_id, "
        f"{', '.join(f'SUM({share})' for share in shares)} "
        f"FROM {rows} GROUP BY project_id, organization_id ORDER BY project_id"
    )


def _subtract(row: str) -> str:
    """The update that takes ``row``'s share off its project's totals."""
    taken = ", ".join(f"{c} = {c} - ({e})" for c, e in zip(CONTRIBUTION, _of(row), strict=True))
    return f"UPDATE bucket_totals SET {taken} WHERE project_id = {row}.project_id"


def _noted(row: str, shares: str) -> str:
    """A change of ``row``'s project's totals by ``shares``, noted for the fold at commit."""
    return (
        f"INSERT INTO bucket_total_changes (folds, project_id, organization_id, {TOTALS}) "
        f"VALUES (bucket_totals_fold_later(), {row}.project_id, {row}.organization_id, {shares})"
    )


PENDING = "'loopback.bucket_totals_pending'"


def _postgresql_triggers() -> list[str]:
    """Changes are noted in ``bucket_total_changes`` as they happen and folded into
    ``bucket_totals`` once, as the transaction commits (a deferred constraint trigger on the first
    note; a transaction-local setting says one is queued).

    Folding once per transaction, not once per bucket: a project's row changed many times in one
    transaction leaves a version each, which every later change walks (a batch of 10k usage
    writes took 50 s that way). Folding at commit, in project order: a project's row is locked
    only while a transaction commits, after every bucket row it took, so two transactions never
    wait on each other's locks in opposite orders, and a usage sync holds it for a moment. The
    notes never outlive their transaction: the fold deletes them.
    """
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)
    fold = _summed("folded", list(CONTRIBUTION))
    inserted = _summed("inserted", _of("inserted"), "bucket_total_changes", "bucket_totals_fold_later()")
    moved = ", ".join(f"({new}) - ({old})" for new, old in zip(_of("NEW"), _of("OLD"), strict=True))
    removed = ", ".join(f"-({old})" for old in _of("OLD"))
    return [
        f"""CREATE TABLE bucket_total_changes (
            txid bigint NOT NULL DEFAULT txid_current(), folds boolean NOT NULL,
            project_id varchar(40) NOT NULL, organization_id varchar(40) NOT NULL,
            {", ".join(f"{c} bigint NOT NULL" for c in CONTRIBUTION)})""",
        "CREATE INDEX ix_bucket_total_changes_txid ON bucket_total_changes (txid)",
        f"""CREATE FUNCTION bucket_totals_fold_later() RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting({PENDING}, true) = 'yes' THEN RETURN false; END IF;
            PERFORM set_config({PENDING}, 'yes', true);
            RETURN true;
        END $$""",
        f"""CREATE FUNCTION bucket_totals_fold() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM set_config({PENDING}, '', true);
            WITH folded AS (
                DELETE FROM bucket_total_changes WHERE txid = txid_current() RETURNING *
            ) {fold} ON CONFLICT (project_id) DO UPDATE SET {ADDED};
            RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION bucket_totals_note_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN {inserted}; RETURN NULL; END $$""",
        f"""CREATE FUNCTION bucket_totals_note_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.project_id = NEW.project_id THEN {_noted("NEW", moved)};
            ELSE
                {_noted("OLD", removed)};
                IF TG_OP = 'UPDATE' THEN {_noted("NEW", ", ".join(_of("NEW")))}; END IF;
            END IF;
            RETURN NULL;
        END $$""",
        "CREATE CONSTRAINT TRIGGER bucket_totals_fold AFTER INSERT ON bucket_total_changes "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.folds) EXECUTE FUNCTION bucket_totals_fold()",
        "CREATE TRIGGER bucket_totals_insert AFTER INSERT ON buckets REFERENCING NEW TABLE AS inserted "
        "FOR EACH STATEMENT EXECUTE FUNCTION bucket_totals_note_inserted()",
        f"CREATE TRIGGER bucket_totals_update AFTER UPDATE OF {', '.join(WATCHED)} ON buckets "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION bucket_totals_note_changed()",
        "CREATE TRIGGER bucket_totals_delete AFTER DELETE ON buckets "
        "FOR EACH ROW EXECUTE FUNCTION bucket_totals_note_changed()",
    ]


def _sqlite_triggers() -> list[str]:
    """SQLite runs one writer at a time and changes a row in place: plain row triggers are exact."""
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in WATCHED)
    return [
        f"CREATE TRIGGER bucket_totals_insert AFTER INSERT ON buckets BEGIN {_add('NEW')}; END",
        f"CREATE TRIGGER bucket_totals_delete AFTER DELETE ON buckets BEGIN {_subtract('OLD')}; END",
        f"CREATE TRIGGER bucket_totals_update AFTER UPDATE OF {', '.join(WATCHED)} ON buckets "
        f"WHEN {changed} BEGIN {_subtract('OLD')}; {_add('NEW')}; END",
    ]


def upgrade() -> None:
    op.create_table(
        "bucket_totals",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=40), nullable=False),
        sa.Column("current_rows", sa.BigInteger(), nullable=False),
        sa.Column("live_buckets", sa.BigInteger(), nullable=False),
        sa.Column("object_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_bucket_totals_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_bucket_totals_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_bucket_totals")),
    )
    op.create_index(op.f("ix_bucket_totals_organization_id"), "bucket_totals", ["organization_id"])
    # replaced: by the project's indexes; by one of the rows needing work; by the project's
    # superseded rows (no query looks a row up by its replacement)
    for name in REPLACED:
        op.drop_index(name, table_name="buckets")
    for name, columns, where in INDEXES:
        op.create_index(name, "buckets", columns, sqlite_where=where, postgresql_where=where)
    # The triggers first: on PostgreSQL creating them locks out writers until this commits, so the
    # rebuild below counts exactly the rows there are.
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _postgresql_triggers() if postgresql else _sqlite_triggers():
        op.execute(statement)
    op.execute(_summed("buckets", _of("buckets")))


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER bucket_totals_{name}" + (" ON buckets" if postgresql else ""))
    if postgresql:
        op.execute("DROP TABLE bucket_total_changes")
        for function in ("note_changed", "note_inserted", "fold", "fold_later"):
            op.execute(f"DROP FUNCTION bucket_totals_{function}()")
    for name, _columns, where in reversed(INDEXES):
        op.drop_index(name, table_name="buckets", sqlite_where=where, postgresql_where=where)
    for name, columns in REPLACED.items():
        op.create_index(name, "buckets", columns)
    op.drop_index(op.f("ix_bucket_totals_organization_id"), table_name="bucket_totals")
    op.drop_table("bucket_totals")
