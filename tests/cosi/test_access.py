"""DriverGrantBucketAccess and DriverRevokeBucketAccess over the socket: one key over several
buckets in mixed modes, used for real on SeaweedFS with boto3, its idempotency, its error codes,
and the Secrets the sidecar writes from the answer, as kubectl reads them."""

from __future__ import annotations

import json
import secrets
import subprocess
from typing import Any

import boto3
import grpc
import httpx
import pytest
import yaml

from loopback.cosi.proto import cosi_pb2 as pb
from loopback.providers.base import SlotKey
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.buckets.test_tasks import add_provider
from tests.conftest import OPERATOR_HEADERS
from tests.cosi.conftest import S3, Sidecar, refused
from tests.cosi.kubernetes import DiscoveryServer
from tests.credentials.test_cli import error_code, wait_until_known, wait_until_refused
from tests.providers.test_service_hetzner import add_hetzner, slot_keys  # noqa: F401 (a fixture)

RW, RO, WO = pb.AccessMode.READ_WRITE, pb.AccessMode.READ_ONLY, pb.AccessMode.WRITE_ONLY
KEYS = "/v3/organizations/demo/projects/default/credentials"


def claim() -> str:
    return f"bc-{secrets.token_hex(8)}"


def s3_for(granted: Any, bucket: int = 0) -> Any:
    info = granted.buckets[bucket].bucket_info.s3
    return boto3.client(
        "s3",
        endpoint_url=info.endpoint,
        region_name=info.region,
        aws_access_key_id=granted.credentials.s3.access_key_id,
        aws_secret_access_key=granted.credentials.s3.access_secret_key,
    )


def keys_named(sidecar: Sidecar, name: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{sidecar.api_url}{KEYS}", params={"limit": 500}, headers=OPERATOR_HEADERS)
    return [k for k in listed.json()["credentials"] if k["name"] == name]


@pytest.fixture
def three(sidecar: Sidecar, operator_s3: Any) -> list[Any]:
    """Three ready buckets made through the driver, each holding an object ``seed``."""
    made = [sidecar.create(claim()) for _ in range(3)]
    for bucket in made:
        operator_s3.put_object(Bucket=bucket.protocols.s3.bucket_id, Key="seed", Body=b"seed")
    return made


def test_one_key_over_three_buckets_in_three_modes_works_and_is_denied_as_asked(
    sidecar: Sidecar, three: list[Any], operator_s3: Any
) -> None:
    rw, ro, wo = three
    account = f"ba-{secrets.token_hex(8)}"

    granted = sidecar.grant(account, (rw.bucket_id, RW), (ro.bucket_id, RO), (wo.bucket_id, WO))

    assert granted.account_id == f"demo.default.cosi-{account}"
    assert [b.bucket_id for b in granted.buckets] == [rw.bucket_id, ro.bucket_id, wo.bucket_id]
    for answered, made in zip(granted.buckets, three, strict=True):
        info = answered.bucket_info.s3
        assert info == made.protocols.s3  # bucket_id (the S3 name), endpoint, region, addressing style
        assert all((info.bucket_id, info.endpoint, info.region, info.addressing_style.style))
        assert not answered.bucket_info.HasField("azure")
        assert not answered.bucket_info.HasField("gcs")
    assert granted.credentials.s3.access_key_id
    assert granted.credentials.s3.access_secret_key
    [key] = keys_named(sidecar, f"cosi-{account}")  # one key over the three
    assert sorted(g["access"] for g in key["grants"]) == ["read-only", "read-write", "write-only"]

    s3 = s3_for(granted)
    names = [b.protocols.s3.bucket_id for b in three]
    wait_until_known(s3, names[0])
    # read-write: everything an object needs
    s3.put_object(Bucket=names[0], Key="new", Body=b"new")
    assert s3.get_object(Bucket=names[0], Key="seed")["Body"].read() == b"seed"
    s3.delete_object(Bucket=names[0], Key="new")
    # read-only: reads and lists, never writes or deletes
    assert s3.get_object(Bucket=names[1], Key="seed")["Body"].read() == b"seed"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=names[1])["Contents"]] == ["seed"]
    assert error_code(lambda: s3.put_object(Bucket=names[1], Key="no", Body=b"no")) == "AccessDenied"
    assert error_code(lambda: s3.delete_object(Bucket=names[1], Key="seed")) == "AccessDenied"
    # write-only: puts, and cannot read back or list
    s3.put_object(Bucket=names[2], Key="backup", Body=b"backup")
    assert operator_s3.get_object(Bucket=names[2], Key="backup")["Body"].read() == b"backup"
    assert error_code(lambda: s3.get_object(Bucket=names[2], Key="seed")) == "AccessDenied"
    assert error_code(lambda: s3.list_objects_v2(Bucket=names[2])) == "AccessDenied"

    sidecar.revoke(granted.account_id, *(b.bucket_id for b in three))
    wait_until_refused(s3, names[0])
    assert error_code(lambda: s3.get_object(Bucket=names[1], Key="seed")) is not None
    assert [k["status"] for k in keys_named(sidecar, f"cosi-{account}")] == ["revoked"]
    sidecar.revoke(granted.account_id)  # revoked already: OK


