"""A project's totals (``bucket_totals``: v2's total, the usage rollup) stay what counting its rows
says, through every way a row changes: creates, replaces, deletes and usage writes, one at a time
and many at once from several threads, on SQLite and on PostgreSQL.

The service runs over the scripted ``fake`` family with a recording queue; the test plays the
worker by calling ``reconcile``. Usage is written as the usage round writes it: one bucket per
transaction, or a batch of buckets in one.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from sqlalchemy import select, text, update

from loopback.buckets.models import Bucket
from loopback.buckets.service import BucketService
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingQueue, buckets_with
from tests.conftest import operator_scope, unique_bucket_name
from tests.providers import fake_family
from tests.providers.fake_family import FakeProvider

Totals = dict[str, tuple[int, int, int, int]]  # project: current rows, live, objects, bytes


@pytest.fixture
def fake(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    with fake_family.registered(runtime, monkeypatch) as provider:
        yield provider


@pytest.fixture
def buckets(runtime: Runtime) -> BucketService:
    return buckets_with(runtime, RecordingQueue())


def counted(runtime: Runtime) -> Totals:
    """The totals by counting every row, as the maintained ones must say."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    with runtime.db.session() as session:
        rows = session.execute(
            select(
                Bucket.project_id,
                Bucket.superseded_by_id,
                Bucket.deleted_at,
                Bucket.object_count,
                Bucket.bytes,
            )
        )
        for project, superseded_by, deleted_at, objects, size in rows:
            kept = found[project]
            kept[0] += superseded_by is None
            if deleted_at is None:
                kept[1] += 1
                kept[2] += objects or 0
                kept[3] += size or 0
    return {project: (a, b, c, d) for project, (a, b, c, d) in found.items()}


def maintained(runtime: Runtime) -> Totals:
    with runtime.db.session() as session:
        rows = session.execute(
            text("SELECT project_id, current_rows, live_buckets, object_count, bytes FROM bucket_totals")
        )
        return {project: (int(a), int(b), int(c), int(d)) for project, a, b, c, d in rows}


def create(runtime: Runtime, buckets: BucketService, fake: FakeProvider, ready: bool = True) -> str:
    with runtime.db.session() as session:
        bucket_id = buckets.create(
            session, operator_scope(session), unique_bucket_name(), fake.name, "fake-1"
        ).bucket.id
    if ready:
        buckets.reconcile(bucket_id)
    return bucket_id


def delete(runtime: Runtime, buckets: BucketService, bucket_id: str) -> None:
    with runtime.db.session() as session:
        buckets.delete(session, operator_scope(session), bucket_id)
    buckets.reconcile(bucket_id)


def write_usage(runtime: Runtime, usage: dict[str, tuple[int, int]]) -> None:
    """Usage of these buckets in one transaction, one statement run over the rows, as a round's batch."""
    with runtime.db.session() as session:
        session.execute(
            text("UPDATE buckets SET object_count = :objects, bytes = :size WHERE id = :id"),
            [{"id": i, "objects": objects, "size": size} for i, (objects, size) in sorted(usage.items())],
        )


def test_totals_follow_creates_usage_replaces_and_deletes(
    runtime: Runtime, buckets: BucketService, fake: FakeProvider
) -> None:
    ids = [create(runtime, buckets, fake) for _ in range(4)]
    write_usage(runtime, {ids[0]: (10, 1000)})
    write_usage(runtime, {bucket_id: (n, n * 100) for n, bucket_id in enumerate(ids, start=1)})
    with runtime.db.session() as session:
        scope = operator_scope(session)
        project = scope.project_id
        replaced = buckets.replace(session, scope, ids[1], unique_bucket_name(), None, None).bucket.id
    assert maintained(runtime)[project] == counted(runtime)[project] == (4, 5, 10, 1000)
    delete(runtime, buckets, ids[2])  # its usage leaves the live totals, its row stays in v2's list
    assert maintained(runtime)[project] == counted(runtime)[project] == (4, 4, 7, 700)
    write_usage(runtime, {ids[2]: (99, 9900)})  # a deleted row's numbers count for nothing
    with runtime.db.session() as session:
        session.execute(update(Bucket).where(Bucket.id == replaced).values(object_count=1, bytes=1))
    assert maintained(runtime) == counted(runtime)
    assert maintained(runtime)[project] == (4, 4, 8, 701)
    with runtime.db.session() as session:
        scope = operator_scope(session)
        assert buckets.page(session, scope, 1, 100)[1] == 4
        usage = {u.project: u for u in buckets.usage_by_project(session, scope)}["default"]
    assert (usage.buckets, usage.object_count, usage.bytes) == (4, 8, 701)


def test_totals_stay_exact_under_concurrent_creates_deletes_and_usage(
    runtime: Runtime, buckets: BucketService, fake: FakeProvider
) -> None:
    """Every kind of change at once from four threads, each in transactions of its own; none may
    fail (no deadlock between a bucket's lock and its project's) and no change may be lost."""
    seeded = [create(runtime, buckets, fake) for _ in range(12)]
    chance = random.Random(14)

    def usage_of(ids: list[str]) -> dict[str, tuple[int, int]]:
        return {b: (chance.randint(0, 9), chance.randint(0, 2**40)) for b in ids}

    work: list[Callable[[], object]] = [partial(create, runtime, buckets, fake, ready=False)] * 10
    work += [partial(delete, runtime, buckets, b) for b in seeded[:5]]
    work += [partial(write_usage, runtime, usage_of([b])) for b in seeded * 2]
    work += [partial(write_usage, runtime, usage_of(seeded)) for _ in range(4)]
    chance.shuffle(work)
    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(action) for action in work]:
            done.result()
    assert maintained(runtime) == counted(runtime)
    project = next(iter(counted(runtime)))
    assert maintained(runtime)[project][:2] == (22, 17)
