"""``BucketService`` called directly, over the scripted ``fake`` family and a recording queue.

No worker runs: the test plays the worker by calling ``reconcile`` itself, so it sees exactly what
the service recorded and what it asked the queue for at each step. The database is real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from loopback.buckets.models import Bucket, BucketEvent
from loopback.buckets.schemas import BucketOut
from loopback.buckets.service import BucketService
from loopback.kit.clock import utcnow
from loopback.kit.errors import Invalid
from loopback.providers.base import REFUSED_REASON, ProviderError
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingQueue, buckets_with
from tests.conftest import operator_scope, unique_bucket_name
from tests.providers import fake_family
from tests.providers.fake_family import FakeProvider

UNREACHABLE = ProviderError("provider unreachable", transient=True, code="Unreachable")


@pytest.fixture
def fake(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    with fake_family.registered(runtime, monkeypatch) as provider:
        yield provider


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


@pytest.fixture
def buckets(runtime: Runtime, queue: RecordingQueue) -> BucketService:
    return buckets_with(runtime, queue)


def created(runtime: Runtime, buckets: BucketService, fake: FakeProvider) -> str:
    with runtime.db.session() as session:
        return buckets.create(
            session, operator_scope(session), unique_bucket_name(), fake.name, "fake-1"
        ).bucket.id


def stored(runtime: Runtime, bucket_id: str) -> Bucket:
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        session.expunge(bucket)
        return bucket


def event_kinds(session: Session, bucket_id: str) -> list[str]:
    return [
        e.kind for e in session.query(BucketEvent).filter_by(bucket_id=bucket_id).order_by(BucketEvent.id)
    ]


def test_create_records_the_intent_and_asks_for_one_reconcile(
    runtime: Runtime, buckets: BucketService, queue: RecordingQueue, fake: FakeProvider
) -> None:
    bucket_id = created(runtime, buckets, fake)
    assert stored(runtime, bucket_id).status == "pending"
    assert queue.asked == [("bucket.reconcile", (bucket_id,), None)]  # and nothing else, yet
    assert fake.calls["create_bucket"] == 0  # the provider is the worker's business


def test_bad_input_names_the_field_and_records_nothing(
    runtime: Runtime, buckets: BucketService, queue: RecordingQueue, fake: FakeProvider
) -> None:
    with runtime.db.session() as session, pytest.raises(Invalid) as refused:
        buckets.create(session, operator_scope(session), "Not_A_Name", fake.name, "fake-1")
    assert {p.field for p in refused.value.problems} == {"name"}
    with runtime.db.session() as session:
        assert session.query(Bucket).filter_by(name="Not_A_Name").count() == 0
    assert queue.asked == []


def test_a_transient_failure_is_recorded_and_retried_later(
    runtime: Runtime, buckets: BucketService, queue: RecordingQueue, fake: FakeProvider
) -> None:
    bucket_id = created(runtime, buckets, fake)
    fake.fail("create_bucket", UNREACHABLE)
    buckets.reconcile(bucket_id)
    waiting = stored(runtime, bucket_id)
    assert (waiting.status, waiting.attempts) == ("provisioning", 1)
    assert "retrying" in (waiting.status_reason or "")
    task, args, delay = queue.asked[-1]
    assert (task, args) == ("bucket.reconcile", (bucket_id,))
    assert delay is not None
    assert delay > 0  # later, not at once
    buckets.reconcile(bucket_id)  # a run before the retry is due does nothing
    assert fake.calls["create_bucket"] == 1
    with runtime.db.session() as session:
        session.execute(update(Bucket).where(Bucket.id == bucket_id).values(next_attempt_at=utcnow()))
    buckets.reconcile(bucket_id)  # the retry the queue was asked for, when it is due
    assert stored(runtime, bucket_id).status == "ready"
    assert fake.calls["create_bucket"] == 2
    with runtime.db.session() as session:
        assert event_kinds(session, bucket_id) == ["created", "provisioning", "retry", "ready"]


def test_a_permanent_refusal_fails_the_bucket_without_a_retry(
    runtime: Runtime, buckets: BucketService, queue: RecordingQueue, fake: FakeProvider
) -> None:
    bucket_id = created(runtime, buckets, fake)
    fake.fail(
        "create_bucket",
        ProviderError("create bucket: NotImplemented: no", transient=False, code="NotImplemented"),
    )
    buckets.reconcile(bucket_id)
    failed = stored(runtime, bucket_id)
    assert failed.status == "failed"
    assert failed.status_reason == f"create failed: {REFUSED_REASON}"  # the code stays in the log
    # only the one create asked for at once; a claim also asks for a delayed re-check of its lease
    assert [task for task, _, delay in queue.asked if delay is None] == ["bucket.reconcile"]


def test_delete_is_recorded_then_carried_out_by_the_reconcile(
    runtime: Runtime, buckets: BucketService, queue: RecordingQueue, fake: FakeProvider
) -> None:
    bucket_id = created(runtime, buckets, fake)
    buckets.reconcile(bucket_id)
    name = stored(runtime, bucket_id).name
    assert name in fake.buckets
    with runtime.db.session() as session:
        buckets.delete(session, operator_scope(session), bucket_id)
    assert stored(runtime, bucket_id).status == "deleting"
    assert name in fake.buckets  # nothing happened at the provider yet
    buckets.reconcile(bucket_id)
    assert stored(runtime, bucket_id).status == "deleted"
    assert name not in fake.buckets
    assert [task for task, _, delay in queue.asked if delay is None].count("bucket.reconcile") == 2


@pytest.mark.parametrize("state", ["pending", "ready with usage", "deleted"])
def test_one_bucket_read_as_a_core_row_answers_the_json_the_orm_view_does(
    runtime: Runtime, buckets: BucketService, fake: FakeProvider, state: str
) -> None:
    """GET one bucket answers ``BucketOut.json_of`` over ``get_shown``; every other route answers
    ``BucketOut.of`` over ORM rows: byte for byte the same, a deleted bucket's hidden usage included."""
    bucket_id = created(runtime, buckets, fake)
    changes: dict[str, object] = {}
    if state == "ready with usage":
        changes = {"status": "ready", "endpoint": "http://s3.test", "object_count": 3, "bytes": 42}
        changes |= {"last_synced_at": utcnow(), "attempts": 2, "next_attempt_at": utcnow()}
    elif state == "deleted":
        changes = {"status": "deleted", "endpoint": "http://s3.test", "object_count": 3, "bytes": 42}
        changes |= {"status_reason": "gone", "adopted": True}
    if changes:
        with runtime.db.session() as session:
            session.execute(update(Bucket).where(Bucket.id == bucket_id).values(**changes))
            session.commit()
    with runtime.db.session() as session:
        scope = operator_scope(session)
        from_orm = BucketOut.of(buckets.get(session, scope, bucket_id)).model_dump_json().encode()
        from_core = BucketOut.json_of(buckets.get_shown(session, scope, bucket_id))
    assert from_core == from_orm
    assert (b'"usage":null' in from_core) == (state == "deleted")
