"""A bucket whose worker was killed midway is taken over by another worker within seconds.

Two workers run; the one that claims the bucket hangs in the provider call (an endpoint that
accepts and never answers, as a stopped storage does) and is killed with SIGKILL; the storage
answers again, and the other worker finishes the bucket: the claim was a short lease, and the
re-check the claim scheduled comes just after it. The periodic resync is set to an hour, so it
cannot be what helps.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.buckets import reconcile
from loopback.kit.settings import Settings
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.automation.workers import WorkerProcess
from tests.buckets.test_tasks import add_provider, events, hung_endpoint, row
from tests.conftest import operator_scope, unique_bucket_name, wait_for

NO_RESYNC = {"LOOPBACK_RESYNC_SECONDS": "3600"}
CONVERGED_WITHIN_SECONDS = 30


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def test_a_killed_workers_bucket_is_taken_over_within_seconds(
    runtime: Runtime,
    settings: Settings,
    seaweedfs: EmbeddedSeaweedFS,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> None:
    with hung_endpoint() as endpoint:
        add_provider(runtime, seaweedfs, "stalled", endpoint)
        for name in ("one", "two"):
            workers.append(WorkerProcess(settings, tmp_path / f"{name}.log", **NO_RESYNC).start(threads=1))
        with runtime.db.session() as session:
            created = runtime.buckets.create(
                session, operator_scope(session), unique_bucket_name("kill"), "stalled", "r1"
            )
        bucket_id = created.bucket.id
        claimed = f"bucket {bucket_id} (kill-"

        holder, survivor = wait_for(
            lambda: next((pair for pair in (workers, workers[::-1]) if claimed in pair[0].output()), None),
            timeout=30,
        )
        holder.kill()  # in the provider call, holding the claim
        killed = time.monotonic()
    assert row(runtime, bucket_id).status == "provisioning"
    add_provider(runtime, seaweedfs, "stalled", seaweedfs.endpoint)  # the storage answers again

    settled = wait_for(
        lambda: (b := row(runtime, bucket_id)).status in ("ready", "failed") and b,
        timeout=CONVERGED_WITHIN_SECONDS + 15,
        interval=0.25,
    )
    took = time.monotonic() - killed
    assert settled.status == "ready", settled.status_reason
    assert took < CONVERGED_WITHIN_SECONDS, survivor.output()
    assert took > reconcile.CLAIM_SECONDS - 5  # it waited for the lease, not for nothing
    assert f"bucket {bucket_id} (kill-" in survivor.output()
    assert events(runtime, bucket_id) == ["created", "provisioning", "ready"]
