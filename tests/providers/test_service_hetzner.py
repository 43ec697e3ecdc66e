"""The ``hetzner`` family against a real SeaweedFS standing in for Hetzner's S3 endpoints.

Each linked key slot is a SeaweedFS identity allowed ``s3:*`` on every bucket, as a Hetzner
project's key reaches every bucket of its Hetzner project. SeaweedFS cannot show that a key stops
at its own Hetzner project, so the API tests prove the mapping that guarantees it: each tenant
gets a slot of its own, its buckets use that slot, its credentials are that slot's key, and a
tenant with no free slot left gets no bucket at all.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loopback.buckets.models import Bucket
from loopback.credentials.models import Credential
from loopback.kit.clock import utcnow
from loopback.kit.ports import free_ports
from loopback.providers import hetzner
from loopback.providers.base import Grant, Placement, ProviderError, ProviderSetup, RegionSpec, SlotKey
from loopback.providers.hetzner import COUNTRIES, REGIONS, HetznerProvider
from loopback.providers.models import Provider, ProviderSlot
from loopback.providers.registry import build_provider
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.conftest import s3_client_for, unique_bucket_name, wait_for

REGION = "fsn1"
PROJECT_WIDE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}],
    }
)


@pytest.fixture(scope="module")
def slot_keys(seaweedfs: EmbeddedSeaweedFS) -> Iterator[tuple[SlotKey, SlotKey]]:
    """Two keys like Hetzner project keys: each reaches every bucket (SeaweedFS has one "project")."""
    iam = boto3.client(
        "iam",
        endpoint_url=seaweedfs.endpoint,
        aws_access_key_id=seaweedfs.identity.access_key_id,
        aws_secret_access_key=seaweedfs.identity.secret_access_key,
        region_name="us-east-1",
    )
    users = [f"hz-{name}-{secrets.token_hex(4)}" for name in ("a", "b")]
    keys = []
    for slot, user in zip(("hp-a", "hp-b"), users, strict=True):
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="project-key", PolicyDocument=PROJECT_WIDE_POLICY)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys.append(SlotKey(slot, key["AccessKeyId"], key["SecretAccessKey"]))
    yield keys[0], keys[1]
    for user, key in zip(users, keys, strict=True):
        iam.delete_access_key(UserName=user, AccessKeyId=key.access_key_id)
        iam.delete_user_policy(UserName=user, PolicyName="project-key")
        iam.delete_user(UserName=user)


def everywhere(endpoint: str) -> dict[str, str]:
    return {region.code: endpoint for region in REGIONS}


@pytest.fixture
def adapter(seaweedfs: EmbeddedSeaweedFS, slot_keys: tuple[SlotKey, SlotKey]) -> HetznerProvider:
    return HetznerProvider(
        "hz-under-test", slot_keys, everywhere(seaweedfs.endpoint), connect_timeout=1, read_timeout=5
    )


A = Placement("org_a", "prj_a", "hp-a")
B = Placement("org_b", "prj_b", "hp-b")


def s3_with(seaweedfs: EmbeddedSeaweedFS, key: str, secret: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name=REGION,
    )


# --- the adapter, called directly ------------------------------------------------------------


def test_regions_and_endpoints_are_built_in() -> None:
    built = build_provider(
        ProviderSetup(
            name="hz", family="hetzner", settings={}, regions=(), access_key_id=None, secret_access_key=None
        )
    )
    assert [(r.code, r.name, r.endpoint) for r in built.regions()] == [
        ("fsn1", "Falkenstein", "https://fsn1.your-objectstorage.com"),
        ("nbg1", "Nuremberg", "https://nbg1.your-objectstorage.com"),
        ("hel1", "Helsinki", "https://hel1.your-objectstorage.com"),
    ]
    assert COUNTRIES == {"fsn1": "DE", "nbg1": "DE", "hel1": "FI"}
    assert built.slots() == ()
    capabilities = built.capabilities()
    assert not capabilities.per_bucket_credentials
    assert not capabilities.native_usage_stats
    assert capabilities.regions_fixed
    assert any("per tenant, not per bucket" in note for note in capabilities.notes)
    assert built.name_problems("any-name", "fsn1") == []


def test_an_endpoint_override_replaces_one_region_only() -> None:
    built = HetznerProvider("hz", (), {"hel1": "https://hel1.private.example"})
    endpoints = {r.code: r.endpoint for r in built.regions()}
    assert endpoints == {
        "fsn1": "https://fsn1.your-objectstorage.com",
        "nbg1": "https://nbg1.your-objectstorage.com",
        "hel1": "https://hel1.private.example",
    }


@pytest.mark.parametrize(
    ("settings", "fault"),
    [
        ({"endpoints": {"ash": "https://ash.example"}}, "unknown Hetzner regions"),
        ({"endpoints": ["https://fsn1.example"]}, "settings.endpoints"),
        ({"isolation": "everyone"}, "settings.isolation"),
    ],
)
def test_a_bad_setting_is_refused_when_building(settings: dict[str, Any], fault: str) -> None:
    setup = ProviderSetup("hz", "hetzner", settings, (), None, None)
    with pytest.raises(ValueError, match=fault):
        hetzner.build(setup)


def test_a_slot_linked_twice_is_refused(slot_keys: tuple[SlotKey, SlotKey]) -> None:
    with pytest.raises(ValueError, match="more than once"):
        HetznerProvider("hz", (slot_keys[0], slot_keys[0]))


def test_slots_are_listed_in_configured_order(slot_keys: tuple[SlotKey, SlotKey]) -> None:
    assert HetznerProvider("hz", (slot_keys[1], slot_keys[0])).slots() == ("hp-b", "hp-a")
    assert slot_keys[0].secret_access_key not in repr(slot_keys[0])


def test_a_bucket_lives_and_dies_with_its_slot_key(
    adapter: HetznerProvider, seaweedfs: EmbeddedSeaweedFS, slot_keys: tuple[SlotKey, SlotKey]
) -> None:
    name = unique_bucket_name("hz")
    adapter.create_bucket(name, REGION, A)
    adapter.create_bucket(name, REGION, A)  # already ours is success
    assert adapter.bucket_exists(name, REGION, A)
    assert not adapter.bucket_exists(unique_bucket_name("missing"), REGION, A)
    own = s3_with(seaweedfs, slot_keys[0].access_key_id, slot_keys[0].secret_access_key)
    for index in range(3):
        own.put_object(Bucket=name, Key=f"k{index}", Body=b"x" * (index + 1))
    usage = adapter.read_usage(name, REGION, A)
    assert (usage.object_count, usage.bytes) == (3, 6)
    assert adapter.object_count_hint(name, REGION, 10, A) == 3
    with pytest.raises(ProviderError) as refused:
        adapter.delete_bucket(name, REGION, A)
    assert refused.value.code == "BucketNotEmpty"
    assert not refused.value.transient
    assert adapter.empty_bucket(name, REGION, A) == 3
    adapter.delete_bucket(name, REGION, A)
    adapter.delete_bucket(name, REGION, A)  # already gone is success
    assert not adapter.bucket_exists(name, REGION, A)


def test_each_call_speaks_with_the_slot_key_of_its_placement(
    seaweedfs: EmbeddedSeaweedFS, slot_keys: tuple[SlotKey, SlotKey]
) -> None:
    broken_b = SlotKey("hp-b", slot_keys[1].access_key_id, "not-the-secret")
    adapter = HetznerProvider("hz", (slot_keys[0], broken_b), everywhere(seaweedfs.endpoint))
    name = unique_bucket_name("hz")
    adapter.create_bucket(name, REGION, A)
    with pytest.raises(ProviderError) as failure:  # slot hp-b's (broken) key is used, not hp-a's
        adapter.bucket_exists(name, REGION, B)
    assert not failure.value.transient
    adapter.delete_bucket(name, REGION, A)


def test_the_issued_credential_is_the_slot_key_and_reaches_the_bucket(
    adapter: HetznerProvider, seaweedfs: EmbeddedSeaweedFS, slot_keys: tuple[SlotKey, SlotKey]
) -> None:
    name = unique_bucket_name("hz")
    adapter.create_bucket(name, REGION, B)
    issued = adapter.issue_credential(REGION, "lb-crd_x", [Grant(name)], B)
    assert issued.provider_user == "slot:hp-b"
    assert (issued.access_key_id, issued.secret_access_key) == (
        slot_keys[1].access_key_id,
        slot_keys[1].secret_access_key,
    )
    assert issued.secret_access_key not in repr(issued)
    s3 = s3_with(seaweedfs, issued.access_key_id, issued.secret_access_key)
    s3.put_object(Bucket=name, Key="mine", Body=b"ok")
    assert s3.get_object(Bucket=name, Key="mine")["Body"].read() == b"ok"

    adapter.revoke_credential(REGION, issued.provider_user, B)  # nothing to do at Hetzner
    doc = HetznerProvider.revoke_credential.__doc__ or ""
    assert "Hetzner Cloud Console" in doc
    assert "stays valid" in doc
    assert s3.get_object(Bucket=name, Key="mine")["Body"].read() == b"ok"
    adapter.empty_bucket(name, REGION, B)
    adapter.delete_bucket(name, REGION, B)


@pytest.mark.parametrize(
    ("placement", "code"),
    [(Placement("org_a", "prj_a", "hp-z"), "NoSuchSlot"), (Placement("org_a", "prj_a"), "NoSlot")],
)
def test_a_missing_or_unknown_slot_is_a_permanent_error(
    adapter: HetznerProvider, placement: Placement, code: str
) -> None:
    for call in (
        lambda: adapter.create_bucket("some-bucket", REGION, placement),
        lambda: adapter.bucket_exists("some-bucket", REGION, placement),
        lambda: adapter.read_usage("some-bucket", REGION, placement),
        lambda: adapter.issue_credential(REGION, "lb-crd_x", [Grant("some-bucket")], placement),
    ):
        with pytest.raises(ProviderError) as failure:
            call()
        assert failure.value.code == code
        assert not failure.value.transient
        assert "slot" in failure.value.message


def test_an_unknown_region_is_refused(adapter: HetznerProvider) -> None:
    with pytest.raises(ProviderError) as failure:
        adapter.create_bucket("some-bucket", "ash", A)
    assert failure.value.code == "NoSuchRegion"
    with pytest.raises(ProviderError) as failure:
        adapter.issue_credential("ash", "lb-crd_x", [Grant("some-bucket")], A)
    assert failure.value.code == "NoSuchRegion"


def test_check_uses_the_first_slot_and_needs_one(
    adapter: HetznerProvider, slot_keys: tuple[SlotKey, SlotKey], seaweedfs: EmbeddedSeaweedFS
) -> None:
    adapter.check()
    with pytest.raises(ProviderError) as failure:
        HetznerProvider("hz", ()).check()
    assert failure.value.code == "NoSlot"
    assert not failure.value.transient
    broken_first = SlotKey("hp-a", slot_keys[0].access_key_id, "not-the-secret")
    with pytest.raises(ProviderError) as failure:
        HetznerProvider("hz", (broken_first, slot_keys[1]), everywhere(seaweedfs.endpoint)).check()
    assert not failure.value.transient


def test_an_unreachable_endpoint_is_a_transient_error(slot_keys: tuple[SlotKey, SlotKey]) -> None:
    adapter = HetznerProvider(
        "hz", slot_keys, everywhere(f"http://127.0.0.1:{free_ports(1)[0]}"), connect_timeout=1
    )
    with pytest.raises(ProviderError) as failure:
        adapter.create_bucket("some-bucket", REGION, A)
    assert failure.value.transient
    assert failure.value.code == "Unreachable"


# --- through the API: tenants mapped onto slots ---------------------------------------------------

PROVIDER = "hz"


def add_hetzner(
    runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, slots: tuple[SlotKey, ...], **settings: Any
) -> None:
    """Register family ``hetzner`` with every region pointed at SeaweedFS and ``slots`` linked."""
    with runtime.db.session() as session:
        provider = runtime.providers.ensure_provider(
            session,
            name=PROVIDER,
            family="hetzner",
            display_name="Hetzner (SeaweedFS)",
            regions=[RegionSpec(region.code, region.name, seaweedfs.endpoint) for region in REGIONS],
            access_key_id="",  # the family has no service key: every call uses a slot's key
            secret_access_key="",
        )
        provider.settings = {
            **settings,
            "endpoints": everywhere(seaweedfs.endpoint),
            "slots": [
                {
                    "name": slot.name,
                    "access_key_id": slot.access_key_id,
                    "secret_id": runtime.secrets.put(session, "provider-slot", slot.secret_access_key),
                }
                for slot in slots
            ],
        }
        provider.updated_at = utcnow()
        session.commit()


def buckets_path(org: str, project: str) -> str:
    return f"/v3/organizations/{org}/projects/{project}/buckets"


def create_bucket(client: TestClient, org: str, project: str) -> Any:
    return client.post(
        buckets_path(org, project),
        json={"name": unique_bucket_name("hz"), "provider": PROVIDER, "region": REGION},
    )


def ready(client: TestClient, org: str, project: str) -> dict[str, Any]:
    created = create_bucket(client, org, project)
    assert created.status_code == 202, created.text
    path = f"{buckets_path(org, project)}/{created.json()['id']}"

    def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(path).json()
        return body if body["status"] in ("ready", "failed") else None

    bucket: dict[str, Any] = wait_for(settled)
    assert bucket["status"] == "ready", bucket
    return bucket


def slot_of(runtime: Runtime, bucket_id: str) -> str | None:
    with runtime.db.session() as session:
        row = session.get(Bucket, bucket_id)
        assert row is not None
        return row.slot


def assignments(runtime: Runtime) -> list[tuple[str, str, str | None]]:
    with runtime.db.session() as session:
        provider_id = session.scalar(select(Provider.id).where(Provider.name == PROVIDER))
        return [
            (row.slot, row.organization_id, row.project_id)
            for row in session.scalars(
                select(ProviderSlot)
                .where(ProviderSlot.provider_id == provider_id)
                .order_by(ProviderSlot.slot)
            )
        ]


def test_each_project_gets_a_slot_of_its_own_and_a_third_is_refused(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, slot_keys: tuple[SlotKey, SlotKey]
) -> None:
    add_hetzner(runtime, seaweedfs, slot_keys)
    first = ready(client, "demo", "default")
    again = ready(client, "demo", "default")
    assert client.post("/v3/organizations/demo/projects", json={"slug": "proj-2"}).status_code == 201
    second = ready(client, "demo", "proj-2")
    assert slot_of(runtime, first["id"]) == slot_of(runtime, again["id"]) == "hp-a"
    assert slot_of(runtime, second["id"]) == "hp-b"

    assert client.post("/v3/organizations/demo/projects", json={"slug": "proj-3"}).status_code == 201
    refused = create_bucket(client, "demo", "proj-3")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert [error["field"] for error in problem["errors"]] == ["provider"]
    assert "no key slot left" in problem["errors"][0]["detail"]
    with runtime.db.session() as session:
        provider_id = session.scalar(select(Provider.id).where(Provider.name == PROVIDER))
        assert len(session.scalars(select(Bucket).where(Bucket.provider_id == provider_id)).all()) == 3

    # every slot belongs to one tenant alone, and every tenant's credential is its own slot's key
    taken = assignments(runtime)
    with runtime.db.session() as session:
        owners = {
            bucket.slot: (bucket.organization_id, bucket.project_id)
            for bucket in session.scalars(select(Bucket).where(Bucket.id.in_([first["id"], second["id"]])))
        }
    assert taken == [("hp-a", *owners["hp-a"]), ("hp-b", *owners["hp-b"])]
    assert owners["hp-a"] != owners["hp-b"]
    keys = {slot.name: slot for slot in slot_keys}
    for bucket, project, slot in (
        (first, "default", "hp-a"),
        (again, "default", "hp-a"),
        (second, "proj-2", "hp-b"),
    ):
        issued = client.post(f"{buckets_path('demo', project)}/{bucket['id']}/credentials")
        assert issued.status_code == 201, issued.text
        credential = issued.json()
        assert (credential["access_key_id"], credential["secret_access_key"]) == (
            keys[slot].access_key_id,
            keys[slot].secret_access_key,
        )
        assert credential["endpoint"] == seaweedfs.endpoint
        s3 = s3_client_for(credential)
        s3.put_object(Bucket=bucket["name"], Key="k", Body=b"v")
        with runtime.db.session() as session:
            row = session.get(Credential, credential["id"])
            assert row is not None
            assert row.provider_user == f"slot:{slot}"

        # revoking marks the record; the shared key stays until the operator rotates it
        revoked = client.delete(
            f"{buckets_path('demo', project)}/{bucket['id']}/credentials/{credential['id']}"
        )
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "revoked"
        assert s3.get_object(Bucket=bucket["name"], Key="k")["Body"].read() == b"v"

    # deleting a tenant's buckets does not free its slot: its key may still be in its hands
    for bucket, project in ((first, "default"), (again, "default"), (second, "proj-2")):
        response = client.delete(f"{buckets_path('demo', project)}/{bucket['id']}", params={"force": "true"})
        assert response.status_code == 202, response.text
    for bucket, project in ((first, "default"), (again, "default"), (second, "proj-2")):
        path = f"{buckets_path('demo', project)}/{bucket['id']}"
        wait_for(lambda path=path: client.get(path).json()["status"] == "deleted")
    assert assignments(runtime) == taken
    assert create_bucket(client, "demo", "proj-3").status_code == 422


def test_organization_isolation_shares_one_slot_across_its_projects(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, slot_keys: tuple[SlotKey, SlotKey]
) -> None:
    add_hetzner(runtime, seaweedfs, slot_keys, isolation="organization")
    assert client.post("/v3/organizations/demo/projects", json={"slug": "proj-2"}).status_code == 201
    first = ready(client, "demo", "default")
    second = ready(client, "demo", "proj-2")
    assert slot_of(runtime, first["id"]) == slot_of(runtime, second["id"]) == "hp-a"

    assert client.post("/v3/organizations", json={"slug": "acme"}).status_code == 201
    assert client.post("/v3/organizations/acme/projects", json={"slug": "web"}).status_code == 201
    other = ready(client, "acme", "web")
    assert slot_of(runtime, other["id"]) == "hp-b"
    taken = assignments(runtime)
    assert [(slot, project) for slot, _, project in taken] == [("hp-a", None), ("hp-b", None)]
    assert taken[0][1] != taken[1][1]

    assert client.post("/v3/organizations", json={"slug": "third"}).status_code == 201
    assert client.post("/v3/organizations/third/projects", json={"slug": "web"}).status_code == 201
    refused = create_bucket(client, "third", "web")
    assert refused.status_code == 422
    assert "another organization" in refused.json()["errors"][0]["detail"]
    for bucket, org, project in (
        (first, "demo", "default"),
        (second, "demo", "proj-2"),
        (other, "acme", "web"),
    ):
        assert client.delete(f"{buckets_path(org, project)}/{bucket['id']}").status_code == 202
        path = f"{buckets_path(org, project)}/{bucket['id']}"
        wait_for(lambda path=path: client.get(path).json()["status"] == "deleted")


def test_a_provider_with_no_linked_key_refuses_buckets_at_once(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_hetzner(runtime, seaweedfs, ())
    refused = create_bucket(client, "demo", "default")
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["errors"]
    assert problem["field"] == "provider"
    assert "no linked keys" in problem["detail"]


def test_a_key_hetzner_cannot_hold_to_its_request_is_refused_naming_the_field(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS, slot_keys: tuple[SlotKey, SlotKey]
) -> None:
    """Never silently widened: read-only, write-only, a prefix, an expiry or a rotation is a 422."""
    add_hetzner(runtime, seaweedfs, slot_keys)
    bucket = ready(client, "demo", "default")
    path = f"{buckets_path('demo', 'default')}/{bucket['id']}/credentials"
    project_keys = "/v3/organizations/demo/projects/default/credentials"
    for body, field in [
        ({"access": "read-only"}, "access"),
        ({"access": "write-only"}, "access"),
        ({"prefix": "logs/"}, "prefix"),
        ({"expires_in_days": 7}, "expires_at"),
    ]:
        refused = client.post(path, json=body)
        assert refused.status_code == 422, (body, refused.text)
        problem = refused.json()["errors"][0]
        assert problem["field"] == field
        assert f"provider {PROVIDER}" in problem["detail"]
        assert "hetzner keys reach every bucket of a Hetzner project" in problem["detail"]
    many = client.post(project_keys, json={"grants": [{"bucket_id": bucket["id"], "access": "read-only"}]})
    assert many.status_code == 422
    assert many.json()["errors"][0]["field"] == "grants.0.access"
    with runtime.db.session() as session:
        assert session.scalars(select(Credential)).all() == []  # nothing recorded
    plain = client.post(path)
    assert plain.status_code == 201, plain.text
    rotated = client.post(f"{project_keys}/{plain.json()['id']}/rotate", json={"grace_seconds": 0})
    assert rotated.status_code == 422
    assert rotated.json()["errors"][0]["field"] == "credential"
