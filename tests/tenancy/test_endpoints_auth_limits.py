"""Failed authentications are limited per client address; a valid token always authenticates.

Only failures count and only failures are refused: a bad, expired or missing token answers 401,
then 429 once its address has used up its failures, while a valid token from that address goes on
working. With Redis (the PostgreSQL run) every API replica counts in one window; the console's
sign-in counts in the same one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from loopback.app import create_app
from loopback.kit.clock import utcnow
from loopback.kit.errors import TooManyRequests
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from loopback.tenancy.access import FailedAuthLimiter, MemoryWindow, RedisWindow
from loopback.tenancy.models import ApiToken
from tests.conftest import BUCKETS, OPERATOR_HEADERS
from tests.web.conftest import OPERATOR_TOKEN, csrf_of

BAD = {"Authorization": "Bearer lbk_not-a-token"}
NONE = {"Authorization": ""}


@pytest.fixture
def limited(runtime: Runtime) -> Iterator[TestClient]:
    """The API with a limit of 3 failed authentications a minute, as the runtime's settings say."""
    runtime.settings.auth_failures_per_minute = 3
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        yield client


def fail(client: TestClient, times: int, headers: dict[str, str] = BAD) -> None:
    for _ in range(times):
        response = client.get(BUCKETS, headers=headers)
        assert response.status_code == 401, response.text


