"""A Hetzner bucket over its quota is held at the bucket: a statement of its bucket policy denies
every key's writes (``HetznerProvider.hold_writes``), since Hetzner keys reach every bucket of a
tenant and cannot be narrowed. On the real SeaweedFS standing in for Hetzner's S3 endpoint, with the
tenant's slot key as its credential (tests/providers/test_service_hetzner.py), through the API and
the worker as a tenant's refresh runs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from loopback.providers.base import SlotKey
from loopback.providers.hetzner import HOLD_SID, held_policy
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.conftest import wait_for
from tests.providers import test_service_hetzner as service_hetzner
from tests.providers.test_service_hetzner import add_hetzner, ready, s3_with
from tests.quotas.test_tasks_enforcement import QUOTAS, kinds, refreshed, writes

slot_keys = service_hetzner.slot_keys  # the fixture: two keys reaching every bucket, as Hetzner's do


def test_a_hetzner_bucket_over_its_quota_refuses_every_keys_writes_until_back_under(
    runtime: Runtime,
    client: TestClient,
    seaweedfs: EmbeddedSeaweedFS,
    slot_keys: tuple[SlotKey, SlotKey],
    record_property: Callable[[str, object], None],
) -> None:
    add_hetzner(runtime, seaweedfs, slot_keys[:1])
    assert client.put(QUOTAS, json={"bucket_bytes": 1000}).status_code == 200
    full, other = ready(client, "demo", "default"), ready(client, "demo", "default")
    key = slot_keys[0]  # the tenant's credential is its slot key: it reaches both buckets
    s3 = s3_with(seaweedfs, key.access_key_id, key.secret_access_key)
    s3.put_object(Bucket=full["name"], Key="a", Body=b"a" * 1050)
    over = refreshed(client, full, 1050)
    assert (over["quota"]["state"], kinds(client, full)[-1]) == ("exceeded", "quota-exceeded")

    started = time.monotonic()
    wait_for(lambda: not writes(s3, full["name"]), timeout=15, interval=0.2)
    refused_after = time.monotonic() - started
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=full["name"], Key="b", Body=b"b")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=full["name"], Key="a")["Body"].read() == b"a" * 1050  # reads go on
    assert writes(s3, other["name"])  # the tenant's other bucket is under its quota
    statement = json.loads(s3.get_bucket_policy(Bucket=full["name"])["Policy"])["Statement"]
    assert [(s["Sid"], s["Effect"], s["Principal"]) for s in statement] == [(HOLD_SID, "Deny", "*")]

    s3.delete_object(Bucket=full["name"], Key="a")  # deletes go on: the way back under
    assert refreshed(client, full, 0)["quota"]["state"] == "ok"
    started = time.monotonic()
    wait_for(lambda: writes(s3, full["name"]), timeout=15, interval=0.2)
    allowed_after = time.monotonic() - started
    with pytest.raises(ClientError) as gone:  # the policy held nothing else: it is deleted
        s3.get_bucket_policy(Bucket=full["name"])
    assert gone.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    assert kinds(client, full)[-2:] == ["quota-exceeded", "quota-ok"]
    record_property(
        "seconds from the sync to writes refused, and to writes allowed", (refused_after, allowed_after)
    )


def test_the_hold_keeps_the_other_statements_of_a_bucket_policy() -> None:
    public_read: dict[str, Any] = {
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::b/*"],
    }
    existing = json.dumps({"Version": "2012-10-17", "Id": "mine", "Statement": public_read})
    held = held_policy(existing, "b", held=True)
    assert held is not None
    assert held["Id"] == "mine"
    assert [s["Sid"] for s in held["Statement"]] == ["PublicRead", HOLD_SID]
    assert held_policy(json.dumps(held), "b", held=True) == held  # idempotent
    released = held_policy(json.dumps(held), "b", held=False)
    assert released is not None
    assert released["Statement"] == [public_read]
    assert held_policy(None, "b", held=False) is None
