"""The ``s3`` family adapter against a real SeaweedFS: buckets, IAM identities, usage, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from loopback.kit.ports import free_ports
from loopback.providers import s3
from loopback.providers.base import CREDENTIALS_REFUSED, Grant, Placement, ProviderError, RegionSpec
from loopback.providers.s3 import S3Provider, S3ProviderConfig
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from tests.conftest import unique_bucket_name, wait_for
from tests.providers.botocore_calls import watching

REGION = "local-1"
TENANT = Placement("org_test", "prj_test")


def adapter_for(endpoint: str, access_key: str, secret: str) -> S3Provider:
    return S3Provider(
        S3ProviderConfig(
            name="under-test",
            regions=(RegionSpec(REGION, "Local", endpoint),),
            access_key_id=access_key,
            secret_access_key=secret,
            connect_timeout=1,
            read_timeout=5,
        )
    )


@pytest.fixture
def adapter(seaweedfs: EmbeddedSeaweedFS) -> S3Provider:
    return adapter_for(
        seaweedfs.endpoint, seaweedfs.identity.access_key_id, seaweedfs.identity.secret_access_key
    )


@pytest.fixture
def bucket(adapter: S3Provider) -> Iterator[str]:
    name = unique_bucket_name("adapter")
    adapter.create_bucket(name, REGION, TENANT)
    return name


def client_with(seaweedfs: EmbeddedSeaweedFS, key: str, secret: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name=REGION,
    )


def test_creating_twice_is_success_and_exists(adapter: S3Provider, bucket: str) -> None:
    adapter.create_bucket(bucket, REGION, TENANT)  # BucketAlreadyOwnedByYou
    assert adapter.bucket_exists(bucket, REGION, TENANT)
    assert not adapter.bucket_exists(unique_bucket_name("missing"), REGION, TENANT)


def test_a_bucket_with_objects_is_not_deleted(adapter: S3Provider, bucket: str, operator_s3: Any) -> None:
    operator_s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert adapter.object_count_hint(bucket, REGION, 10, TENANT) == 1
    with pytest.raises(ProviderError) as refused:
        adapter.delete_bucket(bucket, REGION, TENANT)
    assert refused.value.code == "BucketNotEmpty"
    assert not refused.value.transient
    operator_s3.delete_object(Bucket=bucket, Key="k")
    adapter.delete_bucket(bucket, REGION, TENANT)
    adapter.delete_bucket(bucket, REGION, TENANT)  # already gone is success
    assert not adapter.bucket_exists(bucket, REGION, TENANT)
    assert adapter.object_count_hint(bucket, REGION, 10, TENANT) == 0


def test_an_issued_key_reaches_its_bucket_only_until_revoked(
    adapter: S3Provider, bucket: str, seaweedfs: EmbeddedSeaweedFS
) -> None:
    other = unique_bucket_name("adapter-other")
    adapter.create_bucket(other, REGION, TENANT)
    issued = adapter.issue_credential(REGION, f"lb-test-{bucket}", [Grant(bucket)], TENANT)
    assert issued.secret_access_key not in repr(issued)
    s3 = client_with(seaweedfs, issued.access_key_id, issued.secret_access_key)
    s3.put_object(Bucket=bucket, Key="mine", Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key="mine")["Body"].read() == b"ok"
    with pytest.raises(ClientError):
        s3.put_object(Bucket=other, Key="theirs", Body=b"no")
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=other)

    adapter.revoke_credential(REGION, issued.provider_user, TENANT)
    adapter.revoke_credential(REGION, issued.provider_user, TENANT)  # already gone is success

    def refused() -> bool:
        try:
            s3.list_objects_v2(Bucket=bucket)
        except ClientError:
            return True
        return False

    wait_for(refused, timeout=10)


def test_usage_counts_objects_and_bytes_across_pages(
    adapter: S3Provider, bucket: str, operator_s3: Any
) -> None:
    for index in range(1005):  # more than one page of 1000
        operator_s3.put_object(Bucket=bucket, Key=f"obj-{index:04d}", Body=b"z" * (index % 7))
    usage = adapter.read_usage(bucket, REGION, TENANT)
    assert usage.object_count == 1005
    assert usage.bytes == sum(index % 7 for index in range(1005))


def test_usage_counts_noncurrent_versions_and_unfinished_uploads(
    adapter: S3Provider, bucket: str, operator_s3: Any
) -> None:
    operator_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    operator_s3.put_object(Bucket=bucket, Key="k", Body=b"1" * 10)
    operator_s3.put_object(Bucket=bucket, Key="k", Body=b"2" * 20)
    upload = operator_s3.create_multipart_upload(Bucket=bucket, Key="open")["UploadId"]
    operator_s3.upload_part(Bucket=bucket, Key="open", UploadId=upload, PartNumber=1, Body=b"p" * 300)
    usage = adapter.read_usage(bucket, REGION, TENANT)
    assert (usage.object_count, usage.bytes) == (2 + 1, 10 + 20 + 300)
    operator_s3.abort_multipart_upload(Bucket=bucket, Key="open", UploadId=upload)
    usage = adapter.read_usage(bucket, REGION, TENANT)
    assert (usage.object_count, usage.bytes) == (2, 30)


def test_a_provider_without_versions_is_counted_by_listing(
    seaweedfs: EmbeddedSeaweedFS, operator_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Garage answers ListObjectVersions (and may answer ListMultipartUploads) NotImplemented."""
    name = unique_bucket_name("noversions")
    operator_s3.create_bucket(Bucket=name)
    operator_s3.put_object(Bucket=name, Key="one", Body=b"x" * 9)
    refused = {"ListObjectVersions": (501, "NotImplemented"), "ListMultipartUploads": (501, "NotImplemented")}
    with watching(monkeypatch, refuse=refused) as calls:
        usage = adapter_for(
            seaweedfs.endpoint, seaweedfs.identity.access_key_id, seaweedfs.identity.secret_access_key
        ).read_usage(name, REGION, TENANT)
    assert (usage.object_count, usage.bytes) == (1, 9)
    assert calls.counts["ListObjectVersions"] == 1
    assert calls.counts["ListObjectsV2"] == 1


