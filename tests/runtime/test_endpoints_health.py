"""Health and readiness need no token; readiness names what fails."""

from __future__ import annotations

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from loopback.app import create_app
from loopback.kit.secrets import load_keys
from loopback.runtime import Runtime
from tests.conftest import BUCKETS, OPERATOR_HEADERS, unique_bucket_name


def test_healthz_and_readyz_answer_without_a_token(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "queue": "ok", "secrets": "ok"}


def test_readyz_is_503_naming_the_failing_part(runtime: Runtime) -> None:
    def storage_down() -> None:
        raise ConnectionError("connection refused")

    with TestClient(create_app(runtime, {"storage": storage_down})) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["storage"].startswith("failing: ConnectionError")


def test_a_replica_with_another_secret_key_is_not_ready(runtime: Runtime) -> None:
    """The issue's second replica: same database, its own key. It must not say ready and then
    answer ``500 secret-key`` on every create; with the installation's key among its keys it is."""
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as first:
        assert first.get("/readyz").status_code == 200  # the first start seals the canary

        [installation_key] = load_keys(runtime.settings)
        for keys, ready in (
            (Fernet.generate_key().decode(), False),
            (f"{Fernet.generate_key().decode()},{installation_key.decode()}", True),  # a rotation
        ):
            settings = runtime.settings.model_copy(update={"secret_key": SecretStr(keys)})
            replica = Runtime.from_settings(settings)
            try:
                with TestClient(create_app(replica), headers=OPERATOR_HEADERS) as second:
                    answer = second.get("/readyz")
                    if ready:
                        assert answer.status_code == 200, answer.text
                        name = unique_bucket_name("rep")
                        created = second.post(
                            BUCKETS, json={"name": name, "provider": "local", "region": "local-1"}
                        )
                        assert created.status_code == 202, created.text
                    else:
                        assert answer.status_code == 503, answer.text
                        body = answer.json()
                        assert body["status"] == "not ready"
                        assert body["checks"]["database"] == "ok"
                        assert body["checks"]["secrets"].startswith(
                            "failing: SecretKeyError: the installation's secrets are sealed with another key"
                        )
                        assert "LOOPBACK_SECRET_KEY" in body["checks"]["secrets"]
                        assert keys not in answer.text
            finally:
                replica.close()
        assert first.get("/readyz").status_code == 200  # the installation's own replica stays ready


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
