"""Bucket routes of API v3 over ASGI, with the worker and SeaweedFS running."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.buckets.models import Bucket, BucketEvent
from loopback.runtime import Runtime
from tests import factories
from tests.buckets.fakes import RecordingQueue, buckets_with, client_over
from tests.conftest import BUCKETS, create_ready_bucket, unique_bucket_name, wait_for, wait_for_status


def bucket_rows(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Bucket)) or 0)


def create(client: TestClient, name: str, **overrides: str) -> Any:
    return client.post(BUCKETS, json={"name": name, "provider": "local", "region": "local-1", **overrides})


@pytest.mark.smoke
def test_create_answers_202_pending_with_location_and_records_an_event(
    client: TestClient, runtime: Runtime
) -> None:
    name = unique_bucket_name()
    response = create(client, name)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["name"] == name
    assert (body["provider"], body["region"]) == ("local", "local-1")
    assert body["usage"] == {"object_count": None, "bytes": None, "last_synced_at": None}
    assert response.headers["location"] == f"{BUCKETS}/{body['id']}"
    ready = wait_for_status(client, body["id"], "ready", "failed")
    assert ready["status"] == "ready"
    with runtime.db.session() as session:
        kinds = session.scalars(
            select(BucketEvent.kind).where(BucketEvent.bucket_id == body["id"]).order_by(BucketEvent.id)
        ).all()
    assert kinds == ["created", "provisioning", "ready"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Bad_Name", "provider": "local", "region": "local-1"}, "name"),
        ({"name": "ab", "provider": "local", "region": "local-1"}, "name"),
        ({"name": "fine-name", "provider": "nowhere", "region": "local-1"}, "provider"),
        ({"name": "fine-name", "provider": "local", "region": "mars-1"}, "region"),
        ({"provider": "local", "region": "local-1"}, "name"),
        ({"name": "fine-name", "provider": "local", "region": "local-1", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_422_problem_naming_the_field_and_records_nothing(
    client: TestClient, runtime: Runtime, payload: dict[str, str], field: str
) -> None:
    before = bucket_rows(runtime)
    response = client.post(BUCKETS, json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["type"] == "urn:loopback:problem:validation"
    assert field in [error["field"] for error in problem["errors"]]
    assert all("/v3/" not in error["detail"] for error in problem["errors"])  # no one client's advice
    assert bucket_rows(runtime) == before


def test_a_second_live_bucket_of_the_same_name_is_a_409(client: TestClient, runtime: Runtime) -> None:
    name = unique_bucket_name()
    assert create(client, name).status_code == 202
    before = bucket_rows(runtime)
    again = create(client, name)
    assert again.status_code == 409
    assert name in again.json()["detail"]
    assert bucket_rows(runtime) == before


def test_no_token_or_a_bad_one_is_401(client: TestClient) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer lbk_nope"},
        {"Authorization": "Basic eDp5"},
    ):
        response = client.get(BUCKETS, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.smoke
def test_another_organization_answers_404_whether_or_not_it_exists(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.db.session() as session:
        other = factories.organization(session, "acme")
        outsider = factories.member_token(session, other, "owner")
    own = create(client, unique_bucket_name()).json()
    headers = {"Authorization": f"Bearer {outsider}"}
    for path in (
        BUCKETS,
        f"{BUCKETS}/{own['id']}",
        f"{BUCKETS}/{own['id']}/credentials",
        "/v3/organizations/no-such-org/projects/default/buckets",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
    assert (
        client.post(
            BUCKETS, headers=headers, json={"name": "x-y-z", "provider": "local", "region": "local-1"}
        ).status_code
        == 404
    )
    assert client.delete(f"{BUCKETS}/{own['id']}", headers=headers).status_code == 404
    # ... and the operator cannot see into acme either
    assert client.get("/v3/organizations/acme/projects/default/buckets").status_code == 404
    assert client.get("/v3/organizations/demo/projects/missing/buckets").status_code == 404


def test_a_bucket_id_of_another_project_is_404(client: TestClient, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        other = factories.organization(session, "beta")
        outsider = factories.member_token(session, other, "owner")
    theirs = client.post(
        "/v3/organizations/beta/projects/default/buckets",
        headers={"Authorization": f"Bearer {outsider}"},
        json={"name": unique_bucket_name(), "provider": "local", "region": "local-1"},
    )
    assert theirs.status_code == 202
    assert client.get(f"{BUCKETS}/{theirs.json()['id']}").status_code == 404


def test_a_viewer_may_read_but_not_create(client: TestClient, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        from loopback.tenancy.models import Organization

        demo = session.scalars(select(Organization).where(Organization.slug == "demo")).one()
        viewer = factories.member_token(session, demo, "viewer")
    headers = {"Authorization": f"Bearer {viewer}"}
    assert client.get(BUCKETS, headers=headers).status_code == 200
    refused = client.post(
        BUCKETS, headers=headers, json={"name": "v-v-v", "provider": "local", "region": "local-1"}
    )
    assert refused.status_code == 403
    assert refused.json()["permission"] == "buckets.create"


def test_list_pages_with_a_cursor(client: TestClient) -> None:
    created = [create(client, unique_bucket_name("page")).json()["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(BUCKETS, params=params).json()
        assert len(page["buckets"]) <= 2
        seen += [b["id"] for b in page["buckets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert set(created) <= set(seen)
    assert client.get(BUCKETS, params={"limit": 0}).status_code == 422


def test_unknown_bucket_is_404_problem(client: TestClient) -> None:
    response = client.get(f"{BUCKETS}/bkt_doesnotexist")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:loopback:problem:not-found"


@pytest.mark.smoke
def test_delete_of_an_empty_bucket_removes_it_remotely_and_keeps_the_row(
    client: TestClient, operator_s3: Any
) -> None:
    bucket = create_ready_bucket(client)
    name, bucket_id = bucket["name"], bucket["id"]
    assert client.delete(f"{BUCKETS}/{bucket_id}").status_code == 202
    assert wait_for_status(client, bucket_id, "deleted", "failed")["status"] == "deleted"
    assert name not in [b["Name"] for b in operator_s3.list_buckets()["Buckets"]]
    assert client.get(f"{BUCKETS}/{bucket_id}").json()["status"] == "deleted"
    again = client.delete(f"{BUCKETS}/{bucket_id}")
    assert again.status_code == 202
    assert again.json()["status"] == "deleted"
    # the name is free again once the old bucket is deleted
    assert create(client, name).status_code == 202


def test_deleting_a_bucket_that_holds_objects_is_refused_with_its_count(
    client: TestClient, operator_s3: Any
) -> None:
    bucket = create_ready_bucket(client)
    name, bucket_id = bucket["name"], bucket["id"]
    for key in ("a", "b", "c"):
        operator_s3.put_object(Bucket=name, Key=key, Body=b"x")
    refused = client.delete(f"{BUCKETS}/{bucket_id}")
    assert refused.status_code == 409
    assert "holds 3 objects" in refused.json()["detail"]
    assert client.get(f"{BUCKETS}/{bucket_id}").json()["status"] == "ready"


@pytest.mark.smoke
def test_usage_refresh_counts_objects_and_bytes(client: TestClient, operator_s3: Any) -> None:
    bucket = create_ready_bucket(client)
    name, bucket_id = bucket["name"], bucket["id"]
    operator_s3.put_object(Bucket=name, Key="one", Body=b"x" * 1000)
    operator_s3.put_object(Bucket=name, Key="dir/two", Body=b"y" * 24)
    assert client.post(f"{BUCKETS}/{bucket_id}/usage/refresh").status_code == 202
    synced = wait_for(
        lambda: (b := client.get(f"{BUCKETS}/{bucket_id}").json())["usage"]["last_synced_at"] and b
    )
    usage = synced["usage"]
    assert (usage["object_count"], usage["bytes"]) == (2, 1024)


def test_a_deleted_bucket_shows_no_usage_and_no_endpoint(client: TestClient, operator_s3: Any) -> None:
    """Its last count would read as data it still holds: the record and the list show null (v3 and v2)."""
    bucket = create_ready_bucket(client)
    name, bucket_id = bucket["name"], bucket["id"]
    operator_s3.put_object(Bucket=name, Key="one", Body=b"x" * 10)
    assert client.post(f"{BUCKETS}/{bucket_id}/usage/refresh").status_code == 202
    synced = wait_for(
        lambda: (b := client.get(f"{BUCKETS}/{bucket_id}").json())["usage"]["last_synced_at"] and b
    )
    assert (synced["usage"]["object_count"], synced["endpoint"] is not None) == (1, True)

    assert client.delete(f"{BUCKETS}/{bucket_id}", params={"force": "true"}).status_code == 202
    deleted = wait_for_status(client, bucket_id, "deleted", "failed")
    assert deleted["status"] == "deleted"
    listed = next(b for b in client.get(BUCKETS).json()["buckets"] if b["id"] == bucket_id)
    for shown in (deleted, listed):
        assert (shown["usage"], shown["endpoint"]) == (None, None)
    v2 = "/v2/organizations/demo/projects/default/buckets"
    listed_v2 = next(b for b in client.get(v2).json()["buckets"] if b["id"] == bucket_id)
    for shown in (client.get(f"{v2}/{bucket_id}").json(), listed_v2):
        assert (shown["size_bytes"], shown["object_count"], shown["endpoint"]) == (None, None, None)


def test_usage_refresh_of_a_bucket_not_ready_is_409(runtime: Runtime) -> None:
    queue = RecordingQueue()  # runs nothing: the new bucket stays pending
    with client_over(runtime, buckets_with(runtime, queue)) as client:
        bucket_id = create(client, unique_bucket_name()).json()["id"]
        response = client.post(f"{BUCKETS}/{bucket_id}/usage/refresh")
    assert response.status_code == 409
    assert queue.tasks == ["bucket.reconcile"]  # and no usage.sync