def test_bucket_names_are_every_bucket_of_the_key_page_by_page(
    seaweedfs: EmbeddedSeaweedFS, adapter: S3Provider, operator_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = {unique_bucket_name("listed") for _ in range(3)}
    for name in made:
        adapter.create_bucket(name, REGION, TENANT)
    monkeypatch.setattr(s3, "LIST_BUCKETS_PAGE", 2)
    with watching(monkeypatch) as calls:
        fresh = adapter_for(
            seaweedfs.endpoint, seaweedfs.identity.access_key_id, seaweedfs.identity.secret_access_key
        )
        names = fresh.bucket_names(REGION, TENANT)
    assert made <= names
    assert names == {b["Name"] for b in operator_s3.list_buckets()["Buckets"]}
    pages = -(-len(names) // 2)
    assert calls.counts["ListBuckets"] in (pages, pages + 1)  # + an empty last page, if it sends one


def test_an_unreachable_endpoint_is_a_transient_error() -> None:
    adapter = adapter_for(f"http://127.0.0.1:{free_ports(1)[0]}", "AK", "SK")
    with pytest.raises(ProviderError) as failure:
        adapter.create_bucket("some-bucket", REGION, TENANT)
    assert failure.value.transient
    assert failure.value.code == "Unreachable"
    assert failure.value.summary == "the provider could not be reached"


@pytest.mark.parametrize(
    ("known_key", "code"), [(True, "SignatureDoesNotMatch"), (False, "InvalidAccessKeyId")]
)
def test_wrong_keys_are_a_permanent_error_whose_summary_names_no_code_or_key(
    seaweedfs: EmbeddedSeaweedFS, known_key: bool, code: str
) -> None:
    """The raw message is the operator's; the summary, which tenants read, blames the control
    plane's credentials and carries neither the provider's code nor the key id nor the secret."""
    key_id = seaweedfs.identity.access_key_id if known_key else "LBUNKNOWNKEYID0042"
    secret = "sentinel-secret-5b1d-never-shown"
    adapter = adapter_for(seaweedfs.endpoint, key_id, secret)
    with pytest.raises(ProviderError) as failure:
        adapter.create_bucket(unique_bucket_name(), REGION, TENANT)
    assert not failure.value.transient
    assert failure.value.code == code
    assert code in failure.value.message
    assert failure.value.summary == CREDENTIALS_REFUSED
    for hidden in (code, key_id, secret):
        assert hidden not in failure.value.summary
    assert secret not in failure.value.message


def test_an_unknown_region_is_refused(adapter: S3Provider) -> None:
    with pytest.raises(ProviderError) as failure:
        adapter.create_bucket("some-bucket", "nowhere-9", TENANT)
    assert failure.value.code == "NoSuchRegion"
