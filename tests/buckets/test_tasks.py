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
from tests.buckets.fakes import RecordingProviders, RecordingQueue, buckets_with, client_over
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


def test_running_reconcile_again_changes_nothing(runtime: Runtime, operator_s3: Any) -> None:
    providers = RecordingProviders(runtime)
    buckets = buckets_with(runtime, RecordingQueue(), providers)
    name = unique_bucket_name()
    with runtime.db.session() as session:
        bucket_id = buckets.create(session, operator_scope(session), name, "local", "local-1").bucket.id
    buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "ready"
    assert providers.called("create_bucket") == [name]
    before = events(runtime, bucket_id)
    buckets.reconcile(bucket_id)
    buckets.reconcile(bucket_id)
    assert providers.called("create_bucket") == [name]  # a ready bucket asks nothing of its provider
    assert events(runtime, bucket_id) == before
    # even a reconcile that finds the remote bucket already there ends in ready
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.generation += 1
    buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "ready"
    assert providers.called("create_bucket") == [name, name]
    operator_s3.head_bucket(Bucket=name)  # still there: the second create changed nothing


def test_a_lost_task_is_recovered_by_the_periodic_resync(runtime: Runtime, worker: None) -> None:
    lost = RecordingQueue()  # the queue was down when the bucket was created: its task is gone
    with client_over(runtime, buckets_with(runtime, lost)) as client:
        bucket_id = client.post(
            BUCKETS, json={"name": unique_bucket_name(), "provider": "local", "region": "local-1"}
        ).json()["id"]
        assert lost.tasks == ["bucket.reconcile"]
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


def test_concurrent_runs_of_one_reconcile_act_once(runtime: Runtime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    providers = RecordingProviders(runtime)
    queue = RecordingQueue()
    buckets = buckets_with(runtime, queue, providers)
    with runtime.db.session() as session:
        scope = operator_scope(session)
        names = [unique_bucket_name("race") for _ in range(5)]
        ids = [buckets.create(session, scope, name, "local", "local-1").bucket.id for name in names]
    with ThreadPoolExecutor(max_workers=10) as pool:
        for bucket_id in ids:
            list(pool.map(lambda _, b=bucket_id: buckets.reconcile(b), range(10)))
    created = providers.called("create_bucket")
    for name, bucket_id in zip(names, ids, strict=True):
        assert created.count(name) == 1, f"{name} was created {created.count(name)} times"
        assert events(runtime, bucket_id) == ["created", "provisioning", "ready"]
        assert row(runtime, bucket_id).claimed_until is None
    assert queue.tasks == ["bucket.reconcile"] * 5  # one per create; no run found more to do


def test_a_stale_claim_from_a_dead_worker_expires(runtime: Runtime) -> None:
    from datetime import timedelta

    from loopback.kit.clock import utcnow

    buckets = buckets_with(runtime, RecordingQueue())
    with runtime.db.session() as session:
        scope = operator_scope(session)
        bucket_id = buckets.create(session, scope, unique_bucket_name(), "local", "local-1").bucket.id
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.claimed_until = utcnow() + timedelta(seconds=60)  # a worker died holding it
    buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "pending"
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.claimed_until = utcnow() - timedelta(seconds=1)  # ... and its claim ran out
    buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "ready"