def test_a_retried_grant_answers_the_same_key_and_other_grants_already_exist(
    sidecar: Sidecar, three: list[Any]
) -> None:
    first, second, _ = three
    account = f"ba-{secrets.token_hex(8)}"
    granted = sidecar.grant(account, (first.bucket_id, RW), (second.bucket_id, RO))

    assert sidecar.grant(account, (first.bucket_id, RW), (second.bucket_id, RO)) == granted
    assert len(keys_named(sidecar, f"cosi-{account}")) == 1

    other = refused(lambda: sidecar.grant(account, (first.bucket_id, RO), (second.bucket_id, RO)))
    assert other.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "revoke it first" in other.details()
    assert len(keys_named(sidecar, f"cosi-{account}")) == 1


def test_buckets_one_key_cannot_reach_together_are_out_of_range(
    sidecar: Sidecar, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_provider(runtime, seaweedfs, "second", seaweedfs.endpoint)
    here = sidecar.create(claim())
    there = sidecar.create(claim(), provider="second", region="r1")

    error = refused(
        lambda: sidecar.grant(f"ba-{secrets.token_hex(8)}", (here.bucket_id, RW), (there.bucket_id, RW))
    )

    assert error.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "one key reaches one provider region" in error.details()
    elsewhere = "demo.other.bkt-00000000000000000000000000"
    error = refused(
        lambda: sidecar.grant(f"ba-{secrets.token_hex(8)}", (here.bucket_id, RW), (elsewhere, RW))
    )
    assert error.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "one project" in error.details()


def test_a_mode_the_family_cannot_enforce_is_invalid(
    sidecar: Sidecar,
    runtime: Runtime,
    seaweedfs: EmbeddedSeaweedFS,
    slot_keys: tuple[SlotKey, SlotKey],  # noqa: F811
) -> None:
    add_hetzner(runtime, seaweedfs, slot_keys)
    bucket = sidecar.create(claim(), provider="hz", region="fsn1")
    account = f"ba-{secrets.token_hex(8)}"

    error = refused(lambda: sidecar.grant(account, (bucket.bucket_id, RO)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "read-only is not enforceable" in error.details()
    assert keys_named(sidecar, f"cosi-{account}") == []
    assert sidecar.grant(account, (bucket.bucket_id, RW)).credentials.s3.access_key_id  # what it can hold


def test_what_loopback_cannot_issue_is_invalid(sidecar: Sidecar, three: list[Any]) -> None:
    bucket = three[0].bucket_id
    service_account = pb.DriverGrantBucketAccessRequest(
        account_name="ba-sa",
        protocol=S3,
        authentication_type=pb.AuthenticationType(type=pb.AuthenticationType.SERVICE_ACCOUNT),
        service_account_name="app",
        buckets=[
            pb.DriverGrantBucketAccessRequest.AccessedBucket(
                bucket_id=bucket, access_mode=pb.AccessMode(mode=RW)
            )
        ],
    )
    cases = [
        lambda: sidecar.provisioner.DriverGrantBucketAccess(service_account, timeout=10),
        lambda: sidecar.grant("ba-unknown", (bucket, pb.AccessMode.UNKNOWN)),
        lambda: sidecar.grant("ba-params", (bucket, RW), colour="blue"),
        lambda: sidecar.grant("ba-days", (bucket, RW), expiresInDays="0"),
        lambda: sidecar.grant("ba-org", (bucket, RW), organization="globex"),
        lambda: sidecar.grant("ba-none"),
    ]
    for call in cases:
        assert refused(call).code() == grpc.StatusCode.INVALID_ARGUMENT


def sidecar_secrets(granted: Any, namespace: str, secret_names: list[str]) -> str:
    """The Secrets COSI's v1alpha2 sidecar writes from a grant's answer: one per BucketClaim of the
    BucketAccess, named by its ``accessSecretName``, holding COSI's variables for S3."""
    documents = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque",
            "stringData": {
                "COSI_PROTOCOL": "S3",
                "COSI_S3_BUCKET_ID": bucket.bucket_info.s3.bucket_id,
                "COSI_S3_ENDPOINT": bucket.bucket_info.s3.endpoint,
                "COSI_S3_REGION": bucket.bucket_info.s3.region,
                "COSI_S3_ADDRESSING_STYLE": pb.S3AddressingStyle.Style.Name(
                    bucket.bucket_info.s3.addressing_style.style
                ).lower(),
                "COSI_S3_ACCESS_KEY_ID": granted.credentials.s3.access_key_id,
                "COSI_S3_ACCESS_SECRET_KEY": granted.credentials.s3.access_secret_key,
            },
        }
        for bucket, name in zip(granted.buckets, secret_names, strict=True)
    ]
    return yaml.safe_dump_all(documents, sort_keys=False)


def test_the_secrets_of_a_grant_are_what_kubectl_creates(sidecar: Sidecar, three: list[Any]) -> None:
    account = f"ba-{secrets.token_hex(8)}"
    granted = sidecar.grant(account, (three[0].bucket_id, RW), (three[1].bucket_id, RO))
    manifest = sidecar_secrets(granted, "shop", ["photos-rw", "logs-ro"])

    with DiscoveryServer() as cluster:
        created = subprocess.run(
            ["/usr/bin/kubectl", "--server", cluster, "create", "--dry-run=client", "--validate=false",
             "-f", "-", "-o", "json"],
            input=manifest, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert created.returncode == 0, created.stderr
    decoder, text, objects = json.JSONDecoder(), created.stdout.strip(), []
    while text:  # one JSON object per document, back to back
        found, end = decoder.raw_decode(text)
        objects.append(found)
        text = text[end:].lstrip()
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in objects] == [
        ("Secret", "photos-rw", "shop"),
        ("Secret", "logs-ro", "shop"),
    ]
    for found, document, bucket in zip(objects, yaml.safe_load_all(manifest), granted.buckets, strict=True):
        assert found["stringData"] == document["stringData"]
        assert found["stringData"]["COSI_S3_BUCKET_ID"] == bucket.bucket_info.s3.bucket_id
        assert found["stringData"]["COSI_S3_ACCESS_SECRET_KEY"] == granted.credentials.s3.access_secret_key
        assert found["stringData"]["COSI_S3_ADDRESSING_STYLE"] == "path"


def test_an_access_class_may_expire_its_keys(sidecar: Sidecar, three: list[Any]) -> None:
    account = f"ba-{secrets.token_hex(8)}"
    sidecar.grant(account, (three[0].bucket_id, RW), expiresInDays="7", organization="demo")
    [key] = keys_named(sidecar, f"cosi-{account}")
    assert key["expires_at"] is not None
