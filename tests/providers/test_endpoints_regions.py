"""``GET /v3/regions``: every enabled region of every enabled provider, for a picker; and what a
disabled provider or region still does for the buckets it already has."""

from __future__ import annotations

from typing import Any

import boto3
from fastapi.testclient import TestClient

from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from tests.conftest import BUCKETS, unique_bucket_name, wait_for, wait_for_status

PROVIDERS = "/v3/operator/providers"
S3_CAPABILITIES = {
    "per_bucket_credentials": True,
    "native_usage_stats": False,
    "regions_fixed": False,
    "access_modes": ["read-write", "read-only", "write-only"],
    "prefixes": True,
    "max_buckets_per_key": 128,
    "revocable": True,
    "notes": [],
}


def add_provider(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS, name: str, display_name: str, regions: list[Any]
) -> None:
    response = client.post(
        PROVIDERS,
        json={
            "name": name,
            "family": "s3",
            "display_name": display_name,
            "access_key_id": seaweedfs.identity.access_key_id,
            "secret_access_key": seaweedfs.identity.secret_access_key,
            "regions": [
                {"code": code, "name": region_name, "endpoint": seaweedfs.endpoint, "country": country}
                for code, region_name, country in regions
            ],
        },
    )
    assert response.status_code == 201, response.text


def picker(client: TestClient, **params: str) -> list[dict[str, Any]]:
    response = client.get("/v3/regions", params=params)
    assert response.status_code == 200, response.text
    regions: list[dict[str, Any]] = response.json()["regions"]
    return regions


def test_a_region_says_where_it_is_and_what_its_provider_can_do(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS
) -> None:
    assert picker(client) == [
        {
            "provider": "local",
            "provider_name": "Local (embedded SeaweedFS)",
            "family": "s3",
            "code": "local-1",
            "name": "Local",
            "country": None,
            "endpoint": seaweedfs.endpoint,
            "capabilities": S3_CAPABILITIES,
        }
    ]


def test_regions_are_ordered_for_a_picker_and_filtered(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_provider(
        client,
        seaweedfs,
        "zeta",
        "Alpha storage",
        [("b-1", "Berlin", "DE"), ("p-1", "Paris", "FR"), ("x-1", "Anywhere", None), ("a-1", "Aachen", "DE")],
    )
    add_provider(client, seaweedfs, "aardvark", "beta storage", [("v-1", "Vienna", "AT")])

    ordered = [(r["provider"], r["country"], r["name"]) for r in picker(client)]
    assert ordered == [
        ("zeta", "DE", "Aachen"),
        ("zeta", "DE", "Berlin"),
        ("zeta", "FR", "Paris"),
        ("zeta", None, "Anywhere"),
        ("aardvark", "AT", "Vienna"),
        ("local", None, "Local"),
    ]
    assert [r["code"] for r in picker(client, provider="zeta")] == ["a-1", "b-1", "p-1", "x-1"]
    assert picker(client, provider="nobody") == []
    assert len(picker(client, family="s3")) == 6
    assert picker(client, family="hetzner") == []
    assert [r["provider"] for r in picker(client, family="s3", provider="aardvark")] == ["aardvark"]

    unknown = client.get("/v3/regions", params={"family": "swift"})
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["family"]


def test_a_disabled_provider_or_region_refuses_new_buckets_while_its_buckets_keep_working(
    client: TestClient, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_provider(client, seaweedfs, "second", "Second", [("sw-1", "One", None), ("sw-2", "Two", None)])
    name = unique_bucket_name("kept")
    created = client.post(BUCKETS, json={"name": name, "provider": "second", "region": "sw-1"})
    assert created.status_code == 202, created.text
    bucket = wait_for_status(client, created.json()["id"], "ready", "failed")
    assert bucket["status"] == "ready", bucket

    assert client.post(f"{PROVIDERS}/second/disable").status_code == 200
    assert [r["provider"] for r in picker(client)] == ["local"]
    refused = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "second", "region": "sw-1"}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "provider", "pointer": "#/provider", "detail": "provider 'second' takes no new buckets"}
    ]

    # The bucket that was there keeps working: a new key, its usage, and at last its deletion.
    issued = client.post(f"{BUCKETS}/{bucket['id']}/credentials")
    assert issued.status_code == 201, issued.text
    key = issued.json()
    s3 = boto3.client(
        "s3",
        endpoint_url=key["endpoint"],
        aws_access_key_id=key["access_key_id"],
        aws_secret_access_key=key["secret_access_key"],
        region_name=key["region"],
    )
    s3.put_object(Bucket=name, Key="still.txt", Body=b"still here")
    assert s3.get_object(Bucket=name, Key="still.txt")["Body"].read() == b"still here"

    assert client.post(f"{BUCKETS}/{bucket['id']}/usage/refresh").status_code == 202

    def synced() -> Any:
        usage = client.get(f"{BUCKETS}/{bucket['id']}").json()["usage"]
        return usage if usage["object_count"] == 1 else None

    assert wait_for(synced)["bytes"] == len(b"still here")

    client.post(f"{PROVIDERS}/second/enable")
    client.patch(f"{PROVIDERS}/second", json={"regions": [{"code": "sw-1", "enabled": False}]})
    assert [(r["provider"], r["code"]) for r in picker(client, provider="second")] == [("second", "sw-2")]
    refused = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "second", "region": "sw-1"}
    )
    assert [e["field"] for e in refused.json()["errors"]] == ["region"]
    client.post(f"{PROVIDERS}/second/disable")

    s3.delete_object(Bucket=name, Key="still.txt")
    deleted = client.delete(f"{BUCKETS}/{bucket['id']}")
    assert deleted.status_code == 202, deleted.text
    assert wait_for_status(client, bucket["id"], "deleted", "failed")["status"] == "deleted"
