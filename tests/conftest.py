"""Shared fixtures: a real SeaweedFS for the session, a fresh database per test, a running worker.

Every database test runs on SQLite; when ``LOOPBACK_TEST_DATABASE_URL`` is set it runs on that
PostgreSQL too (in a schema of its own, dropped afterwards), with the queue on Redis when
``LOOPBACK_TEST_REDIS_URL`` is set.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from loopback.app import create_app
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.serve import ensure_newest_schema, register_embedded_storage
from loopback.tenancy.access import ProjectScope, authenticate, project_scope
from loopback.tenancy.permissions import permission
from loopback.tenancy.service import bootstrap

TEST_DATABASE_URL = os.environ.get("LOOPBACK_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("LOOPBACK_TEST_REDIS_URL")
BACKENDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSeaweedFS]:
    with EmbeddedSeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as storage:
        yield storage


def operator_client(seaweedfs: EmbeddedSeaweedFS, service: str) -> Any:
    """boto3 ``service`` (s3, iam) with the storage operator's identity, to look behind the
    control plane's back."""
    return boto3.client(
        service,
        endpoint_url=seaweedfs.endpoint,
        aws_access_key_id=seaweedfs.identity.access_key_id,
        aws_secret_access_key=seaweedfs.identity.secret_access_key,
        region_name="local-1",
    )


@pytest.fixture
def operator_s3(seaweedfs: EmbeddedSeaweedFS) -> Any:
    return operator_client(seaweedfs, "s3")


@pytest.fixture
def operator_iam(seaweedfs: EmbeddedSeaweedFS) -> Any:
    return operator_client(seaweedfs, "iam")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Databases:
    """Where one test's records and queue live."""

    database_url: str
    queue_url: str | None
    queue_name: str


@pytest.fixture
def databases(backend: str, tmp_path: Path) -> Iterator[Databases]:
    queue_name = f"loopback-test-{secrets.token_hex(4)}"
    if backend == "sqlite":
        yield Databases(f"sqlite:///{tmp_path / 'loopback.db'}", None, queue_name)
        return
    assert TEST_DATABASE_URL is not None
    schema = f"lb_test_{secrets.token_hex(6)}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield Databases(url.render_as_string(hide_password=False), TEST_REDIS_URL, queue_name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        if TEST_REDIS_URL:
            import redis

            client = redis.Redis.from_url(TEST_REDIS_URL)
            for key in client.scan_iter(f"*{queue_name}*"):
                client.delete(key)
            client.close()


@pytest.fixture
def settings(databases: Databases, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=databases.database_url,
        queue_url=databases.queue_url,
        queue_name=databases.queue_name,
        bootstrap_token="lbk_test-operator-token",
        embedded_storage=False,
    )


def runtime_over(settings: Settings, seaweedfs: EmbeddedSeaweedFS) -> Iterator[Runtime]:
    """A migrated, bootstrapped database with ``seaweedfs`` registered as provider ``local``;
    closed when the generator is (a fixture of any scope yields from it)."""
    migrate_for_test(settings.resolved_database_url)
    runtime = Runtime.from_settings(settings)
    with runtime.db.session() as session:
        bootstrap(session, settings)
        register_embedded_storage(runtime, session, seaweedfs)
    yield runtime
    runtime.close()


def migrate_for_test(url: str) -> None:
    """The schema a test runs on: this code's, or, with ``LOOPBACK_TEST_MIGRATED_BY`` naming the
    ``src`` directory of a newer Loopback, that one's, which this code then starts on as ``serve``
    would (the previous-release check: tests/migrations/test_previous_release.py)."""
    newer = os.environ.get("LOOPBACK_TEST_MIGRATED_BY")
    if not newer:
        upgrade(url)
        return
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from loopback.migrations import upgrade; upgrade(sys.argv[1])",
            url,
        ],
        env={**os.environ, "PYTHONPATH": newer},
        check=True,
    )
    ensure_newest_schema(url)


@pytest.fixture
def runtime(settings: Settings, seaweedfs: EmbeddedSeaweedFS) -> Iterator[Runtime]:
    """A migrated, bootstrapped database with the session's SeaweedFS registered as provider ``local``."""
    yield from runtime_over(settings, seaweedfs)


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[None]:
    """Huey consumer threads running the runtime's tasks, as ``serve`` runs them."""
    consumer = runtime.automation.create_consumer(2, embedded=True)
    consumer.shutdown_timeout = 10
    consumer.start()
    yield
    consumer.stop(graceful=True)


OPERATOR_HEADERS = {"Authorization": "Bearer lbk_test-operator-token"}


@pytest.fixture
def client(runtime: Runtime, worker: None) -> Iterator[TestClient]:
    """The API over ASGI, authenticated as the bootstrap operator (owner of ``demo``)."""
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as test_client:
        yield test_client


def operator_scope(session: Session) -> ProjectScope:
    """The bootstrap operator's scope in demo/default, for calling services directly."""
    principal = authenticate(session, "lbk_test-operator-token")
    return project_scope(session, principal, "demo", "default", permission("buckets.create"))


def unique_bucket_name(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail with its last value at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")


BUCKETS = "/v3/organizations/demo/projects/default/buckets"


def wait_for_status(
    client: TestClient, bucket_id: str, *statuses: str, timeout: float = 30.0
) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{BUCKETS}/{bucket_id}").json()
        return body if body["status"] in statuses else None

    result: dict[str, Any] = wait_for(current, timeout)
    return result


def s3_client_for(credential: dict[str, Any]) -> Any:
    """boto3 S3 as a tenant configures it from an issued credential's response."""
    return boto3.client(
        "s3",
        endpoint_url=credential["endpoint"],
        aws_access_key_id=credential["access_key_id"],
        aws_secret_access_key=credential["secret_access_key"],
        region_name=credential["region"],
    )


def create_ready_bucket(client: TestClient, prefix: str = "t") -> dict[str, Any]:
    """Create a bucket on provider ``local`` and wait until it is ready."""
    name = unique_bucket_name(prefix)
    created = client.post(BUCKETS, json={"name": name, "provider": "local", "region": "local-1"})
    assert created.status_code == 202, created.text
    bucket = wait_for_status(client, created.json()["id"], "ready", "failed")
    assert bucket["status"] == "ready", bucket
    return bucket
