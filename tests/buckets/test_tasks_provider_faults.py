"""A provider that fails or times out leaves the bucket recorded, retried and honest about its state.

The API, the worker and the database are real; the provider is the scripted ``fake`` family.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.credentials.models import Credential
from loopback.providers.base import TENANT_REASONS, ProviderError
from loopback.runtime import Runtime
from tests.conftest import BUCKETS, wait_for
from tests.providers import fake_family
from tests.providers.fake_family import FakeProvider


@pytest.fixture
def fake(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    with fake_family.registered(runtime, monkeypatch) as provider:
        yield provider


def create(client: TestClient, provider: FakeProvider) -> dict[str, Any]:
    response = client.post(
        BUCKETS, json={"name": f"f-{secrets.token_hex(5)}", "provider": provider.name, "region": "fake-1"}
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def settled(client: TestClient, bucket_id: str, *statuses: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        lambda: (b := client.get(f"{BUCKETS}/{bucket_id}").json())["status"] in statuses and b, timeout=30
    )
    return found


def kinds(client: TestClient, bucket_id: str) -> list[str]:
    return [e["kind"] for e in client.get(f"{BUCKETS}/{bucket_id}/events").json()["events"]]


def test_transient_failures_are_retried_until_the_bucket_is_ready(
    client: TestClient, fake: FakeProvider
) -> None:
    fake.fail(
        "create_bucket", ProviderError("provider unreachable", transient=True, code="Unreachable"), times=2
    )
    bucket = create(client, fake)
    ready = settled(client, bucket["id"], "ready", "failed")
    assert ready["status"] == "ready"
    assert ready["attempts"] == 0
    assert fake.calls["create_bucket"] == 3
    assert kinds(client, bucket["id"]).count("retry") == 2


def test_a_permanent_refusal_ends_in_failed_with_what_the_tenant_may_read(
    client: TestClient, fake: FakeProvider
) -> None:
    taken = ProviderError(
        "create bucket: BucketAlreadyExists: taken", transient=False, code="BucketAlreadyExists"
    )
    fake.fail("create_bucket", taken)
    bucket = create(client, fake)
    failed = settled(client, bucket["id"], "failed", "ready")
    assert failed["status"] == "failed"
    assert failed["status_reason"] == f"create failed: {TENANT_REASONS['BucketAlreadyExists']}"
    assert "BucketAlreadyExists" not in failed["status_reason"]  # the code is the operator's
    assert fake.calls["create_bucket"] == 1  # not retried
    assert client.get(f"{BUCKETS}/{bucket['id']}").status_code == 200  # recorded, honest


def test_a_key_the_provider_cannot_issue_now_records_nothing(
    client: TestClient, runtime: Runtime, fake: FakeProvider
) -> None:
    bucket = create(client, fake)
    settled(client, bucket["id"], "ready")
    fake.fail("issue_credential", ProviderError("issue key: timed out", transient=True, code="Unreachable"))
    refused = client.post(f"{BUCKETS}/{bucket['id']}/credentials")
    assert refused.status_code == 503, refused.text
    assert "nothing was recorded" in refused.json()["detail"]
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Credential)) == 0
    issued = client.post(f"{BUCKETS}/{bucket['id']}/credentials")
    assert issued.status_code == 201
    assert fake.calls["issue_credential"] == 2
    assert len(fake.keys) == 1  # the refused attempt left no identity behind
