"""GET /metrics of the API over ASGI, with the worker running the tasks and the session's SeaweedFS:
every family is there, a request, a reconcile and a provider call move their figures, and no
tenant's name or id is in the answer.

Counters live in the test process's registry and grow over the whole session: the tests compare a
scrape before and after what they do. The resync runs every second here, so a periodic round's
last success shows within the test.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi.testclient import TestClient

from loopback.app import create_app
from loopback.kit.ports import free_ports
from loopback.runtime import Runtime
from tests.conftest import unique_bucket_name, wait_for
from tests.metrics.scraping import Scrape

EVERY_FAMILY = {
    "loopback_http_requests": "counter",
    "loopback_http_request_duration_seconds": "histogram",
    "loopback_reconcile_duration_seconds": "histogram",
    "loopback_provider_calls": "counter",
    "loopback_provider_call_duration_seconds": "histogram",
    "loopback_periodic_job_last_success_timestamp_seconds": "gauge",
    "loopback_tasks": "counter",
    "loopback_queue_depth_tasks": "gauge",
    "loopback_queue_oldest_task_age_seconds": "gauge",
    "loopback_buckets": "gauge",
    "loopback_keys": "gauge",
    "loopback_usage_sync_lag_seconds": "gauge",
    "loopback_metrics_source_up": "gauge",
}
BUCKETS_OF = "/v3/organizations/{org}/projects/{project}/buckets"


def scrape(client: TestClient) -> Scrape:
    """GET /metrics, parsed as Prometheus does."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return Scrape.parse(response.text)


def scrape_after_a_round(client: TestClient) -> Scrape:
    """A scrape once a periodic round has succeeded in this process (the resync, every second)."""

    def found() -> Scrape | None:
        answer = scrape(client)
        return answer if answer.value("loopback_periodic_job_last_success_timestamp_seconds") else None

    result: Scrape = wait_for(found)
    return result


def tenant(client: TestClient) -> dict[str, Any]:
    """A new organization and project with a ready bucket and a key: names no other test uses."""
    org, project = f"acme-{secrets.token_hex(4)}", f"web-{secrets.token_hex(4)}"
    organization = client.post("/v3/organizations", json={"slug": org, "name": f"Acme {org}"})
    assert organization.status_code == 201, organization.text
    created_project = client.post(f"/v3/organizations/{org}/projects", json={"slug": project})
    assert created_project.status_code == 201, created_project.text
    buckets = BUCKETS_OF.format(org=org, project=project)
    name = unique_bucket_name("metrics")
    created = client.post(buckets, json={"name": name, "provider": "local", "region": "local-1"})
    assert created.status_code == 202, created.text
    bucket = wait_for_status_at(client, buckets, created.json()["id"])
    key = client.post(f"{buckets}/{bucket['id']}/credentials")
    assert key.status_code == 201, key.text
    return {
        "org": org,
        "project": project,
        "organization_id": organization.json()["id"],
        "project_id": created_project.json()["id"],
        "bucket": bucket,
        "key": key.json(),
    }


def wait_for_status_at(client: TestClient, buckets: str, bucket_id: str) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{buckets}/{bucket_id}").json()
        return body if body["status"] == "ready" else None

    found: dict[str, Any] = wait_for(ready)
    return found


