"""The ``ionos`` family: IONOS's regions and naming rules built in, buckets on SeaweedFS in IONOS's
place, and keys issued through a local stand-in of IONOS's two key APIs.

What proves what:

- The management calls go to ``ionos_standin.IonosStandIn``, which refuses anything IONOS does
  not document (path, method, query parameter, body field, token) and records every request; the
  tests assert the exact sequence the adapter sent.
- The S3 calls (buckets, bucket policies) go to the session's SeaweedFS through the per-region
  endpoint override. SeaweedFS stores and returns bucket policies verbatim, so the tests read back
  the exact document the adapter wrote, including IONOS's principal forms (``CanonicalUser`` for
  user-owned regions, ``arn:aws:iam:::user/<contract user id>`` for contract-owned ones).
- SeaweedFS does *not* understand those two principal forms: it matches only its own
  ``arn:aws:iam::000000000000:user/<name>`` (checked with SeaweedFS 4.48). So to show that the
  statements the adapter wrote give a key its bucket and nothing else, ``enforce_on_seaweedfs``
  rewrites each principal into SeaweedFS's form, keeping actions and resources unchanged, and
  SeaweedFS then enforces them. That IONOS maps its own principal forms to the right user is
  IONOS's documented behaviour, not something these tests can prove.
- Issued keys are real SeaweedFS keys (the stand-in mints them through SeaweedFS's IAM API with
  no rights of their own), so a revoked key visibly stops working.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from loopback.buckets.naming import bucket_name_problems
from loopback.kit.ports import free_ports
from loopback.providers import ionos
from loopback.providers.base import (
    Grant,
    IssuedCredential,
    Placement,
    ProviderError,
    ProviderSetup,
    holds_quota,
)
from loopback.providers.ionos import IonosProvider, build, ionos_name_problems
from loopback.providers.registry import build_provider
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from tests.conftest import unique_bucket_name, wait_for
from tests.providers.ionos_standin import IonosStandIn, Seen

DOMAIN = "tenants.example.test"
CONTRACT = "31234567"
SEAWEED_ACCOUNT_ARN = "arn:aws:iam::000000000000:user/"


def new_tenant() -> Placement:
    return Placement(f"org_{secrets.token_hex(6)}", f"prj_{secrets.token_hex(6)}")


def setup_for(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn | None, *, token: str | None = None, **settings: Any
) -> ProviderSetup:
    """A provider record as the service hands it over: every region's endpoint is SeaweedFS."""
    base: dict[str, Any] = {
        "endpoints": dict.fromkeys(ionos.OWNERSHIP, seaweedfs.endpoint),
        "user_domain": DOMAIN,
        "contract_number": CONTRACT,
        "key_poll_interval": 0.05,
        "key_poll_timeout": 5,
    }
    if standin is not None:
        base |= {"management_url": standin.management_url, "cloud_url": standin.cloud_url}
        if token is None:
            token = standin.token
    return ProviderSetup(
        name="ionos-test",
        family="ionos",
        settings=base | settings,
        regions=(),
        access_key_id=seaweedfs.identity.access_key_id,
        secret_access_key=seaweedfs.identity.secret_access_key,
        secrets={"api_token": token or "unused"},
    )


def adapter_for(seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, **settings: Any) -> IonosProvider:
    adapter = build_provider(setup_for(seaweedfs, standin, **settings))  # through the registry
    assert isinstance(adapter, IonosProvider)
    return adapter


@pytest.fixture
def standin(seaweedfs: EmbeddedSeaweedFS) -> Iterator[IonosStandIn]:
    with IonosStandIn(seaweedfs, contract_number=CONTRACT) as server:
        yield server


def client_with(seaweedfs: EmbeddedSeaweedFS, issued: IssuedCredential, region: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint,
        aws_access_key_id=issued.access_key_id,
        aws_secret_access_key=issued.secret_access_key,
        region_name=region,
    )


