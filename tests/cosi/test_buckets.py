"""DriverGetInfo, DriverCreateBucket, DriverGetExistingBucket and DriverDeleteBucket over the socket,
against the real API and SeaweedFS: what they answer, their idempotency and their error codes."""

from __future__ import annotations

import secrets
from typing import Any

import grpc
import httpx
import pytest

from loopback.cosi.claims import Claim
from loopback.cosi.proto import cosi_pb2 as pb
from loopback.kit.ports import free_ports
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.buckets.test_tasks import add_provider
from tests.conftest import BUCKETS, OPERATOR_HEADERS, unique_bucket_name
from tests.cosi.conftest import CLASS, CLUSTER, DRIVER, S3, Sidecar, refused


def cosi_name() -> str:
    """A name as COSI's controller makes one for a claim's Bucket: a prefix and a UID."""
    return f"bc-{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"


def rows(sidecar: Sidecar, name: str) -> list[dict[str, Any]]:
    """The project's bucket rows called ``name``, as the API lists them."""
    listed = httpx.get(f"{sidecar.api_url}{BUCKETS}", params={"limit": 200}, headers=OPERATOR_HEADERS)
    return [b for b in listed.json()["buckets"] if b["name"] == name]


def test_get_info_names_the_driver_and_s3(sidecar: Sidecar) -> None:
    info = sidecar.identity.DriverGetInfo(pb.DriverGetInfoRequest(), timeout=5)
    assert info.name == DRIVER
    assert [p.type for p in info.supported_protocols] == [pb.ObjectProtocol.S3]


def test_create_answers_a_ready_bucket_and_the_same_one_again(sidecar: Sidecar, operator_s3: Any) -> None:
    name = cosi_name()
    sidecar.claims.known[name] = Claim("shop", "photos")

    created = sidecar.create(name)

    s3 = created.protocols.s3
    assert created.bucket_id.startswith("demo.default.bkt-")
    assert (s3.bucket_id, s3.region) == (name, "local-1")
    assert s3.endpoint.startswith("http://127.0.0.1:")
    assert s3.addressing_style.style == pb.S3AddressingStyle.PATH
    assert not created.protocols.HasField("azure")
    assert not created.protocols.HasField("gcs")
    operator_s3.head_bucket(Bucket=name)  # made at the provider before the driver answered
    [row] = rows(sidecar, name)
    assert row["status"] == "ready"
    assert row["install"] == {  # the claim's namespace and name, in the driver's cluster
        "catalog_item": None, "release": None, "cluster": CLUSTER, "namespace": "shop", "claim": "photos"
    }  # fmt: skip

    again = sidecar.create(name)  # the sidecar's periodic call, or its retry
    assert again == created
    assert len(rows(sidecar, name)) == 1


def test_a_name_s3_cannot_take_becomes_a_stable_bucket_name(sidecar: Sidecar) -> None:
    name = f"claims.Team-A.{'x' * 80}.{secrets.token_hex(4)}"
    first = sidecar.create(name.lower())
    assert len(first.protocols.s3.bucket_id) <= 63
    assert sidecar.create(name.lower()).bucket_id == first.bucket_id


def test_the_same_name_with_other_parameters_already_exists(sidecar: Sidecar) -> None:
    name = cosi_name()
    sidecar.create(name)
    error = refused(lambda: sidecar.create(name, deletionPolicy="retain"))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "deletion policy delete" in error.details()
    assert len(rows(sidecar, name)) == 1


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"region": ""}, "must name region"),
        ({"regoin": "local-1"}, "regoin"),
        ({"deletionPolicy": "shred"}, "neither delete nor retain"),
        ({"region": "mars-1"}, "region"),
    ],
)
def test_a_bucket_class_that_says_too_little_or_else_is_invalid(
    sidecar: Sidecar, parameters: dict[str, str], says: str
) -> None:
    name = cosi_name()
    error = refused(lambda: sidecar.create(name, **parameters))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in error.details()
    assert rows(sidecar, name) == []


