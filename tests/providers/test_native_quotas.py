"""A bucket's own limits given to backends that hold quotas (``quotas.native``): Ceph RGW, MinIO and
Garage, each played by a stand-in that checks the request against the server's published admin API
(``tests/providers/admin_standins.py``) and holds the quota it was given.

Every sync is the usage sync of one bucket followed by the quota step, as the worker runs it
(``runtime.buckets.sync_usage``); the quota is the project's own, set as the API sets it.
"""

from __future__ import annotations

from sqlalchemy import select

from loopback.buckets.models import Bucket, BucketEvent
from loopback.runtime import Runtime
from tests.buckets import test_tasks_rounds_native as rounds_native
from tests.buckets.test_tasks_rounds_native import GARAGE_TOKEN, KEY_ID, REGION, SECRET, UID, provider, ready
from tests.conftest import operator_scope
from tests.providers.admin_standins import GarageStandIn, MinioStandIn, RgwStandIn, category

rgw, minio, garage = rounds_native.rgw, rounds_native.minio, rounds_native.garage  # the stand-ins' fixtures
UNSET = {"enabled": False, "check_on_raw": False, "max_size": -1, "max_objects": -1}


def quotas(runtime: Runtime, **values: int) -> None:
    """The project's own quotas, all five at once (a quota not named inherits: here, none)."""
    with runtime.db.session() as session:
        runtime.buckets.quota.set_for_project(session, operator_scope(session), dict(values))


def state(runtime: Runtime, bucket_id: str) -> tuple[str | None, list[str]]:
    """The bucket's quota state and the kinds of its quota events."""
    with runtime.db.session() as session:
        bucket = session.get(Bucket, bucket_id)
        assert bucket is not None
        kinds = session.scalars(
            select(BucketEvent.kind)
            .where(BucketEvent.bucket_id == bucket_id)
            .order_by(BucketEvent.created_at)
        ).all()
        return bucket.quota_state, [kind for kind in kinds if kind.startswith("quota-")]


def test_rgw_holds_the_buckets_limits_set_once_changed_and_cleared(runtime: Runtime, rgw: RgwStandIn) -> None:
    (bucket_id, name), (_, other) = ready(
        runtime, provider(runtime, rgw.url, {"admin_api": "ceph", "admin_uid": UID}), 2
    )
    rgw.buckets = {name: {"rgw.main": category(100, 1)}, other: {}}

    # no bytes or objects quota: this worker does not know what RGW holds, so it clears it, once
    runtime.buckets.sync_usage(bucket_id)
    runtime.buckets.sync_usage(bucket_id)
    assert rgw.quota_changes() == [(name, {"enabled": False, "max_size": -1, "max_objects": -1})]

    quotas(runtime, bucket_bytes=1000, bucket_objects=10)
    runtime.buckets.sync_usage(bucket_id)
    runtime.buckets.sync_usage(bucket_id)  # given once: a sync finding the same limits asks nothing
    assert rgw.quotas == {name: {"enabled": True, "check_on_raw": False, "max_size": 1000, "max_objects": 10}}
    assert rgw.quota_changes()[1:] == [(name, {"enabled": True, "max_size": 1000, "max_objects": 10})]
    assert rgw.changes[1][2] == {"bucket": name, "quota": "", "uid": UID}  # PUT /admin/bucket?quota&...
    runtime.buckets.sync_usage(bucket_id)
    shown = rgw.stats(name)["bucket_quota"]  # what Get Bucket Info says RGW holds
    assert (shown["enabled"], shown["max_size"], shown["max_size_kb"]) == (True, 1000, 1)

    quotas(runtime, bucket_bytes=2000)  # the objects limit removed, the bytes limit raised
    runtime.buckets.sync_usage(bucket_id)
    assert rgw.quotas[name] == {"enabled": True, "check_on_raw": False, "max_size": 2000, "max_objects": -1}

    quotas(runtime)  # no limit left: RGW's quota is disabled
    runtime.buckets.sync_usage(bucket_id)
    assert rgw.quotas[name] == UNSET
    assert len(rgw.quota_changes()) == 4
    assert other not in rgw.quotas  # a bucket no sync measured was not asked for
    assert state(runtime, bucket_id) == (None, [])
    assert all(status == 200 for *_, status in rgw.changes)