def policy_of(operator_s3: Any, bucket: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(operator_s3.get_bucket_policy(Bucket=bucket)["Policy"])
    return document


def principal_values(statement: dict[str, Any]) -> tuple[str, list[str]]:
    ((kind, values),) = statement["Principal"].items()
    return kind, [values] if isinstance(values, str) else list(values)


def enforce_on_seaweedfs(operator_s3: Any, standin: IonosStandIn, bucket: str) -> None:
    """Restate the bucket's IONOS principals in SeaweedFS's own ARN form; nothing else changes."""
    policy = policy_of(operator_s3, bucket)
    for statement in policy["Statement"]:
        _kind, values = principal_values(statement)
        try:
            names = [standin.seaweed_user(value) for value in values]
        except KeyError:
            continue  # not one of the stand-in's IONOS users (the operator's own statement)
        statement["Principal"] = {"AWS": [SEAWEED_ACCOUNT_ARN + name for name in names]}
    operator_s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def reaches(s3: Any, bucket: str) -> bool:
    try:
        s3.put_object(Bucket=bucket, Key="probe", Body=b"p")
        s3.list_objects_v2(Bucket=bucket)
    except ClientError:
        return False
    return True


def calls(seen: list[Seen]) -> list[tuple[str, str, str]]:
    return [(s.api, s.method, s.path) for s in seen]


# --- built in: regions, endpoints, naming ---------------------------------------------------------


def test_regions_are_built_in_with_ionos_hostnames(seaweedfs: EmbeddedSeaweedFS) -> None:
    setup = setup_for(seaweedfs, None, endpoints={})
    adapter = build(setup)
    assert [(r.code, r.name, r.endpoint) for r in adapter.regions()] == [
        ("de", "Frankfurt (user-owned buckets)", "https://s3.eu-central-1.ionoscloud.com"),
        ("eu-central-2", "Berlin (user-owned buckets)", "https://s3.eu-central-2.ionoscloud.com"),
        ("eu-south-2", "Logroño (user-owned buckets)", "https://s3.eu-south-2.ionoscloud.com"),
        ("eu-central-3", "Berlin (contract-owned buckets)", "https://s3.eu-central-3.ionoscloud.com"),
        ("eu-central-4", "Frankfurt (contract-owned buckets)", "https://s3.eu-central-4.ionoscloud.com"),
        ("us-central-1", "Lenexa (contract-owned buckets)", "https://s3.us-central-1.ionoscloud.com"),
    ]
    assert ionos.REGIONS == tuple(adapter.regions())
    assert ionos.COUNTRIES == {
        "de": "DE",
        "eu-central-2": "DE",
        "eu-south-2": "ES",
        "eu-central-3": "DE",
        "eu-central-4": "DE",
        "us-central-1": "US",
    }
    assert {code for code, kind in ionos.OWNERSHIP.items() if kind == "user"} == {
        "de",
        "eu-central-2",
        "eu-south-2",
    }
    capabilities = adapter.capabilities()
    assert capabilities.regions_fixed
    assert not capabilities.per_bucket_credentials  # the isolation unit is the tenant
    assert any("at most 5 keys per user" in note for note in capabilities.notes)
    assert any("500 buckets per user" in note for note in capabilities.notes)
    assert adapter.slots() == ()

    overridden = build(setup_for(seaweedfs, None, endpoints={"eu-south-2": "https://private.example"}))
    endpoints = {r.code: r.endpoint for r in overridden.regions()}
    assert endpoints["eu-south-2"] == "https://private.example"
    assert endpoints["de"] == "https://s3.eu-central-1.ionoscloud.com"


@pytest.mark.parametrize(
    ("settings", "secrets_", "complaint"),
    [
        ({}, {}, "no IONOS API token"),
        ({"key_api": "iam"}, {"api_token": "t"}, "key_api"),
        ({"user_domain": ""}, {"api_token": "t"}, "user_domain"),
        ({"endpoints": {"fra": "https://x"}}, {"api_token": "t"}, "unknown IONOS regions"),
        ({"isolation": "bucket"}, {"api_token": "t"}, "isolation"),
        ({"key_poll_timeout": 0}, {"api_token": "t"}, "key_poll_timeout"),
    ],
)
def test_a_misconfigured_provider_is_refused_when_built(
    seaweedfs: EmbeddedSeaweedFS, settings: dict[str, Any], secrets_: dict[str, str], complaint: str
) -> None:
    setup = setup_for(seaweedfs, None, **settings)
    setup = ProviderSetup(
        setup.name, setup.family, setup.settings, (), setup.access_key_id, setup.secret_access_key, secrets_
    )
    with pytest.raises(ValueError, match=complaint):
        build(setup)


def test_ionos_naming_rules(seaweedfs: EmbeddedSeaweedFS) -> None:
    adapter = build(setup_for(seaweedfs, None))
    assert adapter.name_problems("my-bucket.2024", "de") == []
    assert ionos_name_problems("my_bucket") == [
        "IONOS: may hold only lowercase letters, digits, dots and hyphens (no underscore)"
    ]
    assert "IONOS: must start with a lowercase letter or a digit" in ionos_name_problems("-bucket")
    assert ionos_name_problems("bucket-") == ["IONOS: must not end with a dot or a hyphen"]
    assert ionos_name_problems("bucket.") == ["IONOS: must not end with a dot or a hyphen"]
    assert ionos_name_problems("a..b") == ["IONOS: must not hold two periods in a row"]
    assert ionos_name_problems("a.-b") == ["IONOS: must not put a hyphen next to a period"]
    assert ionos_name_problems("ab") == ["IONOS: must be 3 to 63 characters long, not 2"]
    assert ionos_name_problems("Bucket") != []
    assert ionos_name_problems("192.168.5.4") == ["IONOS: must not look like an IP address"]
    # Wider than S3's rule, which only refuses real addresses: this one passes S3's check.
    assert bucket_name_problems("999.10.10.10") == []
    assert adapter.name_problems("999.10.10.10", "eu-central-3") == [
        "IONOS: must not look like an IP address"
    ]
    # Global uniqueness cannot be checked beforehand; it is a note, never a problem.
    assert any("unique across all of IONOS" in note for note in adapter.capabilities().notes)


# --- buckets on SeaweedFS in IONOS's place -------------------------------------------------------


@pytest.mark.parametrize("region", ["de", "eu-central-3"])
def test_a_bucket_is_created_exists_and_is_deleted(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, region: str
) -> None:
    adapter = adapter_for(seaweedfs, standin)
    tenant = new_tenant()
    name = unique_bucket_name("ionos")
    adapter.create_bucket(name, region, tenant)
    adapter.create_bucket(name, region, tenant)  # BucketAlreadyOwnedByYou is success
    assert adapter.bucket_exists(name, region, tenant)
    assert adapter.object_count_hint(name, region, 10, tenant) == 0
    adapter.delete_bucket(name, region, tenant)
    assert not adapter.bucket_exists(name, region, tenant)
    assert standin.take() == []  # buckets are S3's business alone


def test_the_500_bucket_limit_is_a_permanent_error_naming_it(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn
) -> None:
    """SeaweedFS has no bucket limit, so IONOS's answer is played into botocore's send step."""
    adapter = adapter_for(seaweedfs, standin)
    s3 = adapter._storage._s3("de")

    def too_many(**_: Any) -> AWSResponse:
        body = (
            b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>TooManyBuckets</Code>"
            b"<Message>You have attempted to create more buckets than allowed</Message></Error>"
        )
        return AWSResponse("https://s3.eu-central-1.ionoscloud.com", 400, {}, _Raw(body))

    s3.meta.events.register("before-send.s3.CreateBucket", too_many)
    try:
        with pytest.raises(ProviderError) as refused:
            adapter.create_bucket(unique_bucket_name("ionos"), "de", new_tenant())
    finally:
        s3.meta.events.unregister("before-send.s3.CreateBucket", too_many)
    assert refused.value.code == "TooManyBuckets"
    assert not refused.value.transient
    assert "at most 500 buckets per user" in refused.value.message


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


# --- keys through the Cloud API --------------------------------------------------------------------


# What an IONOS key statement may hold (objects and their listing), and what it must never hold.
OBJECT_ACTIONS = {
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
}
BUCKET_CHANGES = {
    "s3:*",
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutBucketVersioning",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketCORS",
    "s3:PutReplicationConfiguration",
    "s3:PutBucketObjectLockConfiguration",
}


def test_one_key_over_two_buckets_gets_a_statement_on_each_and_modes_are_declared(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, operator_s3: Any
) -> None:
    adapter = adapter_for(seaweedfs, standin, group_id=standin.group_id)
    tenant = new_tenant()
    first, second = (unique_bucket_name("ionos") for _ in range(2))
    for bucket in (first, second):
        adapter.create_bucket(bucket, "de", tenant)
    adapter.issue_credential("de", "lb-crd_pair", [Grant(first), Grant(second)], tenant)
    for bucket in (first, second):
        (statement,) = policy_of(operator_s3, bucket)["Statement"]
        assert statement["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
        assert set(statement["Action"]) <= OBJECT_ACTIONS
    capabilities = adapter.capabilities()
    assert [mode.value for mode in capabilities.access_modes] == ["read-write"]
    assert not capabilities.prefixes
    assert not capabilities.narrowable
    assert "ionos keys of one tenant" in capabilities.limits_reason


def test_a_bucket_over_quota_keeps_its_tenants_statement_without_writes(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, operator_s3: Any
) -> None:
    """IONOS grants a tenant's user, not a key: a bucket over its quota has that user's statement
    rewritten to read, list and delete (no ``s3:PutObject``), for every key of the tenant at once,
    and a key issued meanwhile does not open it again."""
    adapter = adapter_for(seaweedfs, standin, group_id=standin.group_id)
    tenant = new_tenant()
    full, other = (unique_bucket_name("ionos") for _ in range(2))
    for bucket in (full, other):
        adapter.create_bucket(bucket, "de", tenant)
    issued = adapter.issue_credential("de", "lb-crd_quota", [Grant(full), Grant(other)], tenant)
    assert holds_quota(adapter.capabilities())

    adapter.update_credential("de", issued.provider_user, [Grant(full, writable=False), Grant(other)], tenant)
    (held,) = policy_of(operator_s3, full)["Statement"]
    assert "s3:PutObject" not in held["Action"]
    assert {"s3:GetObject", "s3:DeleteObject", "s3:ListBucket"} <= set(held["Action"])
    (open_,) = policy_of(operator_s3, other)["Statement"]
    assert "s3:PutObject" in open_["Action"]

    late = adapter.issue_credential("de", "lb-crd_late", [Grant(full, writable=False)], tenant)
    (still,) = policy_of(operator_s3, full)["Statement"]
    assert still == held  # the new key's merge did not give the tenant its writes back

    for bucket in (full, other):
        enforce_on_seaweedfs(operator_s3, standin, bucket)
    s3 = client_with(seaweedfs, late, "de")
    wait_for(lambda: reaches(s3, other), timeout=10)
    assert not reaches(s3, full)
    s3.list_objects_v2(Bucket=full)  # reading goes on

    adapter.update_credential("de", issued.provider_user, [Grant(full), Grant(other)], tenant)
    (back,) = policy_of(operator_s3, full)["Statement"]
    assert "s3:PutObject" in back["Action"]


def test_cloud_api_one_user_per_tenant_keys_scoped_by_bucket_policy(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, operator_s3: Any
) -> None:
    adapter = adapter_for(seaweedfs, standin, group_id=standin.group_id)
    tenant, other_tenant = new_tenant(), new_tenant()
    mine, also_mine, theirs = (unique_bucket_name("ionos") for _ in range(3))
    for bucket in (mine, also_mine, theirs):
        adapter.create_bucket(bucket, "de", tenant if bucket != theirs else other_tenant)
    # The operator's own statement on the bucket must survive the merge.
    operator_statement = {
        "Sid": "OperatorReadOnly",
        "Effect": "Allow",
        "Principal": {"CanonicalUser": ["operator-canonical-id"]},
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{mine}/*"],
    }
    operator_s3.put_bucket_policy(
        Bucket=mine, Policy=json.dumps({"Version": "2012-10-17", "Statement": [operator_statement]})
    )
    standin.take()

    issued = adapter.issue_credential("de", "lb-crd_one", [Grant(mine)], tenant)

    seen = standin.take()
    email = f"lb-{tenant.project_id}@{DOMAIN}"
    user = standin.user_by_email(email)
    assert user is not None
    uid = user["id"]
    assert calls(seen) == [
        ("cloud", "GET", "/um/users"),
        ("cloud", "POST", "/um/users"),
        ("cloud", "GET", f"/um/users/{uid}/groups"),
        ("cloud", "POST", f"/um/groups/{standin.group_id}/users"),
        ("cloud", "GET", f"/um/users/{uid}/s3keys"),
        ("cloud", "POST", f"/um/users/{uid}/s3keys"),
        ("cloud", "GET", f"/um/users/{uid}"),
    ]
    assert all(s.authorization == f"Bearer {standin.token}" for s in seen)
    assert all(s.status < 300 for s in seen)
    assert seen[0].query == {"depth": "1", "offset": "0", "limit": "100"}
    created_user = seen[1].body["properties"]
    password = created_user.pop("password")
    assert len(password) >= 32
    assert created_user == {
        "firstname": "Loopback",
        "lastname": tenant.project_id,
        "email": email,
        "administrator": False,
        "forceSecAuth": False,
        "active": True,
    }
    assert set(seen[1].body) == {"properties"}
    assert seen[3].body == {"id": uid}
    assert seen[4].query == {"depth": "1"}
    assert seen[5].body is None  # POST s3keys takes no body
    assert issued.provider_user == f"cloud:{uid}:{issued.access_key_id}"
    assert standin.keys_of(uid) == [issued.access_key_id]
    assert issued.secret_access_key not in repr(issued)

    # The bucket's policy: the operator's statement kept, one statement for the tenant's user.
    canonical = user["properties"]["s3CanonicalUserId"]
    statements = {s["Sid"]: s for s in policy_of(operator_s3, mine)["Statement"]}
    assert set(statements) == {"OperatorReadOnly", ionos.statement_id({"CanonicalUser": [canonical]})}
    granted = statements[ionos.statement_id({"CanonicalUser": [canonical]})]
    assert principal_values(granted) == ("CanonicalUser", [canonical])
    assert granted["Effect"] == "Allow"
    assert sorted(granted["Resource"]) == [f"arn:aws:s3:::{mine}", f"arn:aws:s3:::{mine}/*"]
    assert "s3:DeleteBucket" not in granted["Action"]
    assert "s3:PutBucketPolicy" not in granted["Action"]
    assert not BUCKET_CHANGES & set(granted["Action"]), "a key may never reshape its bucket"
    assert set(granted["Action"]) <= OBJECT_ACTIONS

    # A second key of the same tenant, for another bucket: the same IONOS user, found, not made.
    second = adapter.issue_credential("de", "lb-crd_two", [Grant(also_mine)], tenant)
    assert [c for c in calls(standin.take()) if c[1] == "POST"] == [
        ("cloud", "POST", f"/um/users/{uid}/s3keys")
    ]
    assert second.provider_user.startswith(f"cloud:{uid}:")
    adapter.issue_credential(
        "de", "lb-crd_three", [Grant(also_mine)], tenant
    )  # same principal: still one statement
    assert [s["Sid"] for s in policy_of(operator_s3, also_mine)["Statement"]] == [
        ionos.statement_id({"CanonicalUser": [canonical]})
    ]

    # What SeaweedFS can show once the principals are in its dialect: the tenant's keys reach the
    # tenant's granted buckets, not another tenant's bucket.
    for bucket in (mine, also_mine):
        enforce_on_seaweedfs(operator_s3, standin, bucket)
    s3 = client_with(seaweedfs, issued, "de")
    wait_for(lambda: reaches(s3, mine), timeout=10)
    assert reaches(s3, also_mine)  # per tenant, not per bucket: the same IONOS user
    assert not reaches(s3, theirs)
    with pytest.raises(ClientError):
        s3.delete_bucket(Bucket=mine)

    # Revoking deletes the key at IONOS (202), and SeaweedFS stops accepting it.
    standin.take()
    adapter.revoke_credential("de", issued.provider_user, tenant)
    seen = standin.take()
    assert calls(seen) == [("cloud", "DELETE", f"/um/users/{uid}/s3keys/{issued.access_key_id}")]
    assert seen[0].status == 202
    assert seen[0].body is None
    assert issued.access_key_id not in standin.keys_of(uid)
    wait_for(lambda: not reaches(s3, mine), timeout=10)
    assert reaches(client_with(seaweedfs, second, "de"), mine)  # the tenant's other keys still work
    adapter.revoke_credential("de", issued.provider_user, tenant)  # already gone (404) is success
    assert [s.status for s in standin.take()] == [404]


def test_cloud_api_contract_owned_regions_name_the_contract_user(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, operator_s3: Any
) -> None:
    adapter = adapter_for(seaweedfs, standin)
    tenant = new_tenant()
    bucket, other = unique_bucket_name("ionos"), unique_bucket_name("ionos")
    adapter.create_bucket(bucket, "eu-central-3", tenant)
    adapter.create_bucket(other, "eu-central-3", new_tenant())
    standin.take()

    issued = adapter.issue_credential("eu-central-3", "lb-crd_c", [Grant(bucket)], tenant)

    user = standin.user_by_email(f"lb-{tenant.project_id}@{DOMAIN}")
    assert user is not None
    seen = standin.take()
    assert calls(seen) == [  # no group configured; no canonical id needed for contract-owned buckets
        ("cloud", "GET", "/um/users"),
        ("cloud", "POST", "/um/users"),
        ("cloud", "GET", f"/um/users/{user['id']}/s3keys"),
        ("cloud", "POST", f"/um/users/{user['id']}/s3keys"),
    ]
    (statement,) = policy_of(operator_s3, bucket)["Statement"]
    assert principal_values(statement) == ("AWS", [f"arn:aws:iam:::user/{CONTRACT}:{user['id']}"])

    enforce_on_seaweedfs(operator_s3, standin, bucket)
    s3 = client_with(seaweedfs, issued, "eu-central-3")
    wait_for(lambda: reaches(s3, bucket), timeout=10)
    assert not reaches(s3, other)


def test_contract_owned_regions_need_the_contract_number(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn
) -> None:
    adapter = adapter_for(seaweedfs, standin, contract_number="")
    with pytest.raises(ProviderError) as refused:
        adapter.issue_credential("us-central-1", "lb-crd_x", [Grant("any-bucket")], new_tenant())
    assert refused.value.code == "NoContractNumber"
    assert not refused.value.transient
    assert standin.take() == []  # refused before any key was made


def test_a_sixth_key_for_one_tenant_is_refused_naming_the_limit(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn
) -> None:
    adapter = adapter_for(seaweedfs, standin)
    tenant = new_tenant()
    bucket = unique_bucket_name("ionos")
    adapter.create_bucket(bucket, "de", tenant)
    for index in range(5):
        adapter.issue_credential("de", f"lb-crd_{index}", [Grant(bucket)], tenant)
    standin.take()
    with pytest.raises(ProviderError) as refused:
        adapter.issue_credential("de", "lb-crd_6", [Grant(bucket)], tenant)
    assert refused.value.code == "KeyLimitExceeded"
    assert not refused.value.transient
    assert "at most 5 object storage keys per user" in refused.value.message
    assert [c[1] for c in calls(standin.take())] == ["GET", "GET"]  # looked, made nothing

    # The stand-in holds IONOS's line on its own too.
    user = standin.user_by_email(f"lb-{tenant.project_id}@{DOMAIN}")
    assert user is not None
    answer = httpx.post(
        f"{standin.cloud_url}/um/users/{user['id']}/s3keys",
        headers={"Authorization": f"Bearer {standin.token}"},
    )
    assert answer.status_code == 422
    assert answer.json()["messages"][0]["message"] == "a maximum of five keys per user can be generated"


def test_a_key_is_found_by_its_digest_when_its_id_is_too_long_to_record(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn
) -> None:
    adapter = adapter_for(seaweedfs, standin)
    tenant = new_tenant()
    bucket = unique_bucket_name("ionos")
    adapter.create_bucket(bucket, "de", tenant)
    issued = adapter.issue_credential("de", "lb-crd_d", [Grant(bucket)], tenant)
    uid = issued.provider_user.split(":")[1]
    digest = hashlib.sha256(issued.access_key_id.encode()).hexdigest()[:32]
    standin.take()
    adapter.revoke_credential("de", f"cloud:{uid}:sha256:{digest}", tenant)
    assert calls(standin.take()) == [
        ("cloud", "GET", f"/um/users/{uid}/s3keys"),
        ("cloud", "DELETE", f"/um/users/{uid}/s3keys/{issued.access_key_id}"),
    ]
    assert standin.keys_of(uid) == []


# --- keys through the Object Storage Management API ------------------------------------------------


@pytest.mark.parametrize(("region", "kind"), [("de", "CanonicalUser"), ("eu-central-4", "AWS")])
def test_management_api_keys_are_polled_until_available_and_granted(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, operator_s3: Any, region: str, kind: str
) -> None:
    standin.provisioning_polls = 2
    adapter = adapter_for(seaweedfs, standin, key_api="management")
    tenant = new_tenant()
    bucket, other = unique_bucket_name("ionos"), unique_bucket_name("ionos")
    adapter.create_bucket(bucket, region, tenant)
    adapter.create_bucket(other, region, tenant)
    standin.take()

    issued = adapter.issue_credential(region, "lb-crd_m", [Grant(bucket)], tenant)

    seen = standin.take()
    (key_id,) = standin.access_key_ids()
    assert calls(seen) == [
        ("management", "POST", "/accesskeys"),
        ("management", "GET", f"/accesskeys/{key_id}"),
        ("management", "GET", f"/accesskeys/{key_id}"),
        ("management", "GET", f"/accesskeys/{key_id}"),
    ]
    assert all(s.authorization == f"Bearer {standin.token}" for s in seen)
    assert seen[0].status == 201
    owner = f"{tenant.organization_id}/{tenant.project_id}"
    assert seen[0].body == {
        "metadata": {},
        "properties": {"description": f"Loopback lb-crd_m: bucket {bucket} of {owner}"},
    }
    assert issued.provider_user == f"management:{key_id}"

    (statement,) = policy_of(operator_s3, bucket)["Statement"]
    expected = (
        ("CanonicalUser", [standin.owner.canonical])
        if kind == "CanonicalUser"
        else ("AWS", [f"arn:aws:iam:::user/{standin.owner_contract_user_id()}"])
    )
    assert principal_values(statement) == expected

    enforce_on_seaweedfs(operator_s3, standin, bucket)
    s3 = client_with(seaweedfs, issued, region)
    wait_for(lambda: reaches(s3, bucket), timeout=10)
    assert not reaches(s3, other)

    adapter.revoke_credential(region, issued.provider_user, tenant)
    seen = standin.take()
    assert calls(seen) == [("management", "DELETE", f"/accesskeys/{key_id}")]
    assert seen[0].status == 202
    assert standin.access_key_ids() == []
    wait_for(lambda: not reaches(s3, bucket), timeout=10)
    adapter.revoke_credential(region, issued.provider_user, tenant)  # already gone is success


def test_management_api_key_that_never_becomes_available_is_deleted_again(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn
) -> None:
    standin.provisioning_polls = 10_000
    adapter = adapter_for(seaweedfs, standin, key_api="management", key_poll_timeout=0.3)
    tenant = new_tenant()
    bucket = unique_bucket_name("ionos")
    adapter.create_bucket(bucket, "de", tenant)
    with pytest.raises(ProviderError) as failed:
        adapter.issue_credential("de", "lb-crd_slow", [Grant(bucket)], tenant)
    assert failed.value.transient
    assert failed.value.code == "KeyNotReady"
    assert calls(standin.take())[-1][1] == "DELETE"
    assert standin.access_key_ids() == []


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_api", ["cloud", "management"])
def test_a_wrong_token_is_a_permanent_error_with_ionos_message(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, key_api: str
) -> None:
    adapter = build(setup_for(seaweedfs, standin, token="not-the-token", key_api=key_api))
    tenant = new_tenant()
    bucket = unique_bucket_name("ionos")
    adapter.create_bucket(bucket, "de", tenant)
    with pytest.raises(ProviderError) as refused:
        adapter.issue_credential("de", "lb-crd_w", [Grant(bucket)], tenant)
    assert not refused.value.transient
    assert refused.value.code == "paas-auth-1"
    assert (
        "answered 401: Unauthorized: the bearer token is missing, invalid or expired" in refused.value.message
    )
    assert "not-the-token" not in refused.value.message
    assert [s.status for s in standin.take()] == [401]
    with pytest.raises(ProviderError):
        adapter.check()


@pytest.mark.parametrize("key_api", ["cloud", "management"])
def test_ionos_unavailable_is_transient_and_a_passing_fault_is_retried(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, key_api: str
) -> None:
    adapter = adapter_for(seaweedfs, standin, key_api=key_api)
    tenant = new_tenant()
    bucket = unique_bucket_name("ionos")
    adapter.create_bucket(bucket, "de", tenant)
    standin.fail(503, times=100)
    with pytest.raises(ProviderError) as failed:
        adapter.issue_credential("de", "lb-crd_u", [Grant(bucket)], tenant)
    assert failed.value.transient
    assert "answered 503" in failed.value.message
    standin._failures.clear()
    standin.take()

    standin.fail(503, times=1, method="GET")  # one passing fault on a read: retried
    standin.fail(429, times=1, method="POST")  # throttled before acting: retried too
    issued = adapter.issue_credential("de", "lb-crd_r", [Grant(bucket)], tenant)
    statuses = [s.status for s in standin.take()]
    assert statuses.count(503) == 1
    assert statuses.count(429) == 1
    assert issued.access_key_id


def test_an_unreachable_api_is_transient(seaweedfs: EmbeddedSeaweedFS) -> None:
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    adapter = build(setup_for(seaweedfs, None, token="t", cloud_url=dead))
    with pytest.raises(ProviderError) as failed:
        adapter.issue_credential("de", "lb-crd_x", [Grant("any-bucket")], new_tenant())
    assert failed.value.transient
    assert failed.value.code == "Unreachable"


def test_check_reads_with_both_keys(seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn) -> None:
    adapter_for(seaweedfs, standin).check()
    adapter_for(seaweedfs, standin, key_api="management").check()
    assert calls(standin.take()) == [("cloud", "GET", "/um/users"), ("management", "GET", "/accesskeys")]


def test_secrets_never_reach_the_logs(
    seaweedfs: EmbeddedSeaweedFS, standin: IonosStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = adapter_for(seaweedfs, standin)
    tenant = new_tenant()
    bucket = unique_bucket_name("ionos")
    adapter.create_bucket(bucket, "de", tenant)
    with caplog.at_level(logging.DEBUG):
        issued = adapter.issue_credential("de", "lb-crd_l", [Grant(bucket)], tenant)
    assert issued.secret_access_key not in caplog.text
    assert standin.token not in caplog.text
    created = next(s for s in standin.requests if s.method == "POST" and s.path == "/um/users")
    assert created.body["properties"]["password"] not in caplog.text


def test_the_standin_refuses_what_ionos_does_not_document(standin: IonosStandIn) -> None:
    """The stand-in is only as good as its strictness: anything off-contract is refused."""
    bearer = {"Authorization": f"Bearer {standin.token}"}
    management, cloud = standin.management_url, standin.cloud_url
    user = httpx.post(
        f"{cloud}/um/users",
        headers=bearer,
        json={
            "properties": {"firstname": "A", "lastname": "B", "email": "a@b.test", "password": "pw-123456"}
        },
    ).json()["id"]
    refused = [
        httpx.post(f"{management}/accesskeys", json={"properties": {"description": "x"}}),  # no token
        httpx.get(f"{management}/accesskeys", auth=("user", "password")),  # Basic: not for this API
        httpx.post(
            f"{management}/accesskeys", headers=bearer, json={"properties": {"description": "x", "x": 1}}
        ),
        httpx.post(f"{management}/accesskeys", headers=bearer, json={"metadata": {}, "properties": {}}),
        httpx.post(f"{management}/accesskeys", headers=bearer, json={"description": "x"}),
        httpx.get(f"{management}/accesskeys", headers=bearer, params={"depth": 1}),
        httpx.patch(f"{management}/accesskeys", headers=bearer),
        httpx.get(f"{management}/v1/accesskeys", headers=bearer),
        httpx.post(f"{cloud}/um/users/{user}/s3keys", headers=bearer, json={"active": True}),
        httpx.post(f"{cloud}/um/users", headers=bearer, json={"properties": {"email": "c@d.test"}}),
        httpx.delete(f"{cloud}/um/users/{user}/s3keys/NOSUCHKEY", headers=bearer),
        httpx.get(f"{cloud}/um/users/{user}/s3keys", headers=bearer, params={"limit": 1}),
    ]
    assert [r.status_code for r in refused] == [401, 401, 422, 422, 422, 422, 405, 404, 422, 422, 404, 422]
    for answer in refused:
        body = answer.json()
        assert body["httpStatus"] == answer.status_code
        assert set(body["messages"][0]) == {"errorCode", "message"}
    assert standin.keys_of(user) == []
    assert standin.access_key_ids() == []
