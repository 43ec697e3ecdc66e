"""Bytes and objects quotas held on the real SeaweedFS: a bucket over its quota is read and deleted,
not written, until a usage sync finds it back under (credentials/quota_enforcement.py).

Every write is a boto3 call with a key issued through the API; every sync is the tenant's refresh,
run by the worker as a round's batch would run it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from loopback.buckets.models import QuotaState
from loopback.credentials.quota_enforcement import Standing, _event, standing
from loopback.quotas.service import Applied, Source
from tests.conftest import BUCKETS, create_ready_bucket, s3_client_for, wait_for
from tests.credentials.test_endpoints_access_modes import issue

log = logging.getLogger(__name__)
QUOTAS = "/v3/organizations/demo/projects/default/quotas"
V2 = "/v2/organizations/demo/projects/default/buckets"
LIMIT = 1000  # bytes in one bucket


def refreshed(client: TestClient, bucket: dict[str, Any], size: int, *, quota: bool = True) -> dict[str, Any]:
    """The tenant's refresh, waited for until the sync counted ``size`` bytes and, where a quota
    applies, its quota step set the bucket against them: the usage is committed a moment before the
    quota step, and a sync enqueued earlier may answer first, with older figures."""
    assert client.post(f"{BUCKETS}/{bucket['id']}/usage/refresh").status_code == 202

    def synced() -> dict[str, Any] | None:
        shown: dict[str, Any] = client.get(f"{BUCKETS}/{bucket['id']}").json()
        if shown["usage"]["bytes"] != size:
            return None
        if quota:
            return shown if shown["quota"] is not None and shown["quota"]["used"] == size else None
        return shown

    found: dict[str, Any] = wait_for(synced, timeout=20)
    return found


def writes(s3: Any, bucket: str) -> bool:
    try:
        s3.put_object(Bucket=bucket, Key="probe", Body=b"p")
    except ClientError as error:
        if error.response["Error"]["Code"] in {"AccessDenied", "403", "Forbidden"}:
            return False
        raise
    s3.delete_object(Bucket=bucket, Key="probe")
    return True


def seconds_until(condition: Callable[[], bool]) -> float:
    started = time.monotonic()
    wait_for(condition, timeout=15, interval=0.2)
    return time.monotonic() - started


def kinds(client: TestClient, bucket: dict[str, Any]) -> list[str]:
    events = client.get(f"{BUCKETS}/{bucket['id']}/events").json()["events"]
    return [event["kind"] for event in events]


def test_writes_are_refused_over_the_bytes_quota_and_allowed_again_after_deletes(
    client: TestClient, record_property: Callable[[str, object], None]
) -> None:
    assert client.put(QUOTAS, json={"bucket_bytes": LIMIT}).status_code == 200
    full, other = create_ready_bucket(client, "full"), create_ready_bucket(client, "other")
    key = issue(client, [{"bucket_id": full["id"]}, {"bucket_id": other["id"]}])
    s3 = s3_client_for(key)

    s3.put_object(Bucket=full["name"], Key="a", Body=b"a" * 600)
    assert refreshed(client, full, 600)["quota"] == {
        "quota": "bucket_bytes",
        "limit": LIMIT,
        "used": 600,
        "state": "ok",
    }
    s3.put_object(Bucket=full["name"], Key="b", Body=b"b" * 250)  # 850: from 80%, a warning
    assert refreshed(client, full, 850)["quota"]["state"] == "warning"
    s3.put_object(Bucket=full["name"], Key="c", Body=b"c" * 200)  # 1050: over
    over = refreshed(client, full, 1050)
    assert (over["quota"]["state"], over["quota"]["used"]) == ("exceeded", 1050)

    refused_after = seconds_until(lambda: not writes(s3, full["name"]))
    assert s3.get_object(Bucket=full["name"], Key="a")["Body"].read() == b"a" * 600  # reads go on
    assert writes(s3, other["name"])  # the key's other bucket is under its quota: it writes
    late = issue(client, [{"bucket_id": full["id"]}])  # a key issued now is held the same
    assert not writes(s3_client_for(late), full["name"])

    s3.delete_object(Bucket=full["name"], Key="c")  # deletes go on: the way back under
    s3.delete_object(Bucket=full["name"], Key="b")
    assert refreshed(client, full, 600)["quota"]["state"] == "ok"
    allowed_after = seconds_until(lambda: writes(s3, full["name"]))
    assert writes(s3_client_for(late), full["name"])
    record_property(
        "seconds from the sync to writes refused, and to writes allowed", (refused_after, allowed_after)
    )
    log.info("writes refused %.1f s after the sync, allowed %.1f s after", refused_after, allowed_after)

    assert kinds(client, full)[-3:] == ["quota-warning", "quota-exceeded", "quota-ok"]
    assert "quota" not in client.get(f"{V2}/{full['id']}").json()  # v2 keeps its older shape


def test_a_bucket_under_no_bytes_or_objects_quota_shows_none(client: TestClient) -> None:
    bucket = create_ready_bucket(client, "free")
    assert refreshed(client, bucket, 0, quota=False)["quota"] is None
    assert kinds(client, bucket) == ["created", "provisioning", "ready"]


def applied(**limits: int) -> dict[str, Applied]:
    names = ("buckets", "bucket_bytes", "bucket_objects", "project_bytes", "project_objects")
    return {
        name: Applied(None, limits.get(name), Source.PROJECT if name in limits else None) for name in names
    }


class Measured:
    """The two usage columns ``standing`` reads of a bucket."""

    def __init__(self, objects: int, size: int) -> None:
        self.object_count, self.bytes = objects, size


@pytest.mark.parametrize(
    ("limits", "objects", "size", "project", "expected"),
    [
        ({}, 5, 500, (5, 500), None),
        ({"bucket_bytes": 1000}, 5, 799, (5, 799), (QuotaState.OK, "bucket_bytes", 799)),
        ({"bucket_bytes": 1000}, 5, 800, (5, 800), (QuotaState.WARNING, "bucket_bytes", 800)),
        ({"bucket_bytes": 1000}, 5, 1000, (5, 1000), (QuotaState.EXCEEDED, "bucket_bytes", 1000)),
        ({"bucket_objects": 0}, 0, 0, (0, 0), (QuotaState.EXCEEDED, "bucket_objects", 0)),
        # the quota nearest its limit speaks for the bucket: here the project's objects
        (
            {"bucket_bytes": 1000, "project_objects": 10},
            9,
            100,
            (9, 100),
            (QuotaState.WARNING, "project_objects", 9),
        ),
        (
            {"bucket_bytes": 1000, "project_bytes": 5000},
            1,
            100,
            (3, 5200),
            (QuotaState.EXCEEDED, "project_bytes", 5200),
        ),
    ],
)
def test_a_bucket_stands_by_the_quota_nearest_its_limit(
    limits: dict[str, int],
    objects: int,
    size: int,
    project: tuple[int, int],
    expected: tuple[QuotaState, str, int] | None,
) -> None:
    found = standing(Measured(objects, size), applied(**limits), *project)  # type: ignore[arg-type]
    assert (None if found is None else (found.state, found.quota, found.used)) == expected


def test_a_family_that_cannot_hold_a_bucket_says_so_in_the_event() -> None:
    over = Standing(QuotaState.EXCEEDED, "bucket_bytes", 1000, 1200)
    kind, held = _event(QuotaState.WARNING, QuotaState.EXCEEDED, over, enforced=True)
    assert (kind, held) == (
        "quota-exceeded",
        "at or over its quota (bucket_bytes 1200 of 1000 bytes): its keys read and delete, and write "
        "nothing, until it is back under",
    )
    _, not_held = _event(QuotaState.WARNING, QuotaState.EXCEEDED, over, enforced=False)
    assert not_held.endswith("this provider cannot hold keys to it, so writes are not refused")
    back = Standing(QuotaState.OK, "bucket_bytes", 1000, 600)
    assert _event(QuotaState.EXCEEDED, QuotaState.OK, back, enforced=True) == (
        "quota-ok",
        "under its quota (bucket_bytes 600 of 1000 bytes); its keys write again",
    )
