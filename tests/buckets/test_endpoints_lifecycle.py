"""Every state a bucket can be in, through API v3: validate, replace, adopt, delete, drift, events."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.buckets.models import Bucket
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from tests.buckets.test_tasks import add_provider, events
from tests.conftest import BUCKETS, create_ready_bucket, unique_bucket_name, wait_for_status

BUCKETS_PATH = "/v3/organizations/{org}/projects/{project}/buckets"


def bucket_rows(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Bucket)) or 0)


def names_at_provider(operator_s3: Any) -> list[str]:
    return [b["Name"] for b in operator_s3.list_buckets()["Buckets"]]


def test_validate_answers_every_problem_at_once_and_records_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    before = bucket_rows(runtime)
    bad = client.post(
        f"{BUCKETS}/validate",
        json={"name": "Bad_Name", "provider": "nowhere", "region": "x", "deletion_policy": "keep"},
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    fields = sorted(e["field"] for e in bad.json()["errors"])
    assert fields.count("name") >= 1
    assert "provider" in fields
    assert "deletion_policy" in fields
    good = client.post(
        f"{BUCKETS}/validate", json={"name": unique_bucket_name(), "provider": "local", "region": "local-1"}
    )
    assert good.status_code == 200, good.text
    assert good.json()["valid"] is True
    assert good.json()["endpoint"].startswith("http://127.0.0.1:")
    assert bucket_rows(runtime) == before


def test_validate_answers_a_taken_name_as_create_does(client: TestClient) -> None:
    """Both 409 with the same problem type and detail, so a dry run predicts the create."""
    taken = create_ready_bucket(client)
    body = {"name": taken["name"], "provider": "local", "region": "local-1"}
    answer = client.post(f"{BUCKETS}/validate", json=body)
    created = client.post(BUCKETS, json=body)
    assert (answer.status_code, created.status_code) == (409, 409), (answer.text, created.text)
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == created.json()["type"] == "urn:loopback:problem:conflict"
    assert answer.json()["detail"] == created.json()["detail"]
    assert "already exists" in answer.json()["detail"]
    document = client.get("/openapi.json").json()["paths"]
    for path in (BUCKETS_PATH, BUCKETS_PATH + "/validate"):
        refused = document[path]["post"]["responses"]["409"]
        assert "holds this name" in refused["description"], (path, refused)


def test_a_failed_bucket_is_replaced_by_a_new_row_and_both_stay_readable(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    add_provider(runtime, seaweedfs, "refusing", seaweedfs.endpoint, secret="not-the-secret")
    name = unique_bucket_name("replace")
    old_id = client.post(BUCKETS, json={"name": name, "provider": "refusing", "region": "r1"}).json()["id"]
    assert wait_for_status(client, old_id, "failed")["status"] == "failed"

    replaced = client.post(f"{BUCKETS}/{old_id}/replace", json={"provider": "local", "region": "local-1"})
    assert replaced.status_code == 202, replaced.text
    new = replaced.json()
    assert new["supersedes"] == old_id
    assert new["name"] == name
    assert replaced.headers["location"].endswith(f"/buckets/{new['id']}")
    assert wait_for_status(client, new["id"], "ready")["status"] == "ready"

    old = client.get(f"{BUCKETS}/{old_id}").json()
    assert old["superseded_by"] == new["id"]
    assert old["status"] == "failed"
    assert "superseded" in events(runtime, old_id)

    every = {b["id"] for b in client.get(BUCKETS).json()["buckets"]}
    assert {old_id, new["id"]} <= every
    only_old = {b["id"] for b in client.get(BUCKETS, params={"superseded": "true"}).json()["buckets"]}
    assert old_id in only_old
    assert new["id"] not in only_old
    current = {b["id"] for b in client.get(BUCKETS, params={"superseded": "false"}).json()["buckets"]}
    assert new["id"] in current
    assert old_id not in current

    again = client.post(f"{BUCKETS}/{old_id}/replace", json={})
    assert again.status_code == 409
    assert new["id"] in again.json()["detail"]


def test_a_ready_bucket_is_replaced_only_somewhere_else(client: TestClient) -> None:
    ready = create_ready_bucket(client)
    same = client.post(f"{BUCKETS}/{ready['id']}/replace", json={})
    assert same.status_code == 409
    assert "another provider or another name" in same.json()["detail"]
    moved = client.post(f"{BUCKETS}/{ready['id']}/replace", json={"name": unique_bucket_name("moved")})
    assert moved.status_code == 202, moved.text
    assert client.get(f"{BUCKETS}/{ready['id']}").json()["status"] == "ready"  # untouched, still billed


def test_list_filters_by_status_provider_and_region(client: TestClient) -> None:
    ready = create_ready_bucket(client)
    by_status = client.get(BUCKETS, params={"status": "ready", "provider": "local", "region": "local-1"})
    assert ready["id"] in {b["id"] for b in by_status.json()["buckets"]}
    assert client.get(BUCKETS, params={"status": "failed"}).json()["buckets"] == []
    assert client.get(BUCKETS, params={"provider": "elsewhere"}).json()["buckets"] == []
    bad = client.get(BUCKETS, params={"status": "sleeping"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"


def test_a_bucket_with_objects_refuses_to_delete_and_says_how_many(
    client: TestClient, operator_s3: Any
) -> None:
    bucket = create_ready_bucket(client)
    for key in ("a", "b", "c"):
        operator_s3.put_object(Bucket=bucket["name"], Key=key, Body=b"x")
    refused = client.delete(f"{BUCKETS}/{bucket['id']}")
    assert refused.status_code == 409
    assert "holds 3 objects" in refused.json()["detail"]
    assert "force=true" in refused.json()["detail"]
    assert client.get(f"{BUCKETS}/{bucket['id']}").json()["status"] == "ready"


def test_force_empties_the_bucket_then_deletes_it(client: TestClient, operator_s3: Any) -> None:
    bucket = create_ready_bucket(client)
    for key in range(1205):  # more than one page of DeleteObjects
        operator_s3.put_object(Bucket=bucket["name"], Key=f"k/{key}", Body=b"")
    answer = client.delete(f"{BUCKETS}/{bucket['id']}", params={"force": "true"})
    assert answer.status_code == 202, answer.text
    assert wait_for_status(client, bucket["id"], "deleted", "failed", timeout=90)["status"] == "deleted"
    assert bucket["name"] not in names_at_provider(operator_s3)


def test_retain_releases_the_record_and_leaves_the_bucket(
    client: TestClient, operator_s3: Any, runtime: Runtime
) -> None:
    name = unique_bucket_name("keep")
    created = client.post(
        BUCKETS, json={"name": name, "provider": "local", "region": "local-1", "deletion_policy": "retain"}
    )
    assert created.json()["deletion_policy"] == "retain"
    wait_for_status(client, created.json()["id"], "ready")
    operator_s3.put_object(Bucket=name, Key="kept", Body=b"still here")
    credential = client.post(f"{BUCKETS}/{created.json()['id']}/credentials").json()
    answer = client.delete(f"{BUCKETS}/{created.json()['id']}")  # objects do not block a release
    assert answer.status_code == 202, answer.text
    deleted = wait_for_status(client, created.json()["id"], "deleted")
    assert deleted["status"] == "deleted"
    assert operator_s3.get_object(Bucket=name, Key="kept")["Body"].read() == b"still here"
    assert "released" in events(runtime, created.json()["id"])
    listed = client.get(f"{BUCKETS}/{created.json()['id']}/credentials").json()["credentials"]
    assert [c["status"] for c in listed if c["id"] == credential["id"]] == ["revoked"]
    # deleted rows stay for history and are never live: the name is free again
    assert client.get(BUCKETS, params={"status": "deleted"}).json()["buckets"]
    again = client.post(f"{BUCKETS}/adopt", json={"name": name, "provider": "local", "region": "local-1"})
    assert again.status_code == 201, again.text


def test_a_bucket_removed_outside_is_marked_lost_and_never_recreated(
    client: TestClient, runtime: Runtime, operator_s3: Any
) -> None:
    bucket = create_ready_bucket(client)
    operator_s3.delete_bucket(Bucket=bucket["name"])
    assert runtime.buckets.check_drift() >= 1
    lost = client.get(f"{BUCKETS}/{bucket['id']}").json()
    assert lost["status"] == "lost"
    assert "removed outside" in lost["status_reason"]
    runtime.buckets.resync()
    runtime.buckets.reconcile(bucket["id"])
    assert client.get(f"{BUCKETS}/{bucket['id']}").json()["status"] == "lost"
    assert bucket["name"] not in names_at_provider(operator_s3)
    kinds = [e["kind"] for e in client.get(f"{BUCKETS}/{bucket['id']}/events").json()["events"]]
    assert kinds[-1] == "lost"
    # replacing it provisions it again, as a new row
    new = client.post(f"{BUCKETS}/{bucket['id']}/replace", json={}).json()
    assert wait_for_status(client, new["id"], "ready")["status"] == "ready"
    assert bucket["name"] in names_at_provider(operator_s3)


def test_adopt_brings_an_existing_bucket_under_the_project(client: TestClient, operator_s3: Any) -> None:
    name = unique_bucket_name("adopt")
    missing = client.post(f"{BUCKETS}/adopt", json={"name": name, "provider": "local", "region": "local-1"})
    assert missing.status_code == 422
    assert "has no bucket named" in missing.json()["errors"][0]["detail"]
    operator_s3.create_bucket(Bucket=name)
    operator_s3.put_object(Bucket=name, Key="old", Body=b"data")
    adopted = client.post(f"{BUCKETS}/adopt", json={"name": name, "provider": "local", "region": "local-1"})
    assert adopted.status_code == 201, adopted.text
    body = adopted.json()
    assert body["status"] == "ready"
    assert body["adopted"] is True
    credential = client.post(f"{BUCKETS}/{body['id']}/credentials")
    assert credential.status_code == 201
    twice = client.post(f"{BUCKETS}/adopt", json={"name": name, "provider": "local", "region": "local-1"})
    assert twice.status_code == 422
    assert "already exists" in twice.json()["errors"][0]["detail"]


def test_events_list_every_transition_with_reason_and_time(client: TestClient) -> None:
    bucket = create_ready_bucket(client)
    client.delete(f"{BUCKETS}/{bucket['id']}")
    wait_for_status(client, bucket["id"], "deleted")
    listed = client.get(f"{BUCKETS}/{bucket['id']}/events").json()["events"]
    assert [e["kind"] for e in listed] == ["created", "provisioning", "ready", "delete-requested", "deleted"]
    assert listed[0]["reason"] == "requested in local/local-1"
    assert all(e["created_at"] for e in listed)
    assert client.get(f"{BUCKETS}/bkt_nothing/events").status_code == 404


def test_a_transient_failure_shows_attempts_and_the_next_attempt(
    client: TestClient, runtime: Runtime, seaweedfs: EmbeddedSeaweedFS
) -> None:
    from loopback.kit.ports import free_ports
    from tests.conftest import wait_for

    add_provider(runtime, seaweedfs, "down", f"http://127.0.0.1:{free_ports(1)[0]}")
    bucket_id = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "down", "region": "r1"}
    ).json()["id"]
    shown = wait_for(lambda: (b := client.get(f"{BUCKETS}/{bucket_id}").json())["attempts"] >= 1 and b)
    assert shown["next_attempt_at"] is not None
    assert shown["status"] == "provisioning"
    assert "retrying in" in shown["status_reason"]
