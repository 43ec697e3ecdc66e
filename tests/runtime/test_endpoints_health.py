"""Health and readiness need no token; readiness names what fails."""

from __future__ import annotations

from fastapi.testclient import TestClient

from loopback.app import create_app
from loopback.runtime import Runtime


def test_healthz_and_readyz_answer_without_a_token(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "queue": "ok"}


def test_readyz_is_503_naming_the_failing_part(runtime: Runtime) -> None:
    def storage_down() -> None:
        raise ConnectionError("connection refused")

    with TestClient(create_app(runtime, {"storage": storage_down})) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"].startswith("failing: ConnectionError")


def test_openapi_describes_every_v3_route(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) >= {
        "/v3/regions",
        "/v3/organizations/{org}/projects/{project}/buckets",
        "/v3/organizations/{org}/projects/{project}/buckets/{bucket_id}",
        "/v3/organizations/{org}/projects/{project}/buckets/{bucket_id}/credentials",
        "/v3/organizations/{org}/projects/{project}/buckets/{bucket_id}/credentials/{credential_id}",
        "/v3/organizations/{org}/projects/{project}/buckets/{bucket_id}/usage/refresh",
    }


def test_unknown_routes_are_problems(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        response = client.get("/v3/nothing-here")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
