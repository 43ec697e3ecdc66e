"""Automation: reconcile is idempotent, the resync recovers lost tasks, failures are honest."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.buckets import reconcile
from loopback.buckets import service as bucket_service
from loopback.buckets.models import Bucket, BucketEvent, DesiredState
from loopback.kit.clock import utcnow
from loopback.kit.ports import free_ports
from loopback.providers import s3
from loopback.providers.base import CREDENTIALS_REFUSED, Placement, RegionSpec, StorageProvider
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
    runtime: Runtime,
    seaweedfs: EmbeddedSeaweedFS,
    name: str,
    endpoint: str,
    secret: str | None = None,
    key_id: str | None = None,
) -> None:
    with runtime.db.session() as session:
        runtime.providers.ensure_provider(
            session,
            name=name,
            family="s3",
            display_name=name,
            regions=[RegionSpec("r1", "Region one", endpoint)],
            access_key_id=key_id or seaweedfs.identity.access_key_id,
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
    assert (retrying.status_reason or "").endswith(": the provider could not be reached"), (
        retrying.status_reason
    )
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


WRONG_SECRET = "sentinel-secret-3f9c1e7a-never-shown"
WRONG_KEY_ID = "LBSENTINELKEYID7Q2X"


@pytest.mark.parametrize(
    ("key_id", "secret", "code"),
    [
        (None, WRONG_SECRET, "SignatureDoesNotMatch"),  # the operator's key, with a wrong secret
        (WRONG_KEY_ID, WRONG_SECRET, "InvalidAccessKeyId"),  # a key the provider does not know
    ],
)
def test_a_provider_that_refuses_the_operators_key_tells_the_tenant_without_its_codes(
    client: TestClient,
    runtime: Runtime,
    seaweedfs: EmbeddedSeaweedFS,
    caplog: pytest.LogCaptureFixture,
    key_id: str | None,
    secret: str,
    code: str,
) -> None:
    """The tenant reads that the provider refused the control plane's credentials, never the
    provider's code (``InvalidAccessKeyId`` reads as if the tenant's key were wrong), the operator's
    key id or secret; the operator's log keeps the raw refusal."""
    caplog.set_level("WARNING", logger="loopback.buckets.reconcile")
    add_provider(runtime, seaweedfs, "wrongkey", seaweedfs.endpoint, secret=secret, key_id=key_id)
    operator_key_id = key_id or seaweedfs.identity.access_key_id
    bucket_id = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "wrongkey", "region": "r1"}
    ).json()["id"]
    failed = wait_for_status(client, bucket_id, "failed")
    assert failed["status_reason"] == f"create failed: {CREDENTIALS_REFUSED}"
    assert row(runtime, bucket_id).attempts == 1
    assert events(runtime, bucket_id)[-1] == "failed"

    tenant_reads = [
        client.get(f"{BUCKETS}/{bucket_id}").text,
        client.get(BUCKETS).text,
        client.get(f"{BUCKETS}/{bucket_id}/events").text,
        client.get(f"/v2/organizations/demo/projects/default/buckets/{bucket_id}").text,
    ]
    assert (
        client.get(f"{BUCKETS}/{bucket_id}/events").json()["events"][-1]["reason"] == failed["status_reason"]
    )
    for text in tenant_reads:
        for hidden in (code, "SignatureDoesNotMatch", "InvalidAccessKeyId", operator_key_id, secret):
            assert hidden not in text, f"the tenant reads {hidden!r}"

    operator_log = [r.getMessage() for r in caplog.records if bucket_id in r.getMessage()]
    assert any(code in line for line in operator_log), operator_log  # the raw refusal, for the operator
    assert all(secret not in line for line in caplog.messages)


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
    now = [task for task, _, delay in queue.asked if delay is None]
    assert now == ["bucket.reconcile"] * 5  # one per create; no run found more to do
    # and each of the five claims scheduled its re-check for just after its lease
    rechecks = [(task, args[0], delay) for task, args, delay in queue.asked if delay is not None]
    assert sorted(rechecks) == sorted(("bucket.reconcile", b, reconcile.RECHECK_SECONDS) for b in ids)
    assert reconcile.RECHECK_SECONDS > reconcile.CLAIM_SECONDS


