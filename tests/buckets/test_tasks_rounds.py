"""The usage and drift rounds on the real SeaweedFS: what they count, how few calls they make, how
many at once, and that a round never runs on top of another."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select, update

from loopback.buckets.models import Bucket
from loopback.buckets.rounds import RoundLimits
from loopback.buckets.service import BucketService
from loopback.kit import leases
from loopback.kit.leases import RoundLeases
from loopback.kit.ports import free_ports
from loopback.providers.base import RegionSpec
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingProviders, RecordingQueue, buckets_with
from tests.conftest import operator_scope, unique_bucket_name, wait_for
from tests.providers.botocore_calls import watching

MiB = 1024 * 1024


def ready_buckets(runtime: Runtime, count: int) -> list[tuple[str, str]]:
    """``count`` ready buckets on provider ``local`` (id, name), the worker played by the test."""
    service = buckets_with(runtime, RecordingQueue())
    made = []
    with runtime.db.session() as session:
        scope = operator_scope(session)
        for _ in range(count):
            name = unique_bucket_name("round")
            made.append((service.create(session, scope, name, "local", "local-1").bucket.id, name))
    for bucket_id, _ in made:
        service.reconcile(bucket_id)
    return made


def rows(runtime: Runtime, bucket_ids: list[str]) -> dict[str, Bucket]:
    with runtime.db.session() as session:
        return {b.id: b for b in session.scalars(select(Bucket).where(Bucket.id.in_(bucket_ids)))}


def run_batches(service: BucketService, queue: RecordingQueue) -> int:
    """Play the worker for every batch the round enqueued; answers how many buckets they refreshed."""
    done = 0
    for task, args, _ in queue.asked:
        if task == "usage.sync_batch":
            done += service.sync_usage_batch(*args)
    queue.asked.clear()
    return done


def test_usage_counts_every_version_and_the_parts_of_unfinished_uploads(
    runtime: Runtime, worker: None, operator_s3: Any
) -> None:
    """What a provider bills: a listing sees one object of 20 bytes; the bucket stores three
    versions (one behind a delete marker) and two parts of an upload never completed."""
    (versioned_id, versioned), (plain_id, plain) = ready_buckets(runtime, 2)
    operator_s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    operator_s3.put_object(Bucket=versioned, Key="k", Body=b"1" * 10)
    operator_s3.put_object(Bucket=versioned, Key="k", Body=b"2" * 20)  # the first becomes noncurrent
    operator_s3.put_object(Bucket=versioned, Key="gone", Body=b"3" * 5)
    operator_s3.delete_object(Bucket=versioned, Key="gone")  # a delete marker: the 5 bytes stay stored
    upload = operator_s3.create_multipart_upload(Bucket=versioned, Key="big")["UploadId"]
    for number, body in ((1, b"p" * (5 * MiB)), (2, b"q" * 1000)):
        operator_s3.upload_part(Bucket=versioned, Key="big", UploadId=upload, PartNumber=number, Body=body)
    operator_s3.put_object(Bucket=plain, Key="one", Body=b"x" * 7)
    listed = operator_s3.list_objects_v2(Bucket=versioned)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("k", 20)]

    def synced() -> dict[str, Bucket] | None:
        found = rows(runtime, [versioned_id, plain_id])
        return found if all(b.last_synced_at for b in found.values()) else None

    runtime.buckets.sync_all_usage()  # the round; the worker runs its batches
    found = wait_for(synced)
    assert (found[versioned_id].object_count, found[versioned_id].bytes) == (
        3 + 2,
        10 + 20 + 5 + 5 * MiB + 1000,
    )
    assert (found[plain_id].object_count, found[plain_id].bytes) == (1, 7)
    wait_for(lambda: not RoundLeases(runtime.db).state("usage").running)  # its last batch ended it


def test_the_drift_round_lists_once_and_marks_exactly_the_vanished_buckets_lost(
    runtime: Runtime, operator_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = ready_buckets(runtime, 5)
    vanished = {made[1][0], made[3][0]}
    for bucket_id, name in made:
        if bucket_id in vanished:
            operator_s3.delete_bucket(Bucket=name)
    providers = RecordingProviders(runtime)
    with watching(monkeypatch) as calls:
        service = buckets_with(runtime, RecordingQueue(), providers, RoundLimits(batch=2))
        assert service.check_drift() == 2
    # one listing for the region, read page by page (SeaweedFS may hold many buckets of other tests),
    # kept for all three pages of two buckets; a HeadBucket only for the two the listing lacks
    assert providers.called("bucket_names") == ["local-1"]
    names = sum(1 for _ in all_bucket_names(operator_s3))
    assert calls.counts["ListBuckets"] == names // 1000 + 1
    assert calls.counts["HeadBucket"] == 2
    assert sorted(providers.called("bucket_exists")) == sorted(n for i, n in made if i in vanished)
    found = rows(runtime, [bucket_id for bucket_id, _ in made])
    assert {i for i, b in found.items() if b.status == "lost"} == vanished
    assert all(b.status == "ready" and b.last_checked_at for i, b in found.items() if i not in vanished)


def all_bucket_names(s3: Any) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        page = s3.list_buckets(MaxBuckets=1000, **({"ContinuationToken": token} if token else {}))
        names += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            return names


def test_a_drift_round_in_progress_blocks_a_second(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ready_buckets(runtime, 1)
    providers = RecordingProviders(runtime)
    with watching(monkeypatch, delay=1.0) as calls:  # each call takes a second
        service = buckets_with(runtime, RecordingQueue(), providers)
        first: list[int] = []
        running = threading.Thread(target=lambda: first.append(service.check_drift()))
        running.start()
        assert calls.started.wait(30)
        assert service.check_drift() == 0  # the first one holds the round: this one does nothing
        running.join(30)
    assert first == [0]
    assert providers.called("bucket_names") == ["local-1"]  # one round listed the region, not two
    assert calls.counts["HeadBucket"] == 0
    assert not RoundLeases(runtime.db).state("drift").running  # released: the next period's may run


def test_a_usage_round_in_progress_blocks_the_next_until_its_last_batch(runtime: Runtime) -> None:
    made = ready_buckets(runtime, 3)
    queue = RecordingQueue()  # the batches wait in the queue: the round is in progress
    service = buckets_with(runtime, queue, limits=RoundLimits(batch=2))
    assert service.sync_all_usage() == 3
    assert queue.tasks == ["usage.sync_batch", "usage.sync_batch"]
    batches = list(queue.asked)
    assert service.sync_all_usage() == 0  # the next period finds it running and enqueues nothing
    assert len(queue.asked) == 2
    assert run_batches(service, queue) == 3
    assert all(b.last_synced_at for b in rows(runtime, [i for i, _ in made]).values())
    assert not RoundLeases(runtime.db).state("usage").running
    assert service.sync_all_usage() == 3  # over: the next round runs
    # a batch run twice (at-least-once delivery) after its round ended does nothing
    assert service.sync_usage_batch(*batches[0][1]) == 0


def test_a_round_whose_worker_died_is_taken_over_when_its_lease_runs_out(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(leases, "LEASE_SECONDS", 1.0)
    ready_buckets(runtime, 1)
    dead, alive = RecordingQueue(), RecordingQueue()
    assert buckets_with(runtime, dead).sync_all_usage() == 1  # its batch is lost with its worker
    service = buckets_with(runtime, alive)
    assert service.sync_all_usage() == 0
    wait_for(lambda: not RoundLeases(runtime.db).state("usage").running, timeout=10)
    assert service.sync_all_usage() == 1
    stale = dead.asked[0][1]
    assert service.sync_usage_batch(*stale) == 0  # the dead round's batch, delivered late, is left
    assert run_batches(service, alive) == 1


def test_calls_to_one_provider_are_bounded_by_its_pool(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_buckets(runtime, 6)
    queue = RecordingQueue()
    with watching(monkeypatch, delay=0.1) as calls:  # each call held, so calls that may overlap do
        service = buckets_with(runtime, queue, RecordingProviders(runtime), RoundLimits(concurrency=2))
        service.sync_all_usage()
        assert run_batches(service, queue) == 6
    assert calls.counts["ListObjectVersions"] == 6
    assert calls.counts["ListMultipartUploads"] == 6
    assert calls.most_in_flight == 2  # never more than the pool, and the pool is used


def test_a_provider_that_cannot_be_reached_costs_a_round_one_timeout_not_one_per_bucket(
    runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, caplog: pytest.LogCaptureFixture
) -> None:
    with runtime.db.session() as session:
        runtime.providers.ensure_provider(
            session,
            name="gone",
            family="s3",
            display_name="Gone",
            regions=[RegionSpec("r1", "Region one", f"http://127.0.0.1:{free_ports(1)[0]}")],
            access_key_id=seaweedfs.identity.access_key_id,
            secret_access_key=seaweedfs.identity.secret_access_key,
        )
    queue = RecordingQueue()
    providers = RecordingProviders(runtime)
    service = buckets_with(runtime, queue, providers, RoundLimits(concurrency=1))
    with runtime.db.session() as session:
        scope = operator_scope(session)
        made = [
            service.create(session, scope, unique_bucket_name(), "gone", "r1").bucket.id for _ in range(4)
        ]
    with runtime.db.session() as session:  # as if they had been made before the provider went away
        session.execute(update(Bucket).where(Bucket.id.in_(made)).values(status="ready"))
    assert service.sync_all_usage() == 4
    assert run_batches(service, queue) == 0
    assert len(providers.called("read_usage")) == 1  # the other three were skipped at once
    assert "usage of 4 bucket(s) at provider" in caplog.text
    assert not RoundLeases(runtime.db).state("usage").running
