"""Upgrading a database with keys from before grants: each key becomes one read-write grant, marked
as issued under the old policy so that the next start narrows it at the provider."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.types import Boolean, DateTime, Integer, Numeric

from loopback.kit.settings import Settings
from loopback.migrations import alembic_config, upgrade

NOW = "2026-11-30 10:00:00+00:00"


def insert(connection: Connection, engine: Engine, table: str, **values: Any) -> None:
    """A row with ``values``, and a plain value for every other column that may not be empty."""
    for column in inspect(engine).get_columns(table):
        name = column["name"]
        if name in values or column["nullable"] or column.get("default") is not None:
            continue
        kind = column["type"]
        values[name] = (
            NOW
            if isinstance(kind, DateTime) or name.endswith("_at")
            else False
            if isinstance(kind, Boolean)
            else 0
            if isinstance(kind, Integer | Numeric)
            else "{}"
            if name == "settings"
            else "x"
        )
    names = ", ".join(values)
    connection.execute(
        text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values
    )


def insert_placement(connection: Connection, engine: Engine, projects: tuple[str, ...]) -> None:
    """Organization ``org_m`` with ``projects``, and provider ``prv_m`` with region ``reg_m``."""
    insert(connection, engine, "organizations", id="org_m", slug="m", name="M")
    for project in projects:
        insert(connection, engine, "projects", id=project, organization_id="org_m", slug=project, name="P")
    insert(connection, engine, "providers", id="prv_m", name="old", family="s3", enabled=True)
    insert(connection, engine, "regions", id="reg_m", provider_id="prv_m", code="r1", enabled=True)


def insert_bucket(
    connection: Connection, engine: Engine, bucket_id: str, project_id: str = "prj_m", **values: Any
) -> None:
    """A ready bucket of ``org_m`` at ``prv_m``/``reg_m``, with ``values`` over those."""
    row = {"name": f"name-{bucket_id}", "status": "ready", **values}
    insert(
        connection,
        engine,
        "buckets",
        id=bucket_id,
        organization_id="org_m",
        project_id=project_id,
        provider_id="prv_m",
        region_id="reg_m",
        **row,
    )


def test_old_keys_become_one_grant_each_with_the_old_policy_version(settings: Settings) -> None:
    url = settings.resolved_database_url
    upgrade(url, "0004")
    engine = create_engine(url)
    with engine.begin() as connection:
        insert_placement(connection, engine, projects=("prj_m",))
        insert_bucket(connection, engine, "bkt_m", name="old-bucket")
        insert(
            connection,
            engine,
            "credentials",
            id="crd_m",
            organization_id="org_m",
            project_id="prj_m",
            bucket_id="bkt_m",
            access_key_id="AKOLD",
            provider_user="lb-crd_m",
            status="active",
        )
    upgrade(url)
    with engine.connect() as connection:
        grants = connection.execute(
            text("SELECT credential_id, bucket_id, access, prefix FROM credential_grants")
        )
        key = connection.execute(
            text("SELECT provider_id, region_id, policy_version, name FROM credentials WHERE id = 'crd_m'")
        ).one()
        assert [tuple(g) for g in grants] == [("crd_m", "bkt_m", "read-write", None)]
    assert tuple(key) == ("prv_m", "reg_m", 1, "key crd_m")
    assert "bucket_id" not in {c["name"] for c in inspect(engine).get_columns("credentials")}
    command.downgrade(alembic_config(url), "0004")  # and back: the key keeps its bucket
    with engine.connect() as connection:
        assert connection.execute(text("SELECT bucket_id FROM credentials")).scalar_one() == "bkt_m"
    upgrade(url)
    engine.dispose()