def test_a_stale_claim_from_a_dead_worker_expires(runtime: Runtime) -> None:
    queue = RecordingQueue()
    buckets = buckets_with(runtime, queue)
    with runtime.db.session() as session:
        scope = operator_scope(session)
        bucket_id = buckets.create(session, scope, unique_bucket_name(), "local", "local-1").bucket.id
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.claimed_until = utcnow() + timedelta(seconds=reconcile.CLAIM_SECONDS)  # a live run's
    buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "pending"
    assert queue.asked == [("bucket.reconcile", (bucket_id,), None)]  # a live run comes back itself
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.claimed_until = utcnow() + timedelta(seconds=2)  # a worker died holding it
    buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "pending"
    task, args, delay = queue.asked[-1]  # a lease running out: come back once it has
    assert (task, args) == ("bucket.reconcile", (bucket_id,))
    assert delay is not None
    assert 2 < delay <= 3
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        bucket.claimed_until = utcnow() - timedelta(seconds=1)  # ... and its claim ran out
    buckets.reconcile(bucket_id)
    assert row(runtime, bucket_id).status == "ready"


class StallingProviders(RecordingProviders):
    """The real providers, whose ``create_bucket`` waits until ``go`` is set, as a call to a
    provider that hangs waits for its timeout; ``entered`` counts the calls that began."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.go = threading.Event()
        self.entered = 0

    def adapter(self, session: Session, provider_id: str) -> StorageProvider:
        inner = super().adapter(session, provider_id)
        providers = self

        class Stalling:
            def __getattr__(self, name: str) -> Any:
                attribute = getattr(inner, name)
                if name != "create_bucket":
                    return attribute

                def stalled(*args: Any, **kwargs: Any) -> Any:
                    providers.entered += 1
                    providers.go.wait(30)
                    return attribute(*args, **kwargs)

                return stalled

        return cast(StorageProvider, Stalling())


def test_a_provider_call_longer_than_the_lease_keeps_its_claim(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "CLAIM_SECONDS", 1.0)
    monkeypatch.setattr(reconcile, "RENEW_SECONDS", 0.2)
    providers = StallingProviders(runtime)
    queue = RecordingQueue()
    buckets = buckets_with(runtime, queue, providers)
    name = unique_bucket_name("slow")
    with runtime.db.session() as session:
        bucket_id = buckets.create(session, operator_scope(session), name, "local", "local-1").bucket.id
    first = threading.Thread(target=buckets.reconcile, args=(bucket_id,))
    first.start()
    try:
        wait_for(lambda: providers.entered == 1, timeout=10)
        claimed = row(runtime, bucket_id).claimed_until
        for _ in range(6):  # three leases long: a duplicate (the re-check, the resync) finds it held
            time.sleep(0.5)
            buckets.reconcile(bucket_id)
        assert providers.entered == 1, "a second run took a claim whose run was still working"
        renewed = row(runtime, bucket_id).claimed_until
        assert claimed is not None
        assert renewed is not None
        assert renewed > claimed + timedelta(seconds=2)
    finally:
        providers.go.set()
        first.join(timeout=30)
    assert row(runtime, bucket_id).status == "ready"
    assert row(runtime, bucket_id).claimed_until is None
    assert providers.called("create_bucket") == [name]
    assert events(runtime, bucket_id) == ["created", "provisioning", "ready"]
    rechecks = [delay for task, _, delay in queue.asked if delay is not None]
    assert len(rechecks) >= 1 + 10  # the claim's and one per renewal (every 0.2 s for 3 s)


def test_a_request_newer_than_the_claim_is_not_recorded_as_done(runtime: Runtime) -> None:
    providers = StallingProviders(runtime)
    queue = RecordingQueue()
    buckets = buckets_with(runtime, queue, providers)
    with runtime.db.session() as session:
        scope = operator_scope(session)
        bucket_id = buckets.create(session, scope, unique_bucket_name("newer"), "local", "local-1").bucket.id
    run = threading.Thread(target=buckets.reconcile, args=(bucket_id,))
    run.start()
    try:
        wait_for(lambda: providers.entered == 1, timeout=10)
        with runtime.db.session() as session:  # a change arrives while the provider works
            bucket = session.get(Bucket, bucket_id)
            assert bucket is not None
            bucket.generation += 1
    finally:
        providers.go.set()
        run.join(timeout=30)
    seen = row(runtime, bucket_id)
    assert (seen.status, seen.observed_generation, seen.claimed_until) == ("provisioning", 0, None)
    assert events(runtime, bucket_id) == ["created", "provisioning"]
    assert queue.asked[-1] == ("bucket.reconcile", (bucket_id,), None)  # the newer one comes next
    buckets.reconcile(bucket_id)
    seen = row(runtime, bucket_id)
    assert (seen.status, seen.observed_generation, seen.claimed_until) == ("ready", 2, None)
    assert events(runtime, bucket_id) == ["created", "provisioning", "ready"]


def test_one_thread_renews_every_held_claim_until_its_run_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile, "RENEW_SECONDS", 0.05)
    renewed: list[str] = []
    threads: set[threading.Thread] = set()
    lost = {"taken"}  # this claim's lease was taken over: renewing it stops at the first refusal

    def renew(claim: reconcile.Claim) -> reconcile.Claim | None:
        renewed.append(claim.bucket_id)
        threads.add(threading.current_thread())
        if claim.bucket_id in lost:
            return None
        return replace(claim, lease=claim.lease + timedelta(seconds=1))

    def claim(bucket_id: str) -> reconcile.Claim:
        return reconcile.Claim(
            bucket_id, 1, DesiredState.PRESENT, cast(StorageProvider, None), bucket_id, "r", "e",
            Placement("org", "project", None), retain=False, force=False, releases=[], lease=utcnow(),
        )  # fmt: skip

    renewals = reconcile.Renewals(renew)
    with renewals.hold(claim("kept")) as kept, renewals.hold(claim("taken")):
        wait_for(lambda: renewed.count("kept") >= 3, timeout=10)
    assert len(threads) == 1  # one thread renews both, none is started per run
    assert renewed.count("taken") == 1
    assert kept.claim.lease > claim("kept").lease  # the run records against the lease renewed last
    ended = len(renewed)
    time.sleep(0.2)
    assert len(renewed) == ended, "a claim was renewed after its run ended"


@contextmanager
def hung_endpoint() -> Iterator[str]:
    """An address that accepts connections and never answers, as a stopped (SIGSTOP) storage does:
    the kernel completes the handshake into the listen backlog, and nothing ever reads."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_hung_provider_is_retried_with_its_reason_after_the_first_attempt(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    bound = s3.CALL_ATTEMPTS * (s3.CONNECT_TIMEOUT_SECONDS + s3.READ_TIMEOUT_SECONDS)
    assert bound <= 30  # a hung call is a transient failure within seconds, not minutes
    with hung_endpoint() as endpoint:
        add_provider(runtime, seaweedfs, "hung", endpoint)
        started = time.monotonic()
        bucket_id = client.post(
            BUCKETS, json={"name": unique_bucket_name(), "provider": "hung", "region": "r1"}
        ).json()["id"]
        retrying = wait_for(lambda: (b := row(runtime, bucket_id)).attempts >= 1 and b, timeout=bound + 10)
        took = time.monotonic() - started
        shown = client.get(f"{BUCKETS}/{bucket_id}").json()
    assert took < bound + 5
    assert retrying.status == "provisioning"
    reason = retrying.status_reason or ""
    assert "retrying" in reason
    assert "timeout" in reason.lower(), reason
    assert shown["status_reason"] == reason
    assert "retry" in events(runtime, bucket_id)
