"""Automation: reconcile is idempotent, the resync recovers lost tasks, failures are honest."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loopback.buckets import service as bucket_service
from loopback.buckets.models import Bucket, BucketEvent
from loopback.kit.ports import free_ports
from loopback.providers.base import RegionSpec
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.conftest import BUCKETS, operator_scope, unique_bucket_name, wait_for, wait_for_status


def events(runtime: Runtime, bucket_id: str) -> list[str]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(BucketEvent.kind).where(BucketEvent.bucket_id == bucket_id).order_by(BucketEvent.id)
            )
        )


def row(runtime: Runtime, bucket_id: str) -> Bucket:
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        return bucket


def add_provider(
    runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, name: str, endpoint: str, secret: str | None = None
) -> None:
    with runtime.db.session() as session:
        runtime.providers.ensure_provider(
            session,
            name=name,
            family="s3",
            display_name=name,
            regions=[RegionSpec("r1", "Region one", endpoint)],
            access_key_id=seaweedfs.identity.access_key_id,
            secret_access_key=secret or seaweedfs.identity.secret_access_key,
        )


def test_running_reconcile_again_changes_nothing(
    client: TestClient, runtime: Runtime, operator_s3: Any
) -> None:
    name = unique_bucket_name()
    bucket_id = client.post(BUCKETS, json={"name": name, "provider": "local", "region": "local-1"}).json()[
        "id"
    ]
    wait_for_status(client, bucket_id, "ready")
    before = events(runtime, bucket_id)
    runtime.buckets.reconcile(bucket_id)
    runtime.buckets.reconcile(bucket_id)
    assert events(runtime, bucket_id) == before
    # even a reconcile that finds the remote bucket already there ends in ready
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.generation += 1
    runtime.buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "ready"
    assert [b["Name"] for b in operator_s3.list_buckets()["Buckets"]].count(name) == 1


def test_a_lost_task_is_recovered_by_the_periodic_resync(client: TestClient, runtime: Runtime) -> None:
    lost: list[str] = []
    real_enqueue = runtime.buckets._enqueue
    runtime.buckets._enqueue = lambda task, *args, **kwargs: lost.append(task)  # type: ignore[method-assign]
    bucket_id = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "local", "region": "local-1"}
    ).json()["id"]
    runtime.buckets._enqueue = real_enqueue  # type: ignore[method-assign]
    assert lost == ["bucket.reconcile"]
    assert row(runtime, bucket_id).status == "pending"
    runtime.automation.enqueue("bucket.resync")  # what the periodic job runs each minute
    assert wait_for_status(client, bucket_id, "ready", "failed")["status"] == "ready"


def test_an_unreachable_provider_is_retried_and_the_bucket_says_so(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    add_provider(runtime, seaweedfs, "flaky", closed)
    bucket_id = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "flaky", "region": "r1"}
    ).json()["id"]
    retrying = wait_for(lambda: (b := row(runtime, bucket_id)).attempts >= 1 and b)
    assert retrying.status == "provisioning"
    assert retrying.next_attempt_at is not None
    assert "retrying" in (retrying.status_reason or "")
    assert "unreachable" in (retrying.status_reason or "")
    assert client.get(f"{BUCKETS}/{bucket_id}").json()["status_reason"] == retrying.status_reason
    add_provider(runtime, seaweedfs, "flaky", seaweedfs.endpoint)  # the provider comes back
    ready = wait_for_status(client, bucket_id, "ready", "failed", timeout=60)
    assert ready["status"] == "ready"
    assert ready["status_reason"] is None
    assert "retry" in events(runtime, bucket_id)


def test_retries_end_in_failed_after_the_last_attempt(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bucket_service, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(bucket_service, "BACKOFF_BASE_SECONDS", 0.2)
    add_provider(runtime, seaweedfs, "gone", f"http://127.0.0.1:{free_ports(1)[0]}")
    bucket_id = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "gone", "region": "r1"}
    ).json()["id"]
    failed = wait_for_status(client, bucket_id, "failed", timeout=30)
    assert "gave up after 2 attempts" in failed["status_reason"]
    assert row(runtime, bucket_id).observed_generation == 1


def test_a_provider_that_refuses_ends_in_failed_with_its_reason(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_provider(runtime, seaweedfs, "wrongkey", seaweedfs.endpoint, secret="not-the-secret")
    bucket_id = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "wrongkey", "region": "r1"}
    ).json()["id"]
    failed = wait_for_status(client, bucket_id, "failed")
    assert failed["status_reason"].startswith("create failed: create bucket: SignatureDoesNotMatch")
    assert row(runtime, bucket_id).attempts == 1
    assert events(runtime, bucket_id)[-1] == "failed"


def test_concurrent_runs_of_one_reconcile_act_once(runtime: Runtime, operator_s3: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queued: list[str] = []
    runtime.buckets._enqueue = lambda task, *args, **kwargs: queued.append(task)  # type: ignore[method-assign]
    with runtime.db.session() as session:
        scope = operator_scope(session)
        names = [unique_bucket_name("race") for _ in range(5)]
        ids = [runtime.buckets.create(session, scope, name, "local", "local-1").bucket.id for name in names]
    with ThreadPoolExecutor(max_workers=10) as pool:
        for bucket_id in ids:
            list(pool.map(lambda _, b=bucket_id: runtime.buckets.reconcile(b), range(10)))
    remote = [b["Name"] for b in operator_s3.list_buckets()["Buckets"]]
    for name, bucket_id in zip(names, ids, strict=True):
        assert events(runtime, bucket_id) == ["created", "provisioning", "ready"]
        assert row(runtime, bucket_id).claimed_until is None
        assert remote.count(name) == 1


def test_a_stale_claim_from_a_dead_worker_expires(runtime: Runtime) -> None:
    from datetime import timedelta

    from loopback.kit.clock import utcnow

    runtime.buckets._enqueue = lambda *args, **kwargs: None  # type: ignore[method-assign]
    with runtime.db.session() as session:
        scope = operator_scope(session)
        bucket_id = runtime.buckets.create(session, scope, unique_bucket_name(), "local", "local-1").bucket.id
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.claimed_until = utcnow() + timedelta(seconds=60)  # a worker died holding it
    runtime.buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "pending"
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.claimed_until = utcnow() - timedelta(seconds=1)  # ... and its claim ran out
    runtime.buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "ready"
