"""Failed authentications are limited per client address; expired tokens answer 401 at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from loopback.app import create_app
from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from loopback.tenancy import access
from loopback.tenancy.models import ApiToken
from tests.conftest import BUCKETS, OPERATOR_HEADERS

BAD = {"Authorization": "Bearer lbk_not-a-token"}


@pytest.fixture
def limited(runtime: Runtime) -> Iterator[TestClient]:
    """The API with a limit of 3 failed authentications a minute, as the runtime's settings say."""
    runtime.settings.auth_failures_per_minute = 3
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        yield client


def fail(client: TestClient, times: int) -> None:
    for _ in range(times):
        assert client.get(BUCKETS, headers=BAD).status_code == 401


def assert_limited(response: Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    problem = response.json()
    assert problem["status"] == 429
    assert problem["type"] == "urn:loopback:problem:too-many-requests"


def test_after_the_limit_even_a_valid_token_answers_429(limited: TestClient) -> None:
    assert limited.get(BUCKETS).status_code == 200
    fail(limited, 3)
    assert_limited(limited.get(BUCKETS))
    assert_limited(limited.get(BUCKETS, headers=BAD))
    assert_limited(limited.post("/v3/organizations", json={"slug": "acme"}))


def test_the_default_limit_is_twenty_a_minute(runtime: Runtime) -> None:
    assert runtime.settings.auth_failures_per_minute == 20
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        fail(client, 19)
        assert client.get(BUCKETS).status_code == 200  # successes neither count nor reset
        fail(client, 1)
        assert_limited(client.get(BUCKETS))


def test_the_limit_is_per_client_address(runtime: Runtime) -> None:
    runtime.settings.auth_failures_per_minute = 2
    app = create_app(runtime)
    with (
        TestClient(app, headers=OPERATOR_HEADERS, client=("203.0.113.7", 4000)) as guesser,
        TestClient(app, headers=OPERATOR_HEADERS, client=("198.51.100.2", 4000)) as bystander,
    ):
        fail(guesser, 2)
        assert_limited(guesser.get(BUCKETS))
        assert bystander.get(BUCKETS).status_code == 200
        assert "203.0.113.7" in guesser.get(BUCKETS).json()["detail"]


def test_failures_older_than_a_minute_no_longer_count(
    limited: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(access, "time", SimpleNamespace(monotonic=lambda: now[0]))
    fail(limited, 3)
    now[0] += 30
    refused = limited.get(BUCKETS)
    assert_limited(refused)
    assert refused.headers["retry-after"] == "30"
    now[0] += 30.5
    assert limited.get(BUCKETS).status_code == 200


def test_an_expired_token_answers_401_at_once(limited: TestClient, runtime: Runtime) -> None:
    created = limited.post("/v3/user/tokens", json={"name": "short-lived", "expires_in_days": 1})
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    assert limited.get(BUCKETS, headers=headers).status_code == 200
    with runtime.db.session() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.id == created.json()["id"])).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    expired = limited.get(BUCKETS, headers=headers)
    assert expired.status_code == 401
    assert expired.headers["content-type"] == "application/problem+json"
    assert expired.headers["www-authenticate"].startswith("Bearer")
    assert "expired" in expired.json()["detail"]
    # and it counts as a failed authentication
    fail(limited, 2)
    assert_limited(limited.get(BUCKETS))


def test_a_request_without_a_token_answers_401_with_a_problem(limited: TestClient) -> None:
    response = limited.get(BUCKETS, headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
