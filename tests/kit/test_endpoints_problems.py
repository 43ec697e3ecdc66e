"""Every error is a problem document with the request id: unstorable text, oversized bodies, crashes.

A NUL (PostgreSQL's text refuses it) or an unpaired surrogate (not UTF-8) answers 404 in a path
and 422 naming the field elsewhere, on SQLite and PostgreSQL alike, and records nothing; a body
over the limit answers 413 without being read in full; an unexpected exception answers a generic
500 whose text stays in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.types import Message, Receive, Scope, Send

from loopback.app import create_app
from loopback.kit.limits import RequestLimitsMiddleware
from loopback.kit.requests import REQUEST_ID_HEADER
from loopback.runtime import Runtime
from loopback.tenancy.models import ApiToken, AuditEvent, Organization, User
from tests.conftest import BUCKETS, OPERATOR_HEADERS

PROBLEM_JSON = "application/problem+json"
ORGANIZATIONS = "/v3/organizations"


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        yield client


def rows(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Organization, ApiToken, User, AuditEvent)
        }


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers[REQUEST_ID_HEADER]
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body["errors"]]


@pytest.mark.parametrize(
    "path",
    # As a client sends it: percent-encoded; the server decodes it into the path.
    [f"{BUCKETS}/bkt_%00", "/v3/organizations/de%00mo", "/v3/organizations/demo/projects/default%00"],
)
def test_a_nul_in_a_path_segment_answers_404(api: TestClient, runtime: Runtime, path: str) -> None:
    before = rows(runtime)
    body = assert_problem(api.get(path), 404)
    assert body["type"] == "urn:loopback:problem:not-found"
    assert_problem(api.delete(path), 404)
    assert rows(runtime) == before


def test_a_nul_in_a_cursor_answers_422_naming_it(api: TestClient) -> None:
    body = assert_problem(api.get(BUCKETS, params={"cursor": "bkt_\x00"}), 422)
    assert fields(body) == ["cursor"]
    body = assert_problem(api.get(f"{ORGANIZATIONS}/demo/audit-events", params={"cursor": "\x00"}), 422)
    assert fields(body) == ["cursor"]


def test_a_nul_in_an_organization_name_answers_422_and_records_nothing(
    api: TestClient, runtime: Runtime
) -> None:
    before = rows(runtime)
    body = assert_problem(api.post(ORGANIZATIONS, json={"slug": "acme", "name": "Ac\x00me"}), 422)
    assert fields(body) == ["name"]
    assert body["errors"][0]["pointer"] == "#/name"
    assert rows(runtime) == before
    assert api.get(f"{ORGANIZATIONS}/acme").status_code == 404


def test_a_nul_in_a_token_name_answers_422_and_issues_nothing(api: TestClient, runtime: Runtime) -> None:
    before = rows(runtime)
    body = assert_problem(api.post("/v3/user/tokens", json={"name": "lap\x00top"}), 422)
    assert fields(body) == ["name"]
    project_token = {"name": "\x00", "project": "default", "role_cap": "viewer"}
    body = assert_problem(api.post(f"{ORGANIZATIONS}/demo/tokens", json=project_token), 422)
    assert fields(body) == ["name"]
    assert rows(runtime) == before


def test_a_nul_in_a_member_email_answers_422_and_adds_no_one(api: TestClient, runtime: Runtime) -> None:
    before = rows(runtime)
    member = {"email": "ada\x00@example.com", "role": "viewer"}
    body = assert_problem(api.post(f"{ORGANIZATIONS}/demo/members", json=member), 422)
    assert fields(body) == ["email"]
    assert rows(runtime) == before


def test_an_unpaired_surrogate_and_a_nested_nul_are_named_by_their_path(
    api: TestClient, runtime: Runtime
) -> None:
    before = rows(runtime)
    raw = b'{"slug": "acme", "name": "\\ud800"}'  # valid JSON, but no UTF-8 can hold it
    response = api.post(ORGANIZATIONS, content=raw, headers={"Content-Type": "application/json"})
    assert fields(assert_problem(response, 422)) == ["name"]
    grants = [{"bucket_id": "bkt_1", "prefix": "logs/"}, {"bucket_id": "bkt_2", "prefix": "a\x00"}]
    response = api.post(BUCKETS.removesuffix("/buckets") + "/credentials", json={"grants": grants})
    body = assert_problem(response, 422)
    assert fields(body) == ["grants.1.prefix"]
    assert body["errors"][0]["pointer"] == "#/grants/1/prefix"
    assert rows(runtime) == before


def test_an_unexpected_exception_answers_a_500_problem_without_its_text(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(runtime)

    def crash() -> None:
        raise RuntimeError("table secret_things is corrupt at /var/lib/internal")

    app.add_api_route("/v3/crash", crash)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get("/v3/crash", headers={REQUEST_ID_HEADER: "req-report-me-1"})
    body = assert_problem(response, 500)
    assert body["type"] == "urn:loopback:problem:internal"
    assert body["request_id"] == "req-report-me-1"
    assert "secret_things" not in response.text
    assert "RuntimeError" not in response.text
    (logged,) = [r for r in caplog.records if r.name == "loopback.kit.problems"]
    assert "req-report-me-1" in logged.getMessage()
    assert logged.exc_info is not None
    assert "secret_things" in str(logged.exc_info[1])


def test_a_body_over_the_limit_answers_413_by_its_content_length(api: TestClient, runtime: Runtime) -> None:
    before = rows(runtime)
    limit = runtime.settings.max_request_bytes
    name = "x" * limit
    body = assert_problem(api.post(ORGANIZATIONS, json={"slug": "acme", "name": name}), 413)
    assert body["type"] == "urn:loopback:problem:body-too-large"
    assert str(limit) in body["detail"]
    assert rows(runtime) == before


def test_a_streamed_body_over_the_limit_answers_413(api: TestClient, runtime: Runtime) -> None:
    chunk = b" " * 65536
    chunks = runtime.settings.max_request_bytes // len(chunk) + 2
    response = api.post(
        ORGANIZATIONS, content=iter([chunk] * chunks), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in {name.lower() for name in response.request.headers}
    assert_problem(response, 413)


def drive(middleware: RequestLimitsMiddleware, headers: list[tuple[bytes, bytes]], chunks: int) -> Any:
    """Send ``chunks`` chunks of 64 KiB through the middleware alone; count what it read and answered."""
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b" " * 65536, "more_body": read < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    async def never_called(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not see an oversized request")

    middleware.app = never_called
    scope = {"type": "http", "method": "POST", "path": "/v3/organizations", "query_string": b""}
    anyio.run(middleware, {**scope, "headers": headers}, receive, send)
    return read, sent[0]["status"]


def test_an_oversized_body_is_not_read_in_full() -> None:
    middleware = RequestLimitsMiddleware(lambda *_: None, max_body_bytes=1024 * 1024)  # type: ignore[arg-type]
    assert drive(middleware, [], chunks=1000) == (17, 413)  # 16 chunks fill the limit; the 17th passes it
    declared = [(b"content-length", str(1000 * 65536).encode())]
    assert drive(middleware, declared, chunks=1000) == (0, 413)
