"""Credential routes: issue once with the secret, list without it, revoke for good."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient
from sqlalchemy import select

from loopback.credentials.models import Credential
from loopback.kit.secrets import Secret
from loopback.runtime import Runtime
from tests.buckets.fakes import RecordingQueue, buckets_with, client_over
from tests.conftest import BUCKETS, create_ready_bucket, s3_client_for, unique_bucket_name, wait_for


@pytest.fixture
def ready_bucket(client: TestClient) -> dict[str, Any]:
    return create_ready_bucket(client)


@pytest.mark.smoke
def test_the_secret_is_in_the_issuing_response_only(
    client: TestClient, runtime: Runtime, ready_bucket: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = f"{BUCKETS}/{ready_bucket['id']}/credentials"
    response = client.post(path)
    assert response.status_code == 201
    issued = response.json()
    secret = issued["secret_access_key"]
    assert response.headers["location"] == f"{path}/{issued['id']}"
    assert (issued["bucket"], issued["endpoint"], issued["region"]) == (
        ready_bucket["name"],
        ready_bucket["endpoint"],
        "local-1",
    )
    for later in (client.get(path), client.get(f"{BUCKETS}/{ready_bucket['id']}"), client.get(BUCKETS)):
        assert secret not in later.text
    assert "secret_access_key" not in client.get(path).json()["credentials"][0]
    assert secret not in caplog.text
    with runtime.db.session() as session:
        row = session.scalars(select(Credential).where(Credential.id == issued["id"])).one()
        assert row.secret_id is not None
        stored = session.get(Secret, row.secret_id)
        assert stored is not None
        assert secret.encode() not in stored.ciphertext
        assert runtime.secrets.get(session, row.secret_id) == secret
    s3_client_for(issued).put_object(Bucket=ready_bucket["name"], Key="k", Body=b"v")


@pytest.mark.smoke
def test_a_revoked_key_stops_working_and_its_secret_is_dropped(
    client: TestClient, runtime: Runtime, ready_bucket: dict[str, Any]
) -> None:
    path = f"{BUCKETS}/{ready_bucket['id']}/credentials"
    issued = client.post(path).json()
    s3 = s3_client_for(issued)
    s3.list_objects_v2(Bucket=ready_bucket["name"])
    revoked = client.delete(f"{path}/{issued['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert client.delete(f"{path}/{issued['id']}").json()["status"] == "revoked"
    events = client.get(f"{BUCKETS}/{ready_bucket['id']}/events").json()["events"]
    ended = [e for e in events if e["kind"] == "credential-revoked"]  # once: revoking again is no change
    assert [e["reason"] for e in ended] == [f"{issued['access_key_id']} ({issued['name']})"]

    def refused() -> bool:
        try:
            s3.list_objects_v2(Bucket=ready_bucket["name"])
        except ClientError:
            return True
        return False

    wait_for(refused, timeout=10)
    with runtime.db.session() as session:
        row = session.get(Credential, issued["id"])
        assert row is not None
        assert row.secret_id is None
    assert client.delete(f"{path}/crd_unknown").status_code == 404


def test_no_credentials_for_a_bucket_that_is_not_ready(runtime: Runtime) -> None:
    queue = RecordingQueue()  # nothing reconciles it: the bucket stays pending
    with client_over(runtime, buckets_with(runtime, queue)) as client:
        pending = client.post(
            BUCKETS, json={"name": unique_bucket_name(), "provider": "local", "region": "local-1"}
        )
        response = client.post(f"{BUCKETS}/{pending.json()['id']}/credentials")
    assert response.status_code == 409
    assert "ready" in response.json()["detail"]
