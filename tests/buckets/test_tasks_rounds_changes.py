"""The usage round on the real SeaweedFS lists only the buckets whose stored data changed, as its
master's volume counters tell (``admin_api: seaweedfs``, ``providers.changes``), and every other
bucket keeps its figures, synced now; a refresh, a listing fallen due and a master that cannot be
asked all list."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from loopback.buckets.models import Bucket
from loopback.buckets.rounds import RoundLimits
from loopback.kit.clock import utcnow
from loopback.providers.models import Provider
from loopback.providers.s3_admin.seaweedfs import fingerprints, volume_entries
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingProviders, RecordingQueue, buckets_with
from tests.buckets.test_tasks_rounds import ready_buckets, rows, run_batches
from tests.conftest import wait_for


def seen_by_master(runtime: Runtime) -> Mapping[str, str]:
    """What the master says now: each bucket holding data, by its fingerprint."""
    with runtime.db.session() as session:
        provider_id = session.scalars(select(Provider.id).where(Provider.name == "local")).one()
        adapter = runtime.providers.adapter(session, provider_id)
    return adapter.usage_fingerprints("local-1")  # type: ignore[attr-defined, no-any-return]


def needles(runtime: Runtime, bucket: str) -> int:
    """How many needles the master counts in the bucket's volumes (a new volume shows 0 at first:
    its counters come with the volume server's next heartbeat)."""
    with runtime.db.session() as session:
        master = (
            session.scalars(select(Provider).where(Provider.name == "local")).one().settings["admin_endpoint"]
        )
    status = httpx.get(f"{master}/vol/status", timeout=5).json()
    return sum(v["FileCount"] for v in volume_entries(status) if v.get("Collection") == bucket)


def round_listing(runtime: Runtime, limits: RoundLimits | None = None) -> list[str]:
    """One usage round, its batches played here; answers the names of the buckets it listed."""
    providers = RecordingProviders(runtime)
    queue = RecordingQueue()
    service = buckets_with(runtime, queue, providers, limits or RoundLimits(batch=2))
    service.sync_all_usage()
    run_batches(service, queue)
    assert providers.called("usage_fingerprints")  # asked once per batch, before its listings
    return providers.called("read_usage")


def test_a_round_lists_only_the_buckets_whose_data_changed(runtime: Runtime, operator_s3: Any) -> None:
    (quiet_id, quiet), (written_id, written), (empty_id, empty) = made = ready_buckets(runtime, 3)
    operator_s3.put_object(Bucket=quiet, Key="a", Body=b"q" * 10)
    operator_s3.put_object(Bucket=written, Key="a", Body=b"w" * 20)
    wait_for(lambda: needles(runtime, quiet) and needles(runtime, written), timeout=30)  # a heartbeat later
    assert {quiet, written, empty} <= set(round_listing(runtime))  # no fingerprint yet: each listed
    first = rows(runtime, [i for i, _ in made])

    before = seen_by_master(runtime)[written]
    operator_s3.put_object(Bucket=written, Key="b", Body=b"w" * 30)
    wait_for(lambda: needles(runtime, written) == 2, timeout=30)
    assert seen_by_master(runtime)[written] != before
    listed = round_listing(runtime)

    assert written in listed
    assert quiet not in listed
    assert empty not in listed
    found = rows(runtime, [i for i, _ in made])
    assert (found[written_id].object_count, found[written_id].bytes) == (2, 50)
    for bucket_id, figures in ((quiet_id, (1, 10)), (empty_id, (0, 0))):
        assert (found[bucket_id].object_count, found[bucket_id].bytes) == figures  # as they were,
        assert found[bucket_id].last_synced_at > first[bucket_id].last_synced_at  # and synced now
        assert found[bucket_id].usage_listed_at == first[bucket_id].usage_listed_at  # not listed


def test_a_refresh_and_a_listing_fallen_due_list_an_unchanged_bucket(runtime: Runtime) -> None:
    (refreshed_id, refreshed), (due_id, due), (_, kept) = ready_buckets(runtime, 3)
    round_listing(runtime)  # each listed once: each has a fingerprint now
    providers = RecordingProviders(runtime)
    service = buckets_with(runtime, RecordingQueue(), providers)
    service.sync_usage(refreshed_id)  # a tenant's refresh lists, whatever the master says
    assert providers.called("read_usage") == [refreshed]
    assert not providers.called("usage_fingerprints")

    with runtime.db.session() as session:  # listed longer ago than a full period
        session.execute(
            update(Bucket).where(Bucket.id == due_id).values(usage_listed_at=utcnow() - timedelta(hours=25))
        )
    listed = round_listing(runtime, RoundLimits(batch=2, full_listing=timedelta(hours=24)))
    assert due in listed
    assert kept not in listed
    assert refreshed in listed  # a refresh leaves no fingerprint (it does not wait for the master)


def test_a_master_that_cannot_be_asked_leaves_every_bucket_listed(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    made = ready_buckets(runtime, 2)
    round_listing(runtime)
    with runtime.db.session() as session:
        provider = session.scalars(select(Provider).where(Provider.name == "local")).one()
        provider.settings = {**provider.settings, "admin_endpoint": "http://127.0.0.1:9"}  # nothing there
        provider.updated_at = utcnow()
    with caplog.at_level(logging.WARNING, logger="loopback.buckets.usage"):
        listed = round_listing(runtime)
    assert {name for _, name in made} <= set(listed)
    assert "which buckets changed at provider" in caplog.text


def test_the_masters_volumes_fingerprint_each_collection_once_whatever_holds_its_replicas() -> None:
    volume = {"Collection": "photos", "Id": 7, "FileCount": 3, "DeleteCount": 1, "Size": 90}
    one_server = {"Volumes": {"DataCenters": {"dc": {"rack": {"10.0.0.1:8080": [volume]}}}}}
    two_servers = {"Volumes": {"DataCenters": {"dc": {"rack": {"a:1": [volume], "b:1": [dict(volume)]}}}}}
    assert fingerprints(one_server) == fingerprints(two_servers)
    grown = {"Volumes": {"DataCenters": {"dc": {"rack": {"a:1": [{**volume, "FileCount": 4}]}}}}}
    assert fingerprints(grown)["photos"] != fingerprints(one_server)["photos"]
    assert fingerprints({"Volumes": {}}) == {}
