"""Migration 0015 (webhooks): the tables and indexes the models declare, and a downgrade that takes
them away."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from loopback.kit.db import Base
from loopback.kit.settings import Settings
from loopback.migrations import alembic_config, upgrade
from loopback.webhooks import models  # noqa: F401  (registers the tables)

TABLES = {"webhook_endpoints", "webhook_deliveries", "webhook_relay"}


def test_0015_matches_the_models_and_goes_back(settings: Settings) -> None:
    url = settings.resolved_database_url
    upgrade(url, "0015")
    engine = create_engine(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    ours = [d for d in differences if "webhook" in str(d)]
    assert ours == []

    command.downgrade(alembic_config(url), "0014")
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()