def test_a_request_a_reconcile_and_a_provider_call_move_their_figures(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.db.session() as session:
        provider = {"provider": runtime.providers.get(session, "local").id, "family": "s3"}
    before = scrape(client)
    made = tenant(client)

    after = wait_for(
        lambda: (
            (found := scrape(client)).value("loopback_periodic_job_last_success_timestamp_seconds") and found
        )
    )
    assert {name: after.families.get(name) for name in EVERY_FAMILY} == EVERY_FAMILY
    route = "/v3/organizations/{org}/projects/{project}/buckets"
    posted = {"method": "POST", "route": route, "status": "202"}
    assert (
        after.value("loopback_http_requests_total", **posted)
        == before.value("loopback_http_requests_total", **posted) + 1
    )
    timed = {"method": "POST", "route": route}
    assert after.value("loopback_http_request_duration_seconds_count", **timed) > before.value(
        "loopback_http_request_duration_seconds_count", **timed
    )
    ready = {**provider, "outcome": "ready"}
    assert after.value("loopback_reconcile_duration_seconds_count", **ready) > before.value(
        "loopback_reconcile_duration_seconds_count", **ready
    )
    created = {**provider, "operation": "create_bucket", "outcome": "ok"}
    assert after.value("loopback_provider_calls_total", **created) > before.value(
        "loopback_provider_calls_total", **created
    )
    issued = {**provider, "operation": "issue_credential", "outcome": "ok"}
    assert after.value("loopback_provider_calls_total", **issued) > before.value(
        "loopback_provider_calls_total", **issued
    )
    assert after.value("loopback_buckets", **provider, status="ready") >= 1
    assert after.value("loopback_keys", state="active") >= 1
    assert after.value("loopback_metrics_source_up", source="database") == 1
    assert after.value("loopback_metrics_source_up", source="queue") == 1
    assert after.value("loopback_tasks_total", task="bucket.reconcile", outcome="ok") >= 1
    assert "/v3/organizations/{org}/projects/{project}/buckets/{bucket_id}" in after.label_values(
        "loopback_http_requests_total", "route"
    )

    # No tenant's names or ids: not the organization's, the project's, the bucket's or the key's.
    bucket, key = made["bucket"], made["key"]
    for told in (
        made["org"],
        made["project"],
        made["organization_id"],
        made["project_id"],
        bucket["name"],
        bucket["id"],
        key["id"],
        key["access_key_id"],
    ):
        assert told not in after.text, f"the scrape names {told}"


def test_an_unknown_path_is_one_label_whatever_it_was(client: TestClient) -> None:
    before = scrape(client)
    for made_up in ("/nothing-here", "/v3/organizations-of-acme-1", f"/x/{secrets.token_hex(8)}"):
        assert client.get(made_up).status_code == 404
    after = scrape(client)
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert (
        after.value("loopback_http_requests_total", **unmatched)
        == before.value("loopback_http_requests_total", **unmatched) + 3
    )
    assert not [
        route for route in after.label_values("loopback_http_requests_total", "route") if "acme" in route
    ]


def test_the_queue_backlog_is_what_waits(runtime: Runtime) -> None:
    """No worker runs: a task enqueued stays, and the scrape's depth counts it (with the webhook
    relay that every enqueue of this process wakes)."""
    with TestClient(create_app(runtime)) as client:
        before = scrape(client).value("loopback_queue_depth_tasks")
        runtime.automation.enqueue("usage.sync", "bkt_none")
        after = scrape(client)
    assert after.value("loopback_queue_depth_tasks") >= before + 1
    assert after.value("loopback_queue_oldest_task_age_seconds") > 0


def test_metrics_is_not_an_operation_of_the_api_document(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_provider_that_does_not_answer_counts_as_transient_calls(
    client: TestClient, runtime: Runtime
) -> None:
    """The round trip (``POST .../test``) through a provider whose endpoint nobody listens on."""
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"
    created = client.post(
        "/v3/operator/providers",
        json={
            "name": "closed",
            "family": "s3",
            "access_key_id": "CLOSEDKEY1",
            "secret_access_key": "closed-secret-value",
            "regions": [{"code": "c-1", "name": "Closed", "endpoint": closed}],
        },
    )
    assert created.status_code == 201, created.text
    with runtime.db.session() as session:
        provider = runtime.providers.get(session, "closed").id
    assert client.post("/v3/operator/providers/closed/test").json()["ok"] is False
    failed = {"provider": provider, "family": "s3", "operation": "create_bucket", "outcome": "transient"}
    after = scrape(client)
    assert after.value("loopback_provider_calls_total", **failed) == 1
    assert after.value("loopback_provider_call_duration_seconds_count", provider=provider) >= 1
    assert "closed-secret-value" not in after.text