def assert_limited(response: Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    problem = response.json()
    assert problem["status"] == 429
    assert problem["type"] == "urn:loopback:problem:too-many-requests"


def test_after_the_limit_failures_answer_429_and_a_valid_token_still_works(limited: TestClient) -> None:
    fail(limited, 3)
    assert_limited(limited.get(BUCKETS, headers=BAD))
    assert_limited(limited.post("/v3/organizations", json={"slug": "acme"}, headers=BAD))
    assert limited.get(BUCKETS).status_code == 200  # limit what fails, not who succeeds
    created = limited.post("/v3/organizations", json={"slug": "acme"})
    assert created.status_code == 201, created.text
    assert_limited(limited.get(BUCKETS, headers=BAD))  # and a success does not reset the count


def test_the_default_limit_is_twenty_a_minute(runtime: Runtime) -> None:
    assert runtime.settings.auth_failures_per_minute == 20
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        fail(client, 19)
        assert client.get(BUCKETS).status_code == 200
        fail(client, 1)
        assert_limited(client.get(BUCKETS, headers=BAD))
        assert client.get(BUCKETS).status_code == 200


def test_the_limit_is_per_client_address(runtime: Runtime) -> None:
    runtime.settings.auth_failures_per_minute = 2
    app = create_app(runtime)
    with (
        TestClient(app, headers=OPERATOR_HEADERS, client=("203.0.113.7", 4000)) as guesser,
        TestClient(app, headers=OPERATOR_HEADERS, client=("198.51.100.2", 4000)) as bystander,
    ):
        fail(guesser, 2)
        refused = guesser.get(BUCKETS, headers=BAD)
        assert_limited(refused)
        assert "203.0.113.7" in refused.json()["detail"]
        assert bystander.get(BUCKETS, headers=BAD).status_code == 401
        assert guesser.get(BUCKETS).status_code == 200


def test_failures_older_than_a_minute_no_longer_count(limited: TestClient) -> None:
    limiter: FailedAuthLimiter = limited.app.state.auth_limiter  # type: ignore[attr-defined]
    now = [1_000_000.0]
    limiter.clock = lambda: now[0]
    fail(limited, 3)
    now[0] += 30
    refused = limited.get(BUCKETS, headers=BAD)
    assert_limited(refused)
    assert refused.headers["retry-after"] == "30"
    now[0] += 30.5
    assert limited.get(BUCKETS, headers=BAD).status_code == 401


def test_a_missing_token_counts_as_a_failed_attempt(limited: TestClient) -> None:
    fail(limited, 3, NONE)
    refused = limited.get(BUCKETS, headers=NONE)
    assert_limited(refused)
    assert_limited(limited.get(BUCKETS, headers=BAD))
    assert limited.get(BUCKETS).status_code == 200
    # what needs no token neither counts nor is refused
    assert limited.get("/healthz", headers=NONE).status_code == 200
    assert limited.get("/console/sign-in", headers=NONE).status_code == 200


def test_public_pages_do_not_count(limited: TestClient) -> None:
    for _ in range(5):
        assert limited.get("/healthz", headers=NONE).status_code == 200
        assert limited.get("/console/sign-in", headers=NONE).status_code == 200
    assert limited.get(BUCKETS, headers=NONE).status_code == 401


def test_an_expired_token_answers_401_and_counts(limited: TestClient, runtime: Runtime) -> None:
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
    fail(limited, 2)
    assert_limited(limited.get(BUCKETS, headers=headers))


def test_a_request_without_a_token_answers_401_with_a_problem(limited: TestClient) -> None:
    response = limited.get(BUCKETS, headers=NONE)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def console_sign_in(console: TestClient, token: str) -> Response:
    page = console.get("/console/sign-in")
    return console.post(
        "/console/sign-in", data={"csrf": csrf_of(page.text), "token": token}, follow_redirects=False
    )


def test_the_console_sign_in_counts_in_the_same_limit(runtime: Runtime) -> None:
    runtime.settings.auth_failures_per_minute = 3
    with TestClient(create_app(runtime), base_url="http://testserver") as console:
        fail(console, 2)  # the API's failures count for the sign-in form of that address
        assert console_sign_in(console, "").status_code == 422  # no token is a failed attempt too
        refused = console_sign_in(console, "lbk_not-a-token")
        assert refused.status_code == 429
        assert "too many failed authentications" in refused.text
        assert_limited(console.get(BUCKETS, headers=BAD))
        assert console_sign_in(console, OPERATOR_TOKEN).status_code == 303  # a valid token signs in


def redis_url(runtime: Runtime) -> str:
    url = runtime.settings.queue_url or ""
    if not url.startswith("redis://"):
        pytest.skip("the shared window needs Redis (LOOPBACK_TEST_REDIS_URL, with PostgreSQL)")
    return url


def test_with_redis_every_replica_counts_in_one_window(runtime: Runtime) -> None:
    redis_url(runtime)
    runtime.settings.auth_failures_per_minute = 4
    with (
        TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as first,
        TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as second,
    ):
        assert isinstance(first.app.state.auth_limiter.window, RedisWindow)  # type: ignore[attr-defined]
        fail(first, 2)
        fail(second, 2)
        assert_limited(first.get(BUCKETS, headers=BAD))
        assert_limited(second.get(BUCKETS, headers=BAD))
        assert first.get(BUCKETS).status_code == 200
        assert second.get(BUCKETS).status_code == 200


def test_without_redis_each_process_counts_its_own(runtime: Runtime) -> None:
    if runtime.settings.queue_url:
        pytest.skip("with Redis the replicas share one window")
    runtime.settings.auth_failures_per_minute = 2
    with (
        TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as first,
        TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as second,
    ):
        assert isinstance(first.app.state.auth_limiter.window, MemoryWindow)  # type: ignore[attr-defined]
        fail(first, 2)
        assert_limited(first.get(BUCKETS, headers=BAD))
        fail(second, 2)
        assert_limited(second.get(BUCKETS, headers=BAD))


def test_while_redis_does_not_answer_failures_are_counted_in_the_process() -> None:
    unreachable = Settings(
        queue_url="redis://127.0.0.1:1/0", queue_name="nowhere", auth_failures_per_minute=2
    )
    limiter = FailedAuthLimiter.for_settings(unreachable)
    assert isinstance(limiter.window, RedisWindow)
    limiter.failed("192.0.2.1")
    limiter.failed("192.0.2.1")
    with pytest.raises(TooManyRequests, match=r"too many failed authentications from 192\.0\.2\.1"):
        limiter.failed("192.0.2.1")
