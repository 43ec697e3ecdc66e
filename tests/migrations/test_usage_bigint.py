"""Usage fits in 64 bits on every database: a bucket over 2 GiB is recorded and shown (migration 0009)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import update

from loopback.buckets.models import Bucket
from loopback.runtime import Runtime
from tests.conftest import BUCKETS, create_ready_bucket

FIVE_GIB = 5 * 2**30


def test_a_bucket_over_two_gib_is_recorded_and_shown(client: TestClient, runtime: Runtime) -> None:
    bucket = create_ready_bucket(client, "big")
    with runtime.db.session() as session:  # what the usage sync writes for a large bucket
        session.execute(
            update(Bucket).where(Bucket.id == bucket["id"]).values(bytes=FIVE_GIB, object_count=3_000_000_000)
        )
    usage = client.get(f"{BUCKETS}/{bucket['id']}").json()["usage"]
    assert (usage["bytes"], usage["object_count"]) == (FIVE_GIB, 3_000_000_000)
