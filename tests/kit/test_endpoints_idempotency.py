"""``Idempotency-Key`` on POSTs: replays, mismatches, requests in flight, and fifty callers at once.

The API tests go through the application as built (``create_app``); the middleware tests wrap a
small ASGI app of their own to make it fail, stream or answer 5xx on demand. The concurrent tests
run over real HTTP (uvicorn in a thread), so the requests really overlap.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.types import Receive, Scope, Send

from loopback.app import create_app
from loopback.buckets.models import Bucket
from loopback.kit import idempotency
from loopback.kit.clock import utcnow
from loopback.kit.db import Database
from loopback.kit.idempotency import (
    DONE,
    LEASE,
    RUNNING,
    IdempotencyStore,
    IdempotentRequest,
    caller_of,
    fingerprint_of,
)
from loopback.kit.idempotency_middleware import IdempotencyMiddleware
from loopback.kit.ids import new_id
from loopback.runtime import Runtime
from loopback.tenancy.models import Organization
from tests import factories
from tests.conftest import BUCKETS, OPERATOR_HEADERS, unique_bucket_name, wait_for_status
from tests.live_server import LiveServer

log = logging.getLogger(__name__)
OPERATOR_CALLER = caller_of(OPERATOR_HEADERS["Authorization"])


def payload(name: str) -> bytes:
    """A create body as exact bytes, so a test can compute the fingerprint the middleware will."""
    return json.dumps({"name": name, "provider": "local", "region": "local-1"}).encode()


def post(client: httpx.Client, body: bytes, key: str | None, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", **headers}
    if key is not None:
        sent["Idempotency-Key"] = key
    return client.post(BUCKETS, content=body, headers=sent)


def records(database: Database, caller: str | None = None) -> list[IdempotentRequest]:
    with database.session() as session:
        statement = select(IdempotentRequest).order_by(IdempotentRequest.created_at)
        if caller is not None:
            statement = statement.where(IdempotentRequest.caller == caller)
        return list(session.scalars(statement))


def rows_named(runtime: Runtime, name: str) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Bucket).where(Bucket.name == name)) or 0)


def listed_named(client: TestClient, name: str) -> int:
    listed = client.get(BUCKETS, params={"limit": 200})
    assert listed.status_code == 200
    assert listed.json()["next_cursor"] is None
    return sum(1 for bucket in listed.json()["buckets"] if bucket["name"] == name)


def problem_fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


def add_record(database: Database, key: str, fingerprint: str, **fields: Any) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id("idk"),
        "caller": OPERATOR_CALLER,
        "key": key,
        "fingerprint": fingerprint,
        "state": RUNNING,
        "created_at": now,
        "expires_at": now + timedelta(hours=24),
        "lease_expires_at": now + LEASE,  # a live process renewing it
        **fields,
    }
    with database.session() as session:
        session.add(IdempotentRequest(**values))


# The API as built


def test_same_key_and_body_replays_the_first_answer_and_acts_once(
    client: TestClient, runtime: Runtime
) -> None:
    name = unique_bucket_name("idem")
    first = post(client, payload(name), "create-once")
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers

    again = post(client, payload(name), "create-once")
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert again.headers["x-request-id"].startswith("req_")

    bucket_id = first.json()["id"]
    wait_for_status(client, bucket_id, "ready")
    assert listed_named(client, name) == 1
    kinds = [event["kind"] for event in client.get(f"{BUCKETS}/{bucket_id}/events").json()["events"]]
    assert kinds.count("created") == 1
    [record] = records(runtime.db)
    assert (record.state, record.status_code, record.key) == (DONE, 202, "create-once")
    assert "x-request-id" not in {name.lower() for name, _ in record.headers or []}


def test_same_key_with_another_body_or_path_is_a_422_naming_the_header(
    client: TestClient, runtime: Runtime
) -> None:
    name, other = unique_bucket_name("idem"), unique_bucket_name("idem")
    assert post(client, payload(name), "k-1").status_code == 202

    mismatch = post(client, payload(other), "k-1")
    assert mismatch.status_code == 422
    assert mismatch.headers["content-type"] == "application/problem+json"
    assert mismatch.json()["errors"] == [
        {
            "field": "Idempotency-Key",
            "pointer": "#/Idempotency-Key",
            "detail": mismatch.json()["errors"][0]["detail"],
        }
    ]
    assert "another request" in mismatch.json()["detail"]
    assert "idempotent-replayed" not in mismatch.headers

    elsewhere = client.post(
        f"{BUCKETS}/validate",
        content=payload(name),
        headers={"Content-Type": "application/json", "Idempotency-Key": "k-1"},
    )
    assert elsewhere.status_code == 422
    assert problem_fields(elsewhere) == ["Idempotency-Key"]

    assert rows_named(runtime, other) == 0
    assert len(records(runtime.db)) == 1


def test_keys_are_scoped_to_the_caller(client: TestClient, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        demo = session.scalars(select(Organization).where(Organization.slug == "demo")).one()
        token = factories.member_token(session, demo, "owner")
    name = unique_bucket_name("idem")
    assert post(client, payload(name), "shared-key").status_code == 202

    theirs = post(client, payload(name), "shared-key", Authorization=f"Bearer {token}")
    assert theirs.status_code == 409  # their own answer: the name is taken, not the operator's 202
    assert "idempotent-replayed" not in theirs.headers
    assert "already exists" in theirs.json()["detail"]
    assert {r.caller for r in records(runtime.db)} == {OPERATOR_CALLER, caller_of(f"Bearer {token}")}
    assert rows_named(runtime, name) == 1


def test_a_validation_answer_is_final_and_replayed(client: TestClient, runtime: Runtime) -> None:
    first = post(client, payload("Bad_Name"), "bad-name")
    assert first.status_code == 422
    assert problem_fields(first) == ["name"]
    again = post(client, payload("Bad_Name"), "bad-name")
    assert again.status_code == 422
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/problem+json"


def test_a_401_is_not_kept(client: TestClient, runtime: Runtime) -> None:
    name = unique_bucket_name("idem")
    unknown = "Bearer lbk_not-a-token"
    for _ in range(2):
        refused = post(client, payload(name), "who-am-i", Authorization=unknown)
        assert refused.status_code == 401
        assert "idempotent-replayed" not in refused.headers
    assert records(runtime.db, caller_of(unknown)) == []
    created = post(client, payload(name), "who-am-i")  # the same key is free for the real caller
    assert created.status_code == 202


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_an_empty_or_long_key_is_a_422(client: TestClient, runtime: Runtime, key: str) -> None:
    name = unique_bucket_name("idem")
    response = post(client, payload(name), key)
    assert response.status_code == 422
    assert problem_fields(response) == ["Idempotency-Key"]
    assert rows_named(runtime, name) == 0
    assert records(runtime.db) == []


def test_a_key_of_255_characters_is_accepted(client: TestClient, runtime: Runtime) -> None:
    response = post(client, payload(unique_bucket_name("idem")), "k" * 255)
    assert response.status_code == 202
    assert [r.key for r in records(runtime.db)] == ["k" * 255]


def test_a_request_without_authorization_passes_through(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as anonymous:
        response = post(anonymous, payload(unique_bucket_name("idem")), "no-caller")
    assert response.status_code == 401
    assert records(runtime.db) == []


def test_while_the_first_request_runs_the_same_key_is_a_409(client: TestClient, runtime: Runtime) -> None:
    name = unique_bucket_name("idem")
    add_record(runtime.db, "in-flight", fingerprint_of("POST", BUCKETS, b"", payload(name)))

    busy = post(client, payload(name), "in-flight")
    assert busy.status_code == 409
    assert busy.headers["content-type"] == "application/problem+json"
    assert "still running" in busy.json()["detail"]
    assert "renewed its claim 0 s ago" in busy.json()["detail"]
    assert busy.headers["retry-after"] == "1"

    other_body = post(client, payload(unique_bucket_name("idem")), "in-flight")
    assert other_body.status_code == 422
    assert problem_fields(other_body) == ["Idempotency-Key"]
    assert rows_named(runtime, name) == 0
    assert [r.state for r in records(runtime.db)] == [RUNNING]


def test_a_running_record_whose_lease_lapsed_seconds_ago_frees_its_key(
    client: TestClient, runtime: Runtime
) -> None:
    name = unique_bucket_name("idem")
    fingerprint = fingerprint_of("POST", BUCKETS, b"", payload(name))
    lapsed = utcnow() - timedelta(seconds=1)  # not five minutes: one lease unrenewed is enough
    add_record(runtime.db, "orphan", fingerprint, created_at=lapsed - LEASE, lease_expires_at=lapsed)
    answer = post(client, payload(name), "orphan")
    assert answer.status_code == 202, answer.text  # its process died before committing: run it now
    assert "idempotent-replayed" not in answer.headers
    assert rows_named(runtime, name) == 1


def test_kept_answers_are_encrypted_and_replayed_only_to_a_live_token(
    client: TestClient, runtime: Runtime
) -> None:
    issued = client.post("/v3/user/tokens", json={"name": "short-lived"}, headers={"Idempotency-Key": "mint"})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    [record] = records(runtime.db, OPERATOR_CALLER)
    assert token.encode() not in (record.body or b"")  # the token shown once is not kept in clear
    replay = client.post("/v3/user/tokens", json={"name": "short-lived"}, headers={"Idempotency-Key": "mint"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["token"] == token

    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "as-the-new-token"}
    first = client.post("/v3/user/tokens", json={"name": "child", "role_cap": "viewer"}, headers=headers)
    assert first.status_code == 201, first.text
    revoked = client.delete(f"/v3/user/tokens/{issued.json()['id']}")
    assert revoked.status_code == 200
    after = client.post("/v3/user/tokens", json={"name": "child", "role_cap": "viewer"}, headers=headers)
    assert after.status_code == 401  # a revoked token gets no replay of what it was shown
    assert "idempotent-replayed" not in after.headers


def test_an_expired_record_is_replaced_and_expired_ones_are_swept(
    client: TestClient, runtime: Runtime
) -> None:
    name = unique_bucket_name("idem")
    past = utcnow() - timedelta(hours=25)
    stale = {"state": DONE, "status_code": 418, "headers": [], "body": b"stale", "created_at": past}
    add_record(
        runtime.db,
        "old-key",
        fingerprint_of("POST", BUCKETS, b"", payload(name)),
        expires_at=past + timedelta(hours=24),
        **stale,
    )
    for number in range(3):  # someone else's, long expired
        add_record(runtime.db, f"litter-{number}", "x" * 64, expires_at=past, caller="c" * 64, **stale)

    fresh = post(client, payload(name), "old-key")
    assert fresh.status_code == 202
    assert "idempotent-replayed" not in fresh.headers
    [record] = records(runtime.db)
    assert (record.key, record.state, record.status_code) == ("old-key", DONE, 202)
    assert record.expires_at > utcnow() + timedelta(hours=23)


def test_other_methods_are_not_recorded(client: TestClient, runtime: Runtime) -> None:
    response = client.get(BUCKETS, headers={"Idempotency-Key": "reading"})
    assert response.status_code == 200
    assert records(runtime.db) == []


# The middleware around a small app of the test's own


class Scripted:
    """An ASGI app answering what the test sets, counting its calls and the bodies it read."""

    def __init__(self) -> None:
        self.calls = 0
        self.status = 201
        self.chunks = [b'{"a":', b"1}"]
        self.fail = False
        self.delay = 0.0
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        message = await receive()
        self.bodies.append(message["body"])
        assert message["more_body"] is False
        if self.fail:
            raise RuntimeError("the app broke")
        await anyio.sleep(self.delay)
        headers = [(b"content-type", b"application/json"), (b"x-request-id", b"req_from-the-app")]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        for number, chunk in enumerate(self.chunks):
            more = number < len(self.chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})


@pytest.fixture
def scripted(runtime: Runtime) -> Iterator[tuple[Scripted, TestClient]]:
    app = Scripted()
    wrapped = IdempotencyMiddleware(
        app, database=runtime.db, cipher=runtime.secrets, authenticates=lambda authorization: True
    )
    test_client = TestClient(wrapped, headers=OPERATOR_HEADERS)  # no `with`: the app has no lifespan
    yield app, test_client
    test_client.close()


def test_a_streamed_answer_is_captured_whole_and_replayed(
    scripted: tuple[Scripted, TestClient], runtime: Runtime
) -> None:
    app, test_client = scripted
    headers = {"Idempotency-Key": "stream"}
    first = test_client.post("/things", content=b"hello", headers=headers)
    again = test_client.post("/things", content=b"hello", headers=headers)
    assert app.calls == 1
    assert app.bodies == [b"hello"]
    assert (first.status_code, first.content) == (201, b'{"a":1}')
    assert (again.status_code, again.content) == (201, b'{"a":1}')
    assert again.headers["content-length"] == "7"
    assert again.headers["idempotent-replayed"] == "true"
    assert "x-request-id" not in again.headers  # never replayed: the outer middleware sets the new one


@pytest.mark.parametrize("status", [500, 503, 429])
def test_answers_that_are_not_final_let_the_key_go(
    scripted: tuple[Scripted, TestClient], runtime: Runtime, status: int
) -> None:
    app, test_client = scripted
    app.status = status
    headers = {"Idempotency-Key": "retry-me"}
    assert test_client.post("/things", content=b"x", headers=headers).status_code == status
    assert records(runtime.db) == []
    app.status = 201
    assert test_client.post("/things", content=b"x", headers=headers).status_code == 201
    assert app.calls == 2


def test_when_the_app_raises_the_record_is_deleted(
    scripted: tuple[Scripted, TestClient], runtime: Runtime
) -> None:
    app, test_client = scripted
    app.fail = True
    with pytest.raises(RuntimeError, match="the app broke"):
        test_client.post("/things", content=b"x", headers={"Idempotency-Key": "boom"})
    assert records(runtime.db) == []


def test_the_query_string_is_part_of_the_request(
    scripted: tuple[Scripted, TestClient], runtime: Runtime
) -> None:
    _, test_client = scripted
    headers = {"Idempotency-Key": "query"}
    assert test_client.post("/things?force=false", content=b"x", headers=headers).status_code == 201
    other = test_client.post("/things?force=true", content=b"x", headers=headers)
    assert other.status_code == 422
    assert problem_fields(other) == ["Idempotency-Key"]


def test_a_request_longer_than_its_lease_keeps_its_key_by_renewing_it(
    scripted: tuple[Scripted, TestClient], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "LEASE", timedelta(seconds=0.6))
    monkeypatch.setattr(idempotency, "RENEW_EVERY", timedelta(seconds=0.15))
    app, test_client = scripted
    app.delay = 2.0  # more than three leases
    headers = {"Idempotency-Key": "slow"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(test_client.post, "/things", content=b"x", headers=headers)
        time.sleep(1.5)
        busy = test_client.post("/things", content=b"x", headers=headers)
        assert first.result().status_code == 201
    assert busy.status_code == 409, busy.text
    assert "still running" in busy.json()["detail"]
    assert app.calls == 1


async def die_after_the_app(
    self: IdempotencyMiddleware, record_id: str, status: int, headers: list[list[str]], body: bytes
) -> None:
    """Where a process killed once the app has answered stops: nothing after is written.

    The app has committed and sent its answer's start; the answer is neither kept nor sent whole,
    and the request's end cancels the lease renewal, as the kill does.
    """
    raise RuntimeError("the process died")


def test_a_create_whose_answer_was_lost_after_its_commit_replays_its_202(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "LEASE", timedelta(seconds=1))
    monkeypatch.setattr(IdempotencyMiddleware, "_settle", die_after_the_app)
    monkeypatch.setattr(IdempotencyStore, "release", lambda self, record_id: None)  # nor is anything freed
    name = unique_bucket_name("lost")
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS, raise_server_exceptions=False) as dying:
        cut = post(dying, payload(name), "lost-answer")
        assert cut.content == b""  # its status line went out; its answer never did
    monkeypatch.undo()
    [record] = records(runtime.db)
    assert (record.state, record.status_code, record.committed_status) == (RUNNING, None, 202)
    with runtime.db.session() as session:
        bucket_id = session.scalars(select(Bucket.id).where(Bucket.name == name)).one()

    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        busy = post(client, payload(name), "lost-answer")
        assert busy.status_code == 409, busy.text  # the lease has not lapsed yet
        still = "is still running: its change is committed and its answer is on the way"
        assert still in busy.json()["detail"]
        time.sleep(1.5)  # the dead process's one-second lease lapses
        again = post(client, payload(name), "lost-answer")
        assert again.status_code == 202, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == bucket_id
        assert again.json()["name"] == name
        assert again.headers["location"] == f"{BUCKETS}/{bucket_id}"
        kept = post(client, payload(name), "lost-answer")  # kept from now on, as any answer
        assert (kept.status_code, kept.json()) == (202, again.json())
        assert listed_named(client, name) == 1
    assert rows_named(runtime, name) == 1
    [record] = records(runtime.db)
    assert (record.state, record.status_code) == (DONE, 202)


def test_a_lost_answer_that_cannot_be_read_back_says_what_happened(
    client: TestClient, runtime: Runtime
) -> None:
    body = json.dumps({"name": "lost-token"}).encode()
    lapsed = utcnow() - timedelta(seconds=1)
    fingerprint = fingerprint_of("POST", "/v3/user/tokens", b"", body)
    add_record(
        runtime.db,
        "minted",
        fingerprint,
        lease_expires_at=lapsed,
        committed_status=201,
        read_back={"model": None, "paths": []},
    )
    answer = client.post(
        "/v3/user/tokens",
        content=body,
        headers={"Idempotency-Key": "minted", "Content-Type": "application/json"},
    )
    assert answer.status_code == 409, answer.text
    assert "carried out (its change is committed)" in answer.json()["detail"]
    assert "process stopped before answering" in answer.json()["detail"]


# Fifty callers at once, over real HTTP


def fifty_creates(url: str, name: str, keys: list[str | None]) -> tuple[list[httpx.Response], float]:
    """POST one create per key from as many threads, released together; the answers and the time."""
    start = threading.Barrier(len(keys))

    def one(key: str | None) -> httpx.Response:
        with httpx.Client(base_url=url, headers=OPERATOR_HEADERS, timeout=60) as http:
            start.wait()
            return post(http, payload(name), key)

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        answers = list(pool.map(one, keys))
    took = time.monotonic() - began
    tally: dict[str, int] = {}
    for answer in answers:
        label = f"{answer.status_code}{' replayed' if 'idempotent-replayed' in answer.headers else ''}"
        tally[label] = tally.get(label, 0) + 1
    log.info("%d concurrent creates answered in %.2f s: %s", len(keys), took, tally)
    return answers, took


@pytest.mark.parametrize("keys", ["distinct", "none"])
def test_fifty_concurrent_creates_of_one_name_make_one_bucket(
    client: TestClient, runtime: Runtime, operator_s3: Any, keys: str
) -> None:
    name = unique_bucket_name("race")
    chosen: list[str | None] = [f"race-{n}" if keys == "distinct" else None for n in range(50)]
    with LiveServer(create_app(runtime)) as server:
        answers, _ = fifty_creates(server.url, name, chosen)

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] + [409] * 49, [a.text for a in answers if a.status_code not in {202, 409}]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.headers["content-type"] == "application/problem+json"
        assert "already exists" in refused.json()["detail"], refused.text
    [created] = [a.json() for a in answers if a.status_code == 202]
    assert wait_for_status(client, created["id"], "ready", "failed")["status"] == "ready"
    assert listed_named(client, name) == 1
    assert rows_named(runtime, name) == 1
    remote = [bucket["Name"] for bucket in operator_s3.list_buckets()["Buckets"]]
    assert remote.count(name) == 1


def test_fifty_concurrent_creates_with_one_key_act_once(
    client: TestClient, runtime: Runtime, operator_s3: Any
) -> None:
    name = unique_bucket_name("race")
    with LiveServer(create_app(runtime)) as server:
        answers, _ = fifty_creates(server.url, name, ["one-key"] * 50)
        with httpx.Client(base_url=server.url, headers=OPERATOR_HEADERS) as http:
            later = post(http, payload(name), "one-key")

    accepted = [a for a in answers if a.status_code == 202]
    running = [a for a in answers if a.status_code == 409]
    assert len(accepted) + len(running) == 50, [a.text for a in answers if a.status_code not in {202, 409}]
    assert accepted
    assert {a.json()["id"] for a in accepted} == {accepted[0].json()["id"]}
    assert sum(1 for a in accepted if "idempotent-replayed" not in a.headers) == 1
    for busy in running:
        assert "still running" in busy.json()["detail"], busy.text
    assert later.status_code == 202
    assert later.headers["idempotent-replayed"] == "true"
    assert later.json()["id"] == accepted[0].json()["id"]

    assert wait_for_status(client, accepted[0].json()["id"], "ready", "failed")["status"] == "ready"
    assert listed_named(client, name) == 1
    assert rows_named(runtime, name) == 1
    assert len(records(runtime.db)) == 1
    remote = [bucket["Name"] for bucket in operator_s3.list_buckets()["Buckets"]]
    assert remote.count(name) == 1
