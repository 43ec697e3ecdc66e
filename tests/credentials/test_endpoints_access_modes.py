"""Keys do what they say and no more, proven against the real SeaweedFS: modes, prefixes, buckets.

Every key is issued through the API; every operation is a real boto3 call with that key.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from tests.conftest import create_ready_bucket, s3_client_for, wait_for

PROJECT = "/v3/organizations/demo/projects/default"
KEYS = f"{PROJECT}/credentials"
ALLOW = "allow"
DENY = "deny"


def issue(client: TestClient, grants: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = client.post(KEYS, json={"grants": grants, **extra})
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    wait_until_known(issued)
    return issued


def wait_until_known(issued: dict[str, Any]) -> None:
    """SeaweedFS learns a new key within moments; until then it answers InvalidAccessKeyId."""
    s3 = s3_client_for(issued)

    def known() -> bool:
        try:
            s3.head_object(Bucket=issued["bucket"], Key="never-there")
        except ClientError as error:
            return error.response["Error"]["Code"] not in {"InvalidAccessKeyId"}
        return True

    wait_for(known, timeout=10)


def outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        assert code in {"AccessDenied", "403", "Forbidden"}, f"not a denial: {code}"
        return DENY
    return ALLOW


def operations(s3: Any, bucket: str, operator_s3: Any) -> dict[str, Callable[[], Any]]:
    """One call per action a key could try on its bucket; objects are made by the operator first."""
    operator_s3.put_object(Bucket=bucket, Key="seed", Body=b"seed")
    spare = f"spare-{secrets.token_hex(4)}"
    operator_s3.create_bucket(Bucket=spare)  # an empty bucket a key might try to delete

    def multipart() -> None:
        upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
        part = s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=1, Body=b"p" * 100)
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="multi",
            UploadId=upload,
            MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
        )

    public = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )
    return {
        "get object": lambda: s3.get_object(Bucket=bucket, Key="seed")["Body"].read(),
        "head object": lambda: s3.head_object(Bucket=bucket, Key="seed"),
        "put object": lambda: s3.put_object(Bucket=bucket, Key="written", Body=b"w"),
        "list objects": lambda: s3.list_objects_v2(Bucket=bucket),
        "delete object": lambda: s3.delete_object(Bucket=bucket, Key="seed"),
        "multipart upload": multipart,
        "delete bucket": lambda: s3.delete_bucket(Bucket=spare),
        "put bucket policy": lambda: s3.put_bucket_policy(Bucket=bucket, Policy=public),
        "delete bucket policy": lambda: s3.delete_bucket_policy(Bucket=bucket),
        "put bucket acl": lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
        "put object acl": lambda: s3.put_object_acl(Bucket=bucket, Key="seed", ACL="public-read"),
        "create bucket": lambda: s3.create_bucket(Bucket=f"made-{secrets.token_hex(4)}"),
        "put versioning": lambda: s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
        ),
        "put lifecycle": lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}
                ]
            },
        ),
        "put cors": lambda: s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]},
        ),
        "put replication": lambda: s3.put_bucket_replication(
            Bucket=bucket,
            ReplicationConfiguration={
                "Role": "arn:aws:iam::1:role/r",
                "Rules": [
                    {"Status": "Enabled", "Prefix": "", "Destination": {"Bucket": f"arn:aws:s3:::{spare}"}}
                ],
            },
        ),
        "put object lock": lambda: s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        ),
    }


NEVER = {
    "delete bucket": DENY,
    "put bucket policy": DENY,
    "delete bucket policy": DENY,
    "put bucket acl": DENY,
    "put object acl": DENY,
    "create bucket": DENY,
    "put versioning": DENY,
    "put lifecycle": DENY,
    "put cors": DENY,
    "put replication": DENY,
    "put object lock": DENY,
}
EXPECTED: dict[str, dict[str, str]] = {
    "read-write": {
        "get object": ALLOW,
        "head object": ALLOW,
        "put object": ALLOW,
        "list objects": ALLOW,
        "multipart upload": ALLOW,
        **NEVER,
        "delete object": ALLOW,  # last: the seed object is gone after it
    },
    "read-only": {
        "get object": ALLOW,
        "head object": ALLOW,
        "put object": DENY,
        "list objects": ALLOW,
        "multipart upload": DENY,
        **NEVER,
        "delete object": DENY,
    },
    "write-only": {
        "get object": DENY,
        "head object": DENY,
        "put object": ALLOW,
        "list objects": DENY,
        "multipart upload": ALLOW,
        **NEVER,
        "delete object": DENY,
    },
}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the matrix is SeaweedFS's, not the DB's
@pytest.mark.parametrize("mode", list(EXPECTED))
def test_each_mode_allows_its_object_operations_and_never_touches_the_bucket(
    client: TestClient, operator_s3: Any, mode: str
) -> None:
    bucket = create_ready_bucket(client, "mode")
    issued = issue(client, [{"bucket_id": bucket["id"], "access": mode}])
    assert issued["grants"] == [
        {"bucket_id": bucket["id"], "bucket": bucket["name"], "access": mode, "prefix": None}
    ]
    calls = operations(s3_client_for(issued), bucket["name"], operator_s3)
    observed = {action: outcome(calls[action]) for action in EXPECTED[mode]}
    assert observed == EXPECTED[mode]
    # what a denied policy change would have done: nobody anonymous reads the bucket
    with pytest.raises(ClientError):
        operator_s3.get_bucket_policy(Bucket=bucket["name"])


def test_one_key_over_three_buckets_reaches_those_three_only(client: TestClient, operator_s3: Any) -> None:
    granted = [create_ready_bucket(client, "multi") for _ in range(3)]
    other = create_ready_bucket(client, "other")
    operator_s3.put_object(Bucket=other["name"], Key="private", Body=b"no")
    issued = issue(
        client,
        [
            {"bucket_id": granted[0]["id"]},
            {"bucket_id": granted[1]["id"], "access": "read-only"},
            {"bucket_id": granted[2]["id"], "access": "write-only"},
        ],
        name="three buckets",
    )
    assert issued["buckets"] == [b["name"] for b in granted]
    assert [g["access"] for g in issued["grants"]] == ["read-write", "read-only", "write-only"]
    s3 = s3_client_for(issued)
    s3.put_object(Bucket=granted[0]["name"], Key="a", Body=b"a")
    s3.list_objects_v2(Bucket=granted[1]["name"])
    s3.put_object(Bucket=granted[2]["name"], Key="c", Body=b"c")
    assert outcome(lambda: s3.put_object(Bucket=granted[1]["name"], Key="b", Body=b"b")) == DENY
    assert outcome(lambda: s3.list_objects_v2(Bucket=granted[2]["name"])) == DENY
    assert outcome(lambda: s3.list_objects_v2(Bucket=other["name"])) == DENY
    assert outcome(lambda: s3.get_object(Bucket=other["name"], Key="private")) == DENY
    assert outcome(lambda: s3.put_object(Bucket=other["name"], Key="x", Body=b"x")) == DENY
    listed = client.get(KEYS).json()["credentials"]
    assert [c["grants"] for c in listed if c["id"] == issued["id"]] == [issued["grants"]]
    for bucket in granted:  # each bucket's list shows the key; the other bucket's does not
        ids = [
            c["id"] for c in client.get(f"{PROJECT}/buckets/{bucket['id']}/credentials").json()["credentials"]
        ]
        assert issued["id"] in ids
    assert issued["id"] not in [
        c["id"] for c in client.get(f"{PROJECT}/buckets/{other['id']}/credentials").json()["credentials"]
    ]


def test_a_prefixed_key_stays_under_its_prefix(client: TestClient, operator_s3: Any) -> None:
    bucket = create_ready_bucket(client, "prefix")
    name = bucket["name"]
    operator_s3.put_object(Bucket=name, Key="backups/old", Body=b"1")
    operator_s3.put_object(Bucket=name, Key="secrets/plan", Body=b"2")
    issued = issue(client, [{"bucket_id": bucket["id"], "prefix": "backups/"}])
    s3 = s3_client_for(issued)
    s3.put_object(Bucket=name, Key="backups/new", Body=b"n")
    assert s3.get_object(Bucket=name, Key="backups/old")["Body"].read() == b"1"
    listed = s3.list_objects_v2(Bucket=name, Prefix="backups/")
    assert sorted(o["Key"] for o in listed["Contents"]) == ["backups/new", "backups/old"]
    assert outcome(lambda: s3.get_object(Bucket=name, Key="secrets/plan")) == DENY
    assert outcome(lambda: s3.put_object(Bucket=name, Key="secrets/new", Body=b"x")) == DENY
    assert outcome(lambda: s3.delete_object(Bucket=name, Key="secrets/plan")) == DENY
    assert outcome(lambda: s3.list_objects_v2(Bucket=name)) == DENY  # the whole bucket's listing
    assert outcome(lambda: s3.list_objects_v2(Bucket=name, Prefix="secrets/")) == DENY


def test_patch_changes_grants_and_name_but_not_the_secret(client: TestClient, operator_s3: Any) -> None:
    bucket = create_ready_bucket(client, "patch")
    issued = issue(client, [{"bucket_id": bucket["id"]}], name="deploys")
    s3 = s3_client_for(issued)
    s3.put_object(Bucket=bucket["name"], Key="before", Body=b"b")
    changed = client.patch(
        f"{KEYS}/{issued['id']}",
        json={"name": "read deploys", "grants": [{"bucket_id": bucket["id"], "access": "read-only"}]},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["name"], body["access_key_id"], body["grants"][0]["access"]) == (
        "read deploys",
        issued["access_key_id"],
        "read-only",
    )
    assert "secret_access_key" not in body
    wait_for(
        lambda: outcome(lambda: s3.put_object(Bucket=bucket["name"], Key="after", Body=b"a")) == DENY, 10
    )
    assert s3.get_object(Bucket=bucket["name"], Key="before")["Body"].read() == b"b"  # same secret works


def test_deleting_one_bucket_leaves_a_key_its_other_buckets(client: TestClient) -> None:
    kept, dropped = create_ready_bucket(client, "kept"), create_ready_bucket(client, "dropped")
    issued = issue(client, [{"bucket_id": kept["id"]}, {"bucket_id": dropped["id"]}])
    assert client.delete(f"{PROJECT}/buckets/{dropped['id']}").status_code == 202
    wait_for(lambda: client.get(f"{PROJECT}/buckets/{dropped['id']}").json()["status"] == "deleted")
    key = client.get(f"{KEYS}/{issued['id']}").json()
    assert key["status"] == "active"
    assert [g["bucket_id"] for g in key["grants"]] == [kept["id"]]
    s3_client_for(issued).put_object(Bucket=kept["name"], Key="still", Body=b"s")
    alone = issue(client, [{"bucket_id": kept["id"]}])
    assert client.delete(f"{PROJECT}/buckets/{kept['id']}?force=true").status_code == 202
    wait_for(lambda: client.get(f"{PROJECT}/buckets/{kept['id']}").json()["status"] == "deleted")
    for key_id in (issued["id"], alone["id"]):
        assert client.get(f"{KEYS}/{key_id}").json()["status"] == "revoked"


def test_bad_requests_name_the_field_and_record_nothing(client: TestClient) -> None:
    bucket = create_ready_bucket(client, "bad")
    before = client.get(KEYS).json()["credentials"]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"grants": []}, {"grants"}),
        ({"grants": [{"bucket_id": bucket["id"]}] * 129}, {"grants"}),
        ({"grants": [{"bucket_id": bucket["id"]}, {"bucket_id": bucket["id"]}]}, {"grants.1.bucket_id"}),
        ({"grants": [{"bucket_id": "bkt_nothere"}]}, {"grants.0.bucket_id"}),
        ({"grants": [{"bucket_id": bucket["id"], "access": "admin"}]}, {"grants.0.access"}),
        ({"grants": [{"bucket_id": bucket["id"], "prefix": "logs/*"}]}, {"grants.0.prefix"}),
        ({"grants": [{"bucket_id": bucket["id"], "prefix": "/abs"}]}, {"grants.0.prefix"}),
        ({"grants": [{"bucket_id": bucket["id"]}], "expires_at": "2001-01-01T00:00:00Z"}, {"expires_at"}),
        ({"grants": [{"bucket_id": bucket["id"]}], "expires_in_days": 0}, {"expires_in_days"}),
        ({"grants": [{"bucket_id": bucket["id"]}], "name": "x" * 64}, {"name"}),
    ]
    for body, fields in cases:
        response = client.post(KEYS, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in response.json()["errors"]} >= fields, (body, response.json())
    both = client.post(
        KEYS,
        json={
            "grants": [{"bucket_id": bucket["id"]}],
            "expires_at": "2099-01-01T00:00:00Z",
            "expires_in_days": 3,
        },
    )
    assert both.status_code == 422
    assert client.get(KEYS).json()["credentials"] == before


def test_another_projects_keys_answer_404_and_are_never_listed(client: TestClient) -> None:
    """The credential scope filter: a key of project default is not in project other's reach."""
    bucket = create_ready_bucket(client, "scope")
    issued = issue(client, [{"bucket_id": bucket["id"]}])
    assert client.post("/v3/organizations/demo/projects", json={"slug": "other"}).status_code == 201
    other = "/v3/organizations/demo/projects/other/credentials"
    assert client.get(other).json()["credentials"] == []
    for method, path, body in [
        ("get", f"{other}/{issued['id']}", None),
        ("patch", f"{other}/{issued['id']}", {"name": "stolen"}),
        ("post", f"{other}/{issued['id']}/rotate", {"grace_seconds": 0}),
        ("delete", f"{other}/{issued['id']}", None),
    ]:
        response = client.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    grant_elsewhere = client.post(other, json={"grants": [{"bucket_id": bucket["id"]}]})
    assert grant_elsewhere.status_code == 422
    assert grant_elsewhere.json()["errors"][0]["field"] == "grants.0.bucket_id"
    key = client.get(f"{KEYS}/{issued['id']}").json()
    assert (key["name"], key["status"]) == (issued["name"], "active")
