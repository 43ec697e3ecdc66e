"""Migration 0014 (a bucket's install link): the buckets there were get no link, the columns and
indexes are those the models declare, and a downgrade takes them away and keeps every row and the
totals' triggers."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from loopback.buckets.models import INSTALL_LENGTHS
from loopback.kit.db import Base
from loopback.kit.settings import Settings
from loopback.migrations import alembic_config, upgrade
from tests.migrations.test_grants import insert_bucket, insert_placement

COLUMNS = {f"install_{part}" for part in INSTALL_LENGTHS}
INDEXES = {f"ix_buckets_install_{part}" for part in INSTALL_LENGTHS}


def bucket_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("buckets")}


def bucket_indexes(engine: Engine) -> set[str]:
    return {str(i["name"]) for i in inspect(engine).get_indexes("buckets")}


def add_bucket(engine: Engine, bucket_id: str) -> None:
    with engine.begin() as connection:
        insert_bucket(connection, engine, bucket_id)


def live_buckets(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT live_buckets FROM bucket_totals")) or 0)


def test_install_link_columns_come_and_go_and_rows_stay(settings: Settings) -> None:
    url = settings.resolved_database_url
    upgrade(url, "0013")
    engine = create_engine(url)
    with engine.begin() as connection:
        insert_placement(connection, engine, projects=("prj_m",))
    add_bucket(engine, "bkt_before")
    assert not COLUMNS & bucket_columns(engine)

    upgrade(url, "0014")
    assert COLUMNS <= bucket_columns(engine)
    assert INDEXES <= bucket_indexes(engine)
    with engine.begin() as connection:
        links = connection.execute(text(f"SELECT {', '.join(sorted(COLUMNS))} FROM buckets")).all()
        assert [tuple(row) for row in links] == [(None,) * len(COLUMNS)]  # no link for what was there
        connection.execute(text("UPDATE buckets SET install_release = 'shop-db', install_namespace = 'shop'"))
        with engine.connect() as check:  # the models and the migration agree on columns and indexes
            differences = compare_metadata(MigrationContext.configure(check), Base.metadata)
        ours = [d for d in differences if "install" in str(d)]
        assert ours == []

    command.downgrade(alembic_config(url), "0013")
    assert not COLUMNS & bucket_columns(engine)
    assert not INDEXES & bucket_indexes(engine)
    add_bucket(engine, "bkt_after")  # the totals' triggers still count
    assert live_buckets(engine) == 2

    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, install_release FROM buckets ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("bkt_after", None), ("bkt_before", None)]
    engine.dispose()
