"""The usage history is written by the real usage sync and compacted by a periodic round."""

from __future__ import annotations

from typing import Any

from loopback.buckets.samples import history
from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from tests.billing import history as rows
from tests.conftest import unique_bucket_name


def bucket_holding_ten_bytes(runtime: Runtime, operator_s3: Any, prefix: str) -> tuple[str, str]:
    """A ready bucket at the real SeaweedFS with one object of 10 bytes: its name and id."""
    name = unique_bucket_name(prefix)
    operator_s3.create_bucket(Bucket=name)
    operator_s3.put_object(Bucket=name, Key="one", Body=b"x" * 10)
    with runtime.db.session() as session:
        return name, rows.bucket(session, "demo", "default", name, utcnow())


def written(runtime: Runtime, bucket_id: str) -> list[tuple[str, int, int]]:
    with runtime.db.session() as session:
        return [(s.resolution, s.object_count, s.bytes) for s in history(session, bucket_id)]


def test_a_usage_sync_writes_a_raw_sample(runtime: Runtime, operator_s3: Any) -> None:
    _, bucket_id = bucket_holding_ten_bytes(runtime, operator_s3, "sample")
    runtime.buckets.sync_usage(bucket_id)  # the task the usage round and a refresh run
    assert written(runtime, bucket_id) == [("raw", 1, 10)]


def test_compaction_is_a_periodic_round(runtime: Runtime) -> None:
    assert "usage.compact.periodic" in runtime.automation.rounds


def test_a_sync_that_finds_nothing_changed_writes_no_sample(runtime: Runtime, operator_s3: Any) -> None:
    """Sample and hold: an unchanged figure adds no row (an idle bucket costs nothing), a change does."""
    name, bucket_id = bucket_holding_ten_bytes(runtime, operator_s3, "idle")
    runtime.buckets.sync_usage(bucket_id)
    runtime.buckets.sync_usage(bucket_id)
    operator_s3.put_object(Bucket=name, Key="two", Body=b"y" * 5)
    runtime.buckets.sync_usage(bucket_id)
    runtime.buckets.sync_usage(bucket_id)
    assert written(runtime, bucket_id) == [("raw", 1, 10), ("raw", 2, 15)]