def test_only_s3_is_served(sidecar: Sidecar) -> None:
    request = pb.DriverCreateBucketRequest(
        name=cosi_name(), protocols=[S3, pb.ObjectProtocol(type=pb.ObjectProtocol.AZURE)], parameters=CLASS
    )
    error = refused(lambda: sidecar.provisioner.DriverCreateBucket(request, timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "AZURE" in error.details()


def test_a_provider_that_is_down_answers_unavailable_and_a_retry_makes_nothing_twice(
    sidecar: Sidecar, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_provider(runtime, seaweedfs, "down", f"http://127.0.0.1:{free_ports(1)[0]}")
    name = cosi_name()

    for _ in range(2):  # the sidecar's call and its retry, each with a short deadline
        error = refused(lambda: sidecar.create(name, timeout=1.5, provider="down", region="r1"))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert f"bucket {name!r} at down/r1 is p" in error.details()  # pending or provisioning
        assert "a retry finds the same bucket" in error.details()

    [row] = rows(sidecar, name)
    assert row["provider"] == "down"


def test_get_existing_adopts_a_provider_bucket_once(sidecar: Sidecar, operator_s3: Any) -> None:
    name = unique_bucket_name("static")
    operator_s3.create_bucket(Bucket=name)
    request = pb.DriverGetExistingBucketRequest(existing_bucket_id=name, protocols=[S3], parameters=CLASS)

    adopted = sidecar.provisioner.DriverGetExistingBucket(request, timeout=20)

    assert adopted.bucket_id.startswith("demo.default.bkt-")
    assert adopted.protocols.s3.bucket_id == name
    [row] = rows(sidecar, name)
    assert row["adopted"] is True
    assert sidecar.provisioner.DriverGetExistingBucket(request, timeout=20) == adopted
    by_id = pb.DriverGetExistingBucketRequest(existing_bucket_id=adopted.bucket_id, protocols=[S3])
    assert sidecar.provisioner.DriverGetExistingBucket(by_id, timeout=20) == adopted
    assert len(rows(sidecar, name)) == 1


def test_get_existing_of_nothing_is_not_found(sidecar: Sidecar) -> None:
    missing = pb.DriverGetExistingBucketRequest(
        existing_bucket_id=unique_bucket_name("nowhere"), protocols=[S3], parameters=CLASS
    )
    assert refused(lambda: sidecar.provisioner.DriverGetExistingBucket(missing, timeout=20)).code() == (
        grpc.StatusCode.NOT_FOUND
    )
    unknown = pb.DriverGetExistingBucketRequest(
        existing_bucket_id="demo.default.bkt-00000000000000000000000000"
    )
    assert refused(lambda: sidecar.provisioner.DriverGetExistingBucket(unknown, timeout=20)).code() == (
        grpc.StatusCode.NOT_FOUND
    )


def test_delete_removes_the_bucket_and_is_ok_once_gone(sidecar: Sidecar, operator_s3: Any) -> None:
    name = cosi_name()
    created = sidecar.create(name)

    sidecar.delete(created.bucket_id)

    assert rows(sidecar, name)[0]["status"] == "deleted"
    assert name not in {b["Name"] for b in operator_s3.list_buckets()["Buckets"]}
    sidecar.delete(created.bucket_id)  # already deleted: OK


def test_delete_refuses_a_bucket_that_holds_objects(sidecar: Sidecar, operator_s3: Any) -> None:
    name = cosi_name()
    created = sidecar.create(name)
    operator_s3.put_object(Bucket=name, Key="kept", Body=b"data")

    error = refused(lambda: sidecar.delete(created.bucket_id))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "holds 1 object:" in error.details()
    operator_s3.delete_object(Bucket=name, Key="kept")
    sidecar.delete(created.bucket_id)


def test_an_id_the_driver_did_not_make_is_refused(sidecar: Sidecar) -> None:
    error = refused(lambda: sidecar.delete("not-ours"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "ORG.PROJECT.ID" in error.details()


def test_a_token_the_api_refuses_is_unauthenticated(sidecar: Sidecar, api_url: str, socket_dir: Any) -> None:
    from loopback.client.connection import Connection
    from loopback.client.http import ApiClient
    from loopback.cosi.claims import NoCluster
    from loopback.cosi.proto import cosi_pb2_grpc as rpc
    from loopback.cosi.server import start
    from loopback.cosi.servicer import Identity

    endpoint = f"unix://{socket_dir}/other.sock"
    client = ApiClient(Connection(api_url, "lbk_not-a-token", "test"))
    running = start(endpoint, Identity(DRIVER, None, 5.0), client, NoCluster(), threads=2)
    try:
        with grpc.insecure_channel(endpoint) as channel:
            request = pb.DriverCreateBucketRequest(name=cosi_name(), protocols=[S3], parameters=CLASS)
            error = refused(lambda: rpc.ProvisionerStub(channel).DriverCreateBucket(request, timeout=10))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        running.stop(grace=1)
        client.close()


def test_a_bucket_class_names_the_catalog_item_and_release_of_its_buckets(sidecar: Sidecar) -> None:
    name = cosi_name()
    sidecar.create(name, catalogItem="wordpress", release="blog")
    [row] = rows(sidecar, name)
    assert row["install"] == {
        "catalog_item": "wordpress", "release": "blog", "cluster": CLUSTER, "namespace": None, "claim": name
    }  # fmt: skip


def test_a_retained_bucket_is_released_and_stays_at_the_provider(sidecar: Sidecar, operator_s3: Any) -> None:
    name = cosi_name()
    created = sidecar.create(name, deletionPolicy="retain")

    sidecar.delete(created.bucket_id)

    assert rows(sidecar, name)[0]["status"] == "deleted"
    operator_s3.head_bucket(Bucket=name)  # released, not deleted
    operator_s3.delete_bucket(Bucket=name)


def test_what_the_driver_does_is_in_the_audit_log(sidecar: Sidecar) -> None:
    created = sidecar.create(cosi_name())
    bucket_id = created.bucket_id.split(".")[2].replace("-", "_", 1)
    events = httpx.get(
        f"{sidecar.api_url}/v3/organizations/demo/audit-events",
        params={"limit": 200},
        headers=OPERATOR_HEADERS,
    ).json()["events"]
    assert [(e["action"], e["outcome"]) for e in events if e["target"] == bucket_id] == [
        ("bucket.create", "succeeded")
    ]


def test_creates_of_one_name_at_once_make_one_bucket(sidecar: Sidecar) -> None:
    """A sidecar that lost its state may call twice at once: one bucket, and each call OK or ABORTED."""
    name = cosi_name()
    request = pb.DriverCreateBucketRequest(name=name, protocols=[S3], parameters=CLASS)
    calls = [sidecar.provisioner.DriverCreateBucket.future(request, timeout=20) for _ in range(3)]

    answered, refusals = [], []
    for call in calls:
        try:
            answered.append(call.result().bucket_id)
        except grpc.RpcError as error:
            refusals.append((error.code(), error.details()))

    assert {code for code, _ in refusals} <= {grpc.StatusCode.ABORTED}, refusals
    assert answered, refusals
    assert len(set(answered)) == 1
    assert len(rows(sidecar, name)) == 1
    assert sidecar.create(name).bucket_id == answered[0]
