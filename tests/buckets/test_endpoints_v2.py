"""Bucket routes of API v2 over ASGI: the flat shape, numbered pages, hidden superseded rows, deprecation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.buckets.models import Bucket
from loopback.runtime import Runtime
from tests import factories
from tests.conftest import BUCKETS, create_ready_bucket, unique_bucket_name, wait_for

V2 = "/v2/organizations/demo/projects/default/buckets"
V2_KEYS = {
    "id": str,
    "name": str,
    "region": str,
    "provider": str,
    "status": str,
    "endpoint": (str, type(None)),
    "size_bytes": int,
    "object_count": int,
    "created_at": str,
}
DEPRECATION = "@1793491200"  # 2026-11-01T00:00:00Z
SUNSET = "Thu, 01 Jul 2027 00:00:00 GMT"
SUCCESSOR = '</v3/organizations/demo/projects/default/buckets>; rel="successor-version"'


def create(client: TestClient, name: str, **overrides: str) -> Any:
    return client.post(V2, json={"name": name, "provider": "local", "region": "local-1", **overrides})


GONE = ("endpoint", "size_bytes", "object_count")  # null once the bucket is deleted


def assert_v2_shape(bucket: dict[str, Any]) -> None:
    assert set(bucket) == set(V2_KEYS), bucket
    for key, kind in V2_KEYS.items():
        if bucket["status"] == "deleted" and key in GONE:
            assert bucket[key] is None, (key, bucket[key])
            continue
        assert isinstance(bucket[key], kind), (key, bucket[key])
        if kind is int:
            assert not isinstance(bucket[key], bool), (key, bucket[key])
    datetime.fromisoformat(bucket["created_at"])


def assert_deprecated(response: Any, successor: str = SUCCESSOR) -> None:
    assert response.headers.get("deprecation") == DEPRECATION, (response.status_code, response.headers)
    assert response.headers.get("sunset") == SUNSET, (response.status_code, response.headers)
    assert response.headers.get("link") == successor, (response.status_code, response.headers)


def wait_for_v2_status(client: TestClient, bucket_id: str, *statuses: str) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{V2}/{bucket_id}").json()
        return body if body["status"] in statuses else None

    result: dict[str, Any] = wait_for(current)
    return result


def bucket_rows(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Bucket)) or 0)


def test_create_answers_202_in_the_flat_shape_and_the_bucket_becomes_ready(client: TestClient) -> None:
    name = unique_bucket_name("v2")
    response = create(client, name)
    assert response.status_code == 202, response.text
    assert_deprecated(response)
    body = response.json()
    assert_v2_shape(body)
    assert (body["name"], body["provider"], body["region"], body["status"]) == (
        name,
        "local",
        "local-1",
        "pending",
    )
    assert (body["size_bytes"], body["object_count"]) == (0, 0)
    assert response.headers["location"] == f"{V2}/{body['id']}"

    ready = wait_for_v2_status(client, body["id"], "ready", "failed")
    assert ready["status"] == "ready", ready
    assert_v2_shape(ready)
    assert isinstance(ready["endpoint"], str)
    assert (ready["size_bytes"], ready["object_count"]) == (0, 0)  # no usage sync yet: 0, not null
    v3 = client.get(f"{BUCKETS}/{body['id']}").json()
    assert v3["usage"]["bytes"] is None
    assert (ready["endpoint"], ready["created_at"]) == (v3["endpoint"], v3["created_at"])


def test_usage_shows_as_size_bytes_and_object_count(client: TestClient, operator_s3: Any) -> None:
    bucket = create_ready_bucket(client, "v2u")
    operator_s3.put_object(Bucket=bucket["name"], Key="one", Body=b"x" * 1000)
    operator_s3.put_object(Bucket=bucket["name"], Key="two", Body=b"y" * 24)
    assert client.post(f"{BUCKETS}/{bucket['id']}/usage/refresh").status_code == 202
    wait_for(lambda: client.get(f"{BUCKETS}/{bucket['id']}").json()["usage"]["last_synced_at"])
    shown = client.get(f"{V2}/{bucket['id']}").json()
    assert_v2_shape(shown)
    assert (shown["size_bytes"], shown["object_count"]) == (1024, 2)


def test_list_pages_with_page_and_per_page_and_counts_the_total(client: TestClient) -> None:
    created = sorted(create(client, unique_bucket_name("v2p")).json()["id"] for _ in range(5))
    pages = []
    for number in (1, 2, 3, 4):
        response = client.get(V2, params={"page": number, "per_page": 2})
        assert response.status_code == 200, response.text
        assert_deprecated(response)
        body = response.json()
        assert set(body) == {"buckets", "page", "per_page", "total"}
        assert (body["page"], body["per_page"], body["total"]) == (number, 2, 5)
        for bucket in body["buckets"]:
            assert_v2_shape(bucket)
        pages.append([b["id"] for b in body["buckets"]])
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert [i for p in pages for i in p] == created  # oldest first, each once

    default = client.get(V2).json()
    assert (default["page"], default["per_page"], default["total"]) == (1, 20, 5)
    assert [b["id"] for b in default["buckets"]] == created


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"page": 1_000_001}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
    ],
)
def test_bad_paging_is_a_422_naming_the_parameter(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get(V2, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert_deprecated(response)
    assert client.get(V2, params={"per_page": 100}).status_code == 200


def test_the_list_hides_superseded_rows_which_stay_readable_by_id(client: TestClient) -> None:
    old = create_ready_bucket(client, "v2s")
    replaced = client.post(f"{BUCKETS}/{old['id']}/replace", json={"name": unique_bucket_name("v2r")})
    assert replaced.status_code == 202, replaced.text
    new_id = replaced.json()["id"]
    assert client.get(f"{BUCKETS}/{old['id']}").json()["superseded_by"] == new_id

    v2 = client.get(V2).json()
    assert [b["id"] for b in v2["buckets"]] == [new_id]
    assert v2["total"] == 1
    v3 = client.get(BUCKETS).json()
    assert {b["id"] for b in v3["buckets"]} == {old["id"], new_id}

    shown = client.get(f"{V2}/{old['id']}")
    assert shown.status_code == 200
    assert_v2_shape(shown.json())
    assert shown.json()["id"] == old["id"]


def test_delete_answers_202_in_the_flat_shape_and_the_deleted_row_stays_listed(
    client: TestClient, operator_s3: Any
) -> None:
    bucket = create_ready_bucket(client, "v2d")
    response = client.delete(f"{V2}/{bucket['id']}")
    assert response.status_code == 202, response.text
    assert_deprecated(response)
    assert_v2_shape(response.json())
    assert response.json()["id"] == bucket["id"]
    assert wait_for_v2_status(client, bucket["id"], "deleted", "failed")["status"] == "deleted"
    assert bucket["name"] not in [b["Name"] for b in operator_s3.list_buckets()["Buckets"]]
    listed = client.get(V2).json()["buckets"]
    assert [b["status"] for b in listed] == ["deleted"]
    assert_v2_shape(listed[0])  # no endpoint and no usage: it holds nothing any more
    assert (listed[0]["endpoint"], listed[0]["size_bytes"]) == (None, None)
    # v2 has no force or policy: a parameter it does not know changes nothing
    again = client.delete(f"{V2}/{bucket['id']}", params={"force": "true"})
    assert (again.status_code, again.json()["status"]) == (202, "deleted")


def test_deleting_a_bucket_that_holds_objects_is_a_409_with_the_headers(
    client: TestClient, operator_s3: Any
) -> None:
    bucket = create_ready_bucket(client, "v2f")
    operator_s3.put_object(Bucket=bucket["name"], Key="a", Body=b"x")
    refused = client.delete(f"{V2}/{bucket['id']}")
    assert refused.status_code == 409
    assert "holds 1 object" in refused.json()["detail"]
    assert_deprecated(refused)
    assert client.get(f"{V2}/{bucket['id']}").json()["status"] == "ready"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Bad_Name", "provider": "local", "region": "local-1"}, "name"),
        ({"name": "ab", "provider": "local", "region": "local-1"}, "name"),
        ({"name": "fine-name", "provider": "nowhere", "region": "local-1"}, "provider"),
        ({"name": "fine-name", "provider": "local", "region": "mars-1"}, "region"),
        ({"provider": "local", "region": "local-1"}, "name"),
        (
            {"name": "fine-name", "provider": "local", "region": "local-1", "deletion_policy": "retain"},
            "deletion_policy",
        ),
    ],
)
def test_bad_input_is_a_422_problem_naming_the_field_and_records_nothing(
    client: TestClient, runtime: Runtime, payload: dict[str, str], field: str
) -> None:
    before = bucket_rows(runtime)
    response = client.post(V2, json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:loopback:problem:validation"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert_deprecated(response)
    assert bucket_rows(runtime) == before


def test_every_answer_carries_the_deprecation_headers(client: TestClient) -> None:
    missing = client.get(f"{V2}/bkt_doesnotexist")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:loopback:problem:not-found"
    assert_deprecated(missing)
    assert_deprecated(client.get(V2))
    no_token = client.get(V2, headers={"Authorization": ""})
    assert no_token.status_code == 401
    assert no_token.headers["www-authenticate"].startswith("Bearer")
    assert_deprecated(no_token)
    not_allowed = client.put(f"{V2}/bkt_whatever")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["content-type"] == "application/problem+json"
    assert_deprecated(not_allowed)
    # the successor names the project asked about; v3 answers carry none of this
    other = client.get("/v2/organizations/acme/projects/web/buckets")
    assert_deprecated(other, '</v3/organizations/acme/projects/web/buckets>; rel="successor-version"')
    v3 = client.get(BUCKETS)
    assert not {"deprecation", "sunset", "link"} & set(v3.headers)


def test_another_organization_answers_404(client: TestClient, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        other = factories.organization(session, "acme")
        outsider = factories.member_token(session, other, "owner")
    own = create(client, unique_bucket_name("v2o")).json()
    headers = {"Authorization": f"Bearer {outsider}"}
    for path in (V2, f"{V2}/{own['id']}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert_deprecated(response)
    outsider_create = client.post(
        V2, headers=headers, json={"name": "x-y-z", "provider": "local", "region": "local-1"}
    )
    assert outsider_create.status_code == 404
    assert client.delete(f"{V2}/{own['id']}", headers=headers).status_code == 404
    # ... and the operator, owner of demo, cannot see into acme
    theirs = client.get("/v2/organizations/acme/projects/default/buckets")
    assert theirs.status_code == 404
    assert_deprecated(theirs, '</v3/organizations/acme/projects/default/buckets>; rel="successor-version"')
    assert client.get("/v2/organizations/demo/projects/missing/buckets").status_code == 404


def test_the_openapi_document_marks_v2_deprecated_under_its_own_tag(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    v2 = {
        (method, path): operation
        for path, item in paths.items()
        if path.startswith("/v2/")
        for method, operation in item.items()
    }
    assert set(v2) == {
        ("get", "/v2/organizations/{org}/projects/{project}/buckets"),
        ("post", "/v2/organizations/{org}/projects/{project}/buckets"),
        ("get", "/v2/organizations/{org}/projects/{project}/buckets/{bucket_id}"),
        ("delete", "/v2/organizations/{org}/projects/{project}/buckets/{bucket_id}"),
    }
    for route, operation in v2.items():
        assert operation["tags"] == ["v2 buckets (deprecated)"], route
        assert operation.get("deprecated") is True, route
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert {"Deprecation", "Sunset", "Link"} <= set(operation["responses"][success]["headers"]), route
    assert not any(
        op.get("deprecated")
        for path, item in paths.items()
        if path.startswith("/v3/")
        for op in item.values()
    )
    parameters = {
        p["name"] for p in v2[("get", "/v2/organizations/{org}/projects/{project}/buckets")]["parameters"]
    }
    assert {"page", "per_page"} <= parameters
    deleting = v2[("delete", "/v2/organizations/{org}/projects/{project}/buckets/{bucket_id}")]
    assert {p["name"] for p in deleting["parameters"]} == {"org", "project", "bucket_id"}