def test_minio_holds_the_bytes_limit_alone(runtime: Runtime, minio: MinioStandIn) -> None:
    """MinIO has no object-count quota: an objects limit is the control plane's alone."""
    ((bucket_id, name),) = ready(runtime, provider(runtime, minio.url, {"admin_api": "minio"}), 1)
    minio.buckets = {name: (10, 1, 1, 0)}
    quotas(runtime, bucket_bytes=5000, bucket_objects=3)
    runtime.buckets.sync_usage(bucket_id)
    assert minio.quotas == {name: {"size": 5000, "quotatype": "hard"}}
    assert minio.quota_changes() == [(name, {"size": 5000, "rate": 0, "requests": 0, "quotatype": "hard"})]

    quotas(runtime, bucket_objects=3)  # the bytes limit removed: MinIO's quota cleared (size 0)
    runtime.buckets.sync_usage(bucket_id)
    assert minio.quotas == {}
    assert minio.quota_changes()[-1] == (name, {"size": 0, "rate": 0, "requests": 0})


def test_garage_holds_both_limits_by_the_buckets_id(runtime: Runtime, garage: GarageStandIn) -> None:
    settings = {"admin_api": "garage", "admin_endpoint": garage.url}
    made = ready(runtime, provider(runtime, garage.url, settings, secrets={"admin_token": GARAGE_TOKEN}), 1)
    ((bucket_id, name),) = made
    garage.buckets = {name: (1, 10, 0, 0)}
    quotas(runtime, bucket_bytes=4096, bucket_objects=7)
    runtime.buckets.sync_usage(bucket_id)
    assert garage.info(name)["quotas"] == {"maxSize": 4096, "maxObjects": 7}
    assert garage.quota_changes() == [
        (GarageStandIn.bucket_id(name), {"quotas": {"maxSize": 4096, "maxObjects": 7}})
    ]
    quotas(runtime)
    runtime.buckets.sync_usage(bucket_id)
    assert garage.info(name)["quotas"] == {"maxSize": None, "maxObjects": None}


def test_a_refused_quota_is_tried_again_and_the_control_planes_hold_goes_on(
    runtime: Runtime, rgw: RgwStandIn
) -> None:
    """RGW refuses the quota (the service key lacks ``buckets=write``): the sync still records the
    usage and the bucket's state over its quota, and the next sync after the cap is granted sets it."""
    ((bucket_id, name),) = ready(
        runtime, provider(runtime, rgw.url, {"admin_api": "ceph", "admin_uid": UID}), 1
    )
    rgw.buckets = {name: {"rgw.main": category(1500, 2)}}
    rgw.caps = {"buckets=read"}
    quotas(runtime, bucket_bytes=1000)

    runtime.buckets.sync_usage(bucket_id)
    assert [status for *_, status in rgw.changes] == [403]
    assert rgw.quotas == {}
    assert state(runtime, bucket_id) == ("exceeded", ["quota-exceeded"])  # the control plane's hold

    rgw.caps.add("buckets=write")
    runtime.buckets.sync_usage(bucket_id)
    assert [status for *_, status in rgw.changes] == [403, 200]
    assert rgw.quotas[name]["max_size"] == 1000
    runtime.buckets.sync_usage(bucket_id)
    assert len(rgw.changes) == 2  # held now: not asked again
    assert state(runtime, bucket_id) == ("exceeded", ["quota-exceeded"])


def test_a_body_whose_hash_the_signature_does_not_cover_is_refused(rgw: RgwStandIn) -> None:
    """The stand-in's own check of the signed payload, which the tests above rely on."""
    import hashlib

    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    rgw.buckets = {"b": {}}
    url = f"{rgw.url}/admin/bucket?bucket=b&quota=&uid={UID}"
    signed_body = b'{"enabled": true, "max_size": 1}'
    request = AWSRequest(
        method="PUT",
        url=url,
        data=signed_body,
        headers={"X-Amz-Content-SHA256": hashlib.sha256(signed_body).hexdigest()},
    )
    SigV4Auth(Credentials(KEY_ID, SECRET), "s3", REGION).add_auth(request)
    headers = dict(request.headers.items())
    sent = httpx.put(url, headers=headers, content=b'{"enabled": true, "max_size": 999999}')
    assert (sent.status_code, sent.json()["Code"]) == (400, "XAmzContentSHA256Mismatch")
    assert httpx.put(url, headers=headers, content=signed_body).status_code == 200
    assert rgw.quotas["b"]["max_size"] == 1
