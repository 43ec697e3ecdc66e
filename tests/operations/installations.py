"""Installations for backup tests: one populated through the API and its worker, and empty ones to
restore into, on the backend the test runs on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, create_engine, func, select, text
from sqlalchemy.engine import make_url

from loopback.app import create_app
from loopback.buckets.samples import UsageSample
from loopback.kit.db import make_engine
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from tests.conftest import (
    BUCKETS,
    OPERATOR_HEADERS,
    TEST_DATABASE_URL,
    create_ready_bucket,
    s3_client_for,
    wait_for,
)


def populate(runtime: Runtime) -> dict[str, int]:
    """Two ready buckets, a key for each, objects and their usage sample, through the API and real
    tasks; the worker is stopped after, so nothing writes while a test reads. Answers row counts."""
    consumer = runtime.automation.create_consumer(2, embedded=True)
    consumer.shutdown_timeout = 10
    consumer.start()
    try:
        with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
            for prefix in ("kept", "other"):
                bucket = create_ready_bucket(client, prefix)
                issued = client.post(f"{BUCKETS}/{bucket['id']}/credentials")
                assert issued.status_code == 201, issued.text
                s3 = s3_client_for(issued.json())
                wait_for(partial(s3.put_object, Bucket=bucket["name"], Key="a.txt", Body=b"hello"))
                refreshed = client.post(f"{BUCKETS}/{bucket['id']}/usage/refresh")
                assert refreshed.status_code == 202, refreshed.text
                wait_for(partial(samples_of, runtime, bucket["id"]))
    finally:
        consumer.stop(graceful=True)
    return counts(runtime.db.engine)


def samples_of(runtime: Runtime, bucket_id: str) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).where(UsageSample.bucket_id == bucket_id)) or 0)


def tables(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a stable order: what 'reads the same' compares."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            name: sorted((tuple(row) for row in connection.execute(table.select())), key=repr)
            for name, table in metadata.tables.items()
        }


def counts(engine: Engine) -> dict[str, int]:
    return {name: len(rows) for name, rows in tables(engine).items()}


def empty_installation(source: Settings, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a new installation beside ``source``: SQLite in its own data directory, or on
    PostgreSQL a new database whose search path names ``source``'s schema (a dump restores there)."""
    data_dir = tmp_path / "restored" / "data"
    if make_url(source.resolved_database_url).get_backend_name() == "sqlite":
        yield Settings(data_dir=data_dir, queue_name=source.queue_name, embedded_storage=False)
        return
    assert TEST_DATABASE_URL is not None
    engine = make_engine(source.resolved_database_url, pool_size=1)
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    engine.dispose()
    name = f"lb_restore_{secrets.token_hex(5)}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = (
        make_url(TEST_DATABASE_URL)
        .set(database=name)
        .update_query_dict({"options": f"-csearch_path={schema}"})
    )
    try:
        yield Settings(
            data_dir=data_dir,
            database_url=url.render_as_string(hide_password=False),
            queue_url=source.queue_url,
            queue_name=f"{source.queue_name}-restored",
            embedded_storage=False,
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
