"""Keys over time against the real SeaweedFS: expiry, rotation with a grace period, and the
rewrite of keys issued under the old ``s3:*`` policy."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from loopback.credentials.models import Credential
from loopback.kit.clock import utcnow
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.tenancy.models import AuditEvent
from tests.conftest import create_ready_bucket, operator_client, s3_client_for, wait_for
from tests.credentials.test_endpoints_access_modes import KEYS, PROJECT, issue, outcome

PUBLIC_READ = "public-read"


def works(issued: dict[str, Any]) -> bool:
    try:
        s3_client_for(issued).put_object(Bucket=issued["bucket"], Key="probe", Body=b"p")
    except ClientError:
        return False
    return True


def error_code(issued: dict[str, Any]) -> str | None:
    try:
        s3_client_for(issued).list_objects_v2(Bucket=issued["bucket"])
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def events(client: TestClient, bucket_id: str) -> list[str]:
    return [e["kind"] for e in client.get(f"{PROJECT}/buckets/{bucket_id}/events").json()["events"]]


def audit_actions(runtime: Runtime, target: str) -> list[str]:
    with runtime.db.session() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.target == target)))


def run_maintenance(runtime: Runtime) -> None:
    """Through the queue, as the periodic job runs it; then wait for the worker to finish it."""
    before = runtime.automation.pending()
    runtime.automation.enqueue("credential.maintain")
    wait_for(lambda: runtime.automation.pending() <= before, timeout=10)


def test_an_expired_key_is_revoked_at_the_provider(client: TestClient, runtime: Runtime) -> None:
    bucket = create_ready_bucket(client, "expire")
    soon = issue(client, [{"bucket_id": bucket["id"]}], expires_in_days=3)
    assert soon["status"] == "expiring"
    later = issue(
        client, [{"bucket_id": bucket["id"]}], expires_at=(utcnow() + timedelta(days=30)).isoformat()
    )
    assert later["status"] == "active"
    with runtime.db.session() as session:  # the clock moves on: this key's time is up
        session.execute(
            update(Credential)
            .where(Credential.id == soon["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert client.get(f"{KEYS}/{soon['id']}").json()["status"] == "expired"  # honest before the job too
    assert works(soon)
    runtime.credentials.maintain()
    wait_for(lambda: error_code(soon) == "InvalidAccessKeyId", timeout=10)
    assert works(later)
    listed = {c["id"]: c for c in client.get(KEYS).json()["credentials"]}
    assert listed[soon["id"]]["status"] == "expired"
    assert listed[soon["id"]]["revoked_at"] is not None
    assert listed[later["id"]]["status"] == "active"
    assert "credential-expired" in events(client, bucket["id"])
    assert "credential.expire" in audit_actions(runtime, soon["id"])
    runtime.credentials.maintain()  # a second round changes nothing and writes nothing twice
    assert events(client, bucket["id"]).count("credential-expired") == 1


def test_a_key_entering_its_last_week_is_noted_once(client: TestClient, runtime: Runtime) -> None:
    bucket = create_ready_bucket(client, "week")
    issued = issue(client, [{"bucket_id": bucket["id"]}], expires_in_days=2)
    run_maintenance(runtime)
    wait_for(lambda: "credential-expiring" in events(client, bucket["id"]), timeout=10)
    runtime.credentials.maintain()  # again: the key is noted once
    assert events(client, bucket["id"]).count("credential-expiring") == 1
    assert audit_actions(runtime, issued["id"]).count("credential.expiring") == 1


def test_rotation_keeps_the_old_key_for_its_grace_then_revokes_it(
    client: TestClient, runtime: Runtime
) -> None:
    bucket = create_ready_bucket(client, "rotate")
    old = issue(client, [{"bucket_id": bucket["id"], "access": "read-only"}], name="backup reader")
    rotated = client.post(f"{KEYS}/{old['id']}/rotate", json={"grace_seconds": 8})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert rotated.headers["location"].endswith(f"/credentials/{new['id']}")
    assert new["access_key_id"] != old["access_key_id"]
    assert new["secret_access_key"] != old["secret_access_key"]
    assert (new["name"], new["grants"], new["rotated_from"]) == ("backup reader", old["grants"], old["id"])
    listed = {c["id"]: c for c in client.get(KEYS).json()["credentials"]}
    assert listed[old["id"]]["status"] == "rotating"
    assert listed[old["id"]]["rotated_to"] == new["id"]
    assert listed[old["id"]]["revoke_at"] is not None
    assert "secret_access_key" not in listed[old["id"]]
    assert error_code(old) is None  # the old key works on during the grace period ...
    wait_for(lambda: error_code(new) is None, timeout=6)  # ... while the new one becomes known
    assert error_code(old) is None  # both work
    assert outcome(lambda: s3_client_for(new).put_object(Bucket=bucket["name"], Key="x", Body=b"x")) == "deny"
    # the delayed task the rotation enqueued (or the periodic round) revokes the old key
    wait_for(lambda: error_code(old) == "InvalidAccessKeyId", timeout=30)
    assert error_code(new) is None
    # the provider forgets the key a moment before the round's record of it commits
    wait_for(lambda: client.get(f"{KEYS}/{old['id']}").json()["status"] == "revoked", timeout=10)
    assert client.post(f"{KEYS}/{old['id']}/rotate").status_code == 409
    assert "credential.rotate" in audit_actions(runtime, old["id"])
    assert "credential.rotation-ended" in audit_actions(runtime, old["id"])
    assert {"credential-rotated", "credential-revoked"} <= set(events(client, bucket["id"]))


def test_rotation_with_no_grace_revokes_the_old_key_at_once(client: TestClient) -> None:
    bucket = create_ready_bucket(client, "now")
    old = issue(client, [{"bucket_id": bucket["id"]}])
    new = client.post(f"{KEYS}/{old['id']}/rotate", json={"grace_seconds": 0}).json()
    assert client.get(f"{KEYS}/{old['id']}").json()["status"] == "revoked"
    wait_for(lambda: error_code(old) == "InvalidAccessKeyId", timeout=10)
    wait_for(lambda: works(new), timeout=10)
    assert client.post(f"{KEYS}/{new['id']}/rotate", json={"grace_seconds": -1}).status_code == 422


def test_keys_issued_under_the_old_policy_are_narrowed_on_start(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    """A key from before this change held ``s3:*`` on its bucket; every start rewrites it."""
    bucket = create_ready_bucket(client, "legacy")
    issued = issue(client, [{"bucket_id": bucket["id"]}])
    iam = operator_client(seaweedfs, "iam")
    with runtime.db.session() as session:
        row = session.get(Credential, issued["id"])
        assert row is not None
        user = row.provider_user
        row.policy_version = 1
        session.commit()
    resources = [f"arn:aws:s3:::{bucket['name']}", f"arn:aws:s3:::{bucket['name']}/*"]
    iam.put_user_policy(  # the policy every key had before: everything on its bucket
        UserName=user,
        PolicyName="loopback-bucket-access",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": resources}],
            }
        ),
    )
    s3 = s3_client_for(issued)
    wait_for(  # SeaweedFS's IAM takes the old policy in moments; longer on a loaded machine
        lambda: outcome(lambda: s3.put_bucket_acl(Bucket=bucket["name"], ACL=PUBLIC_READ)) == "allow", 30
    )
    run_maintenance(runtime)

    def narrowed() -> bool:
        with runtime.db.session() as session:
            return session.scalar(select(Credential.policy_version).where(Credential.id == issued["id"])) == 2

    wait_for(narrowed, timeout=10)
    wait_for(lambda: outcome(lambda: s3.put_bucket_acl(Bucket=bucket["name"], ACL=PUBLIC_READ)) == "deny", 10)
    assert outcome(lambda: s3.delete_bucket(Bucket=bucket["name"])) == "deny"
    s3.put_object(Bucket=bucket["name"], Key="still-works", Body=b"w")
    assert "credential-narrowed" in events(client, bucket["id"])
    assert "credential.narrow" in audit_actions(runtime, issued["id"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_issuing_and_rotating_calls_answer_a_tools_file(client: TestClient) -> None:
    bucket = create_ready_bucket(client, "format")
    env = client.post(f"{PROJECT}/buckets/{bucket['id']}/credentials?format=env", json={"name": "ci"})
    assert env.status_code == 201, env.text
    assert env.headers["content-type"].startswith("text/plain")
    assert env.headers["cache-control"] == "no-store"
    assert "AWS_ENDPOINT_URL=" in env.text
    assert "AWS_SECRET_ACCESS_KEY=" in env.text
    key_id = env.headers["location"].rsplit("/", 1)[1]
    manifest = client.post(f"{KEYS}/{key_id}/rotate?format=kubernetes", json={"grace_seconds": 0})
    assert manifest.status_code == 201
    assert manifest.headers["content-type"].startswith("application/yaml")
    assert "COSI_S3_ACCESS_SECRET_KEY" in manifest.text
    bad = client.post(f"{PROJECT}/buckets/{bucket['id']}/credentials?format=xml")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "format"
