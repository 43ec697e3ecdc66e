"""The wire contract: ``cosi.proto`` names and numbers what COSI's v1alpha2 specification does, and
the committed modules are what grpcio-tools makes of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopback.cosi.proto import cosi_pb2 as pb
from loopback.cosi.proto.generate import GENERATED, HERE, generate

PACKAGE = "sigs.k8s.io.cosi.v1alpha2"


def fields(message: str) -> dict[str, int]:
    descriptor = pb.DESCRIPTOR.message_types_by_name[message.split(".")[0]]
    for nested in message.split(".")[1:]:
        descriptor = descriptor.nested_types_by_name[nested]
    return {f.name: f.number for f in descriptor.fields}


def test_the_package_and_services_are_cosis() -> None:
    assert pb.DESCRIPTOR.package == PACKAGE
    services = {
        s.full_name: {m.name: (m.input_type.name, m.output_type.name) for m in s.methods}
        for s in pb.DESCRIPTOR.services_by_name.values()
    }
    assert services == {
        f"{PACKAGE}.Identity": {"DriverGetInfo": ("DriverGetInfoRequest", "DriverGetInfoResponse")},
        f"{PACKAGE}.Provisioner": {
            f"Driver{verb}": (f"Driver{verb}Request", f"Driver{verb}Response")
            for verb in (
                "CreateBucket", "GetExistingBucket", "DeleteBucket", "GrantBucketAccess", "RevokeBucketAccess"
            )
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("DriverGetInfoResponse", {"name": 1, "supported_protocols": 2}),
        ("ObjectProtocol", {"type": 1}),
        ("ObjectProtocolAndBucketInfo", {"s3": 1, "azure": 2, "gcs": 3}),
        ("CredentialInfo", {"s3": 1, "azure": 2, "gcs": 3}),
        ("S3BucketInfo", {"bucket_id": 1, "endpoint": 2, "region": 3, "addressing_style": 4}),
        ("S3CredentialInfo", {"access_key_id": 1, "access_secret_key": 2}),
        ("S3AddressingStyle", {"style": 1}),
        ("AuthenticationType", {"type": 1}),
        ("AccessMode", {"mode": 1}),
        ("DriverCreateBucketRequest", {"name": 1, "protocols": 2, "parameters": 4}),
        ("DriverCreateBucketResponse", {"bucket_id": 1, "protocols": 2}),
        ("DriverGetExistingBucketRequest", {"existing_bucket_id": 1, "protocols": 2, "parameters": 4}),
        ("DriverGetExistingBucketResponse", {"bucket_id": 1, "protocols": 2}),
        ("DriverDeleteBucketRequest", {"bucket_id": 1, "parameters": 4}),
        (
            "DriverGrantBucketAccessRequest",
            {
                "account_name": 1, "protocol": 2, "authentication_type": 3, "service_account_name": 4,
                "parameters": 5, "buckets": 6,
            },
        ),
        ("DriverGrantBucketAccessRequest.AccessedBucket", {"bucket_id": 1, "access_mode": 2}),
        ("DriverGrantBucketAccessResponse", {"account_id": 1, "buckets": 2, "credentials": 3}),
        ("DriverGrantBucketAccessResponse.BucketInfo", {"bucket_id": 1, "bucket_info": 2}),
        (
            "DriverRevokeBucketAccessRequest",
            {
                "account_id": 1, "protocol": 2, "authentication_type": 3, "service_account_name": 4,
                "parameters": 5, "buckets": 6,
            },
        ),
        ("DriverRevokeBucketAccessRequest.AccessedBucket", {"bucket_id": 1}),
    ],
)  # fmt: skip
def test_fields_have_the_specifications_names_and_numbers(message: str, expected: dict[str, int]) -> None:
    assert fields(message) == expected


def test_enum_values_are_the_specifications() -> None:
    def values(enum: object) -> dict[str, int]:
        return dict(enum.items())  # type: ignore[attr-defined]

    assert values(pb.ObjectProtocol.Type) == {"UNKNOWN": 0, "S3": 1, "AZURE": 2, "GCS": 3}
    assert values(pb.S3AddressingStyle.Style) == {"UNKNOWN": 0, "PATH": 1, "VIRTUAL": 2}
    assert values(pb.AuthenticationType.Type) == {"UNKNOWN": 0, "KEY": 1, "SERVICE_ACCOUNT": 2}
    assert values(pb.AccessMode.Mode) == {"UNKNOWN": 0, "READ_WRITE": 1, "READ_ONLY": 2, "WRITE_ONLY": 3}


def test_the_committed_modules_are_what_the_proto_generates(tmp_path: Path) -> None:
    made = generate(tmp_path)
    stale = [path.name for path in made if path.read_text() != (HERE / path.name).read_text()]
    assert sorted(path.name for path in made) == sorted(GENERATED)
    assert not stale, (
        f"run `.venv/bin/python -m loopback.cosi.proto.generate`: {stale} differ from cosi.proto's"
    )
