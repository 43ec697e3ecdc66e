"""The usage round on providers of family ``s3`` whose server keeps statistics (``admin_api``):
one admin call per region, not a listing per bucket, against stand-ins that check each request
against Ceph RGW's and MinIO's published admin APIs (``tests/providers/admin_standins.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from loopback.buckets.models import Bucket
from loopback.buckets.rounds import RoundLimits
from loopback.kit.errors import Invalid
from loopback.kit.ports import free_ports
from loopback.providers.s3_admin import regionwide
from loopback.providers.schemas import ProviderCreate, RegionIn
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingProviders, RecordingQueue, buckets_with
from tests.buckets.test_tasks_rounds import run_batches
from tests.conftest import operator_scope, unique_bucket_name, wait_for
from tests.providers.admin_standins import GarageStandIn, MinioStandIn, RgwStandIn, category

MiB = 1024 * 1024
KEY_ID, SECRET = "LOOPBACKADMIN0000001", "standin-secret-of-the-operators-service-key"
REGION = "r1"
UID = "loopback"
OLD = datetime(2026, 1, 1, tzinfo=UTC)
GARAGE_TOKEN = "standin-garage-admin-token"


@pytest.fixture
def rgw() -> Iterator[RgwStandIn]:
    with RgwStandIn(KEY_ID, SECRET, REGION, UID) as standin:
        yield standin


@pytest.fixture
def minio() -> Iterator[MinioStandIn]:
    with MinioStandIn(KEY_ID, SECRET, REGION) as standin:
        yield standin


@pytest.fixture
def garage() -> Iterator[GarageStandIn]:
    with GarageStandIn(GARAGE_TOKEN) as standin:
        yield standin


def provider(
    runtime: Runtime,
    endpoint: str,
    settings: dict[str, Any],
    secret: str = SECRET,
    secrets: dict[str, str] | None = None,
) -> str:
    """A provider of family ``s3`` at ``endpoint`` (region ``r1``), configured as an operator does."""
    name = unique_bucket_name("p")
    spec = ProviderCreate(
        name=name,
        family="s3",
        access_key_id=KEY_ID,
        secret_access_key=SecretStr(secret),
        settings=settings,
        secrets={key: SecretStr(value) for key, value in (secrets or {}).items()} or None,
        regions=[RegionIn(code=REGION, name="Region one", endpoint=endpoint)],
    )
    with runtime.db.session() as session:
        runtime.providers.create(session, spec)
        session.commit()
    return name


def ready(runtime: Runtime, provider_name: str, count: int) -> list[tuple[str, str]]:
    """``count`` ready buckets (id, name) at the provider, each with figures of an earlier sync."""
    service = buckets_with(runtime, RecordingQueue())
    with runtime.db.session() as session:
        scope = operator_scope(session)
        made = [
            (service.create(session, scope, name, provider_name, REGION).bucket.id, name)
            for name in sorted(unique_bucket_name("n") for _ in range(count))
        ]
    with runtime.db.session() as session:  # reconciled long ago, and measured then
        session.execute(
            update(Bucket)
            .where(Bucket.id.in_([bucket_id for bucket_id, _ in made]))
            .values(
                status="ready",
                observed_generation=Bucket.generation,
                object_count=9,
                bytes=99,
                last_synced_at=OLD,
            )
        )
    return made


def figures(runtime: Runtime, made: list[tuple[str, str]]) -> list[tuple[int | None, int | None, bool]]:
    """(objects, bytes, synced now) of each bucket, in the order made."""
    with runtime.db.session() as session:
        rows = {b.id: b for b in session.scalars(select(Bucket).where(Bucket.id.in_([i for i, _ in made])))}
    return [(rows[i].object_count, rows[i].bytes, rows[i].last_synced_at not in (None, OLD)) for i, _ in made]


def test_rgw_a_round_asks_the_region_once_and_writes_what_rgw_counts(
    runtime: Runtime, worker: None, rgw: RgwStandIn
) -> None:
    """Through the worker: one Get Bucket Info for the user's buckets; every version and the parts
    of unfinished uploads counted in logical bytes; a bucket RGW does not name keeps its figures."""
    made = ready(runtime, provider(runtime, rgw.url, {"admin_api": "ceph", "admin_uid": UID}), 4)
    (_, versioned), (_, empty), (_, older_ceph), _unnamed = made
    rgw.buckets = {
        # three versions (30 bytes), one upload left open with two parts kept apart (Ceph PR 69591)
        versioned: {
            "rgw.main": category(30, 3),
            "rgw.multimeta": category(0, 1),
            "rgw.multipart": category(5 * MiB + 1000, 2),
        },
        empty: {},  # dump_bucket_usage writes no category for an empty bucket
        older_ceph: {"rgw.main": category(5 * MiB + 7, 2), "rgw.multimeta": category(0, 1)},  # parts in main
        "of-someone-else": {"rgw.main": category(1, 1)},  # the user's, not Loopback's: ignored
    }
    runtime.buckets.sync_all_usage()
    wait_for(lambda: sum(synced for _, _, synced in figures(runtime, made)) == 3)
    assert figures(runtime, made) == [
        (3 + 2, 30 + 5 * MiB + 1000, True),
        (0, 0, True),
        (2, 5 * MiB + 7, True),
        (9, 99, False),  # not in RGW's answer: its last figures and their time stand
    ]
    # the reads of statistics (the worker's quota step may also set or clear each bucket's quota)
    reads = [query for query in rgw.calls(RgwStandIn.PATH) if "quota" not in query]
    assert reads == [{"format": "json", "stats": "True", "uid": UID}]
    assert all(status == 200 for _, _, status in rgw.requests)


def test_rgw_one_call_per_region_for_every_batch_not_one_per_bucket(
    runtime: Runtime, rgw: RgwStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = ready(runtime, provider(runtime, rgw.url, {"admin_api": "ceph", "admin_uid": UID}), 6)
    rgw.buckets = {name: {"rgw.main": category(10 * n, n)} for n, (_, name) in enumerate(made, 1)}
    providers = RecordingProviders(runtime)
    queue = RecordingQueue()
    service = buckets_with(runtime, queue, providers, RoundLimits(batch=2))
    assert service.sync_all_usage() == 6
    assert queue.tasks == ["usage.sync_batch"] * 3
    assert run_batches(service, queue) == 6
    # three batches, one answer: the first batch's call serves the round's other two
    assert len(rgw.calls(RgwStandIn.PATH)) == 1
    assert providers.called("read_usage") == []  # no bucket was listed
    assert [f[:2] for f in figures(runtime, made)] == [(n, 10 * n) for n in range(1, 7)]

    monkeypatch.setattr(regionwide, "ANSWER_SECONDS", 0.0)  # an answer serves no later batch
    service.sync_all_usage()
    assert run_batches(service, queue) == 6
    assert len(rgw.calls(RgwStandIn.PATH)) == 1 + 3  # one per batch


def test_rgw_a_tenants_refresh_asks_for_its_bucket_alone(runtime: Runtime, rgw: RgwStandIn) -> None:
    made = ready(runtime, provider(runtime, rgw.url, {"admin_api": "ceph", "admin_uid": UID}), 2)
    (bucket_id, name), (gone_id, _) = made
    rgw.buckets = {name: {"rgw.main": category(4096, 1)}}
    service = buckets_with(runtime, RecordingQueue())
    service.sync_usage(bucket_id)
    service.sync_usage(gone_id)  # RGW answers 404 NoSuchBucket: no figure, the old ones stay
    assert figures(runtime, made) == [(1, 4096, True), (9, 99, False)]
    assert rgw.calls(RgwStandIn.PATH) == [{"bucket": name, "format": "json", "stats": "True"}]


def test_minio_counts_every_version_from_its_data_usage(runtime: Runtime, minio: MinioStandIn) -> None:
    made = ready(runtime, provider(runtime, minio.url, {"admin_api": "minio"}), 3)
    (_, versioned), (_, plain), _unscanned = made
    minio.buckets = {
        versioned: (35, 2, 3, 1),  # 2 current objects, 3 versions in all, a delete marker (no data)
        plain: (7, 1, 1, 0),
        "made-outside-loopback": (1, 1, 1, 0),
    }
    queue = RecordingQueue()
    service = buckets_with(runtime, queue, limits=RoundLimits(batch=2))
    service.sync_all_usage()
    assert run_batches(service, queue) == 2
    assert figures(runtime, made) == [(3, 35, True), (1, 7, True), (9, 99, False)]  # not scanned yet: kept
    assert minio.calls(MinioStandIn.PATH) == [{"capacity": "true"}]  # two batches, one call


def test_a_wrong_admin_key_is_refused_and_leaves_the_old_figures(
    runtime: Runtime, rgw: RgwStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    settings = {"admin_api": "ceph", "admin_uid": UID}
    made = ready(runtime, provider(runtime, rgw.url, settings, secret="not-the-key-rgw-holds"), 2)
    rgw.buckets = {name: {"rgw.main": category(1, 1)} for _, name in made}
    queue = RecordingQueue()
    service = buckets_with(runtime, queue)
    with caplog.at_level(logging.WARNING):
        service.sync_all_usage()
        assert run_batches(service, queue) == 0
    assert [status for _, _, status in rgw.requests] == [403]  # refused as RGW refuses: one call
    assert figures(runtime, made) == [(9, 99, False)] * 2
    assert "usage of 2 bucket(s) at provider" in caplog.text
    assert "SignatureDoesNotMatch" in caplog.text


def test_an_unreachable_admin_endpoint_leaves_the_old_figures(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"http://127.0.0.1:{free_ports(1)[0]}"
    made = ready(runtime, provider(runtime, nowhere, {"admin_api": "minio"}), 2)
    queue = RecordingQueue()
    service = buckets_with(runtime, queue)
    with caplog.at_level(logging.WARNING):
        service.sync_all_usage()
        assert run_batches(service, queue) == 0
    assert figures(runtime, made) == [(9, 99, False)] * 2
    assert "usage of 2 bucket(s) at provider" in caplog.text
    assert "unreachable" in caplog.text


def test_garage_one_bucket_info_per_bucket_replaces_its_listings(
    runtime: Runtime, garage: GarageStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Garage answers a bucket per call: one GetBucketInfo each, and no S3 listing at all."""
    settings = {"admin_api": "garage", "admin_endpoint": garage.url}
    nowhere = f"http://127.0.0.1:{free_ports(1)[0]}"  # S3 is never asked: it would be unreachable
    made = ready(runtime, provider(runtime, nowhere, settings, secrets={"admin_token": GARAGE_TOKEN}), 3)
    (_, first), (_, second), _gone = made
    garage.buckets = {first: (2, 30, 3, 5 * MiB + 1000), second: (0, 0, 0, 0)}
    queue = RecordingQueue()
    service = buckets_with(runtime, queue, limits=RoundLimits(batch=2))
    service.sync_all_usage()
    assert run_batches(service, queue) == 2
    # objects and the parts of its open upload; a bucket Garage does not have keeps its figures
    assert figures(runtime, made) == [(2 + 3, 30 + 5 * MiB + 1000, True), (0, 0, True), (9, 99, False)]
    assert sorted(q["globalAlias"] for q in garage.calls(GarageStandIn.PATH)) == [first, second]
    assert len(garage.requests) == 3  # one per bucket, the third answered 404 NoSuchBucket


def test_garage_refuses_another_token_and_the_figures_stay(runtime: Runtime, garage: GarageStandIn) -> None:
    settings = {"admin_api": "garage", "admin_endpoint": garage.url}
    made = ready(runtime, provider(runtime, garage.url, settings, secrets={"admin_token": "not-it"}), 1)
    garage.buckets = {made[0][1]: (1, 1, 0, 0)}
    queue = RecordingQueue()
    service = buckets_with(runtime, queue)
    service.sync_all_usage()
    assert run_batches(service, queue) == 0
    assert [status for _, _, status in garage.requests] == [403]
    assert figures(runtime, made) == [(9, 99, False)]


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        ({"admin_api": "swift"}, "must be one of ceph, garage, minio"),
        ({"admin_api": "ceph"}, "needs settings.admin_uid"),
        ({"admin_api": "garage"}, "needs settings.admin_endpoint"),
    ],
)
def test_an_admin_api_the_family_cannot_read_is_refused(
    runtime: Runtime, given: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(Invalid) as refused:
        provider(runtime, "http://127.0.0.1:9", given)
    assert refusal in str(refused.value.problems)
