"""Deliveries with the worker running and a real receiver on 127.0.0.1: signed CloudEvents, retries
with backoff, a bucket's events in order, another organization's never, nothing lost while no
worker runs."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loopback.app import create_app
from loopback.buckets.events import add_event
from loopback.runtime import Runtime
from loopback.webhooks.models import WebhookDelivery
from loopback.webhooks.relay import Relay
from tests.conftest import BUCKETS, OPERATOR_HEADERS, create_ready_bucket, unique_bucket_name, wait_for
from tests.factories import bearer, member_token, organization
from tests.webhooks.conftest import HOOKS, WAITS, Receiver, register, verified

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_verify() -> Callable[[str, dict[str, str], bytes], bool]:
    """The verification snippet of docs/webhooks.md, as a reader would paste it."""
    (snippet,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    scope: dict[str, Any] = {}
    exec(snippet, scope)
    verify: Callable[[str, dict[str, str], bytes], bool] = scope["verify"]
    return verify


def write_events(runtime: Runtime, *events: tuple[str, str]) -> None:
    """Bucket events as the buckets and credentials domains write them: (bucket id, kind) each, in
    one transaction, in this order."""
    with runtime.db.session() as session:
        for bucket_id, kind in events:
            add_event(session, bucket_id, kind, "ready", f"{kind} (test)")


def test_a_bucket_turning_ready_and_its_key_rotated_reach_the_endpoint_as_signed_cloudevents(
    client: TestClient, runtime: Runtime, receiver: Receiver
) -> None:
    secret = register(client, receiver.url + "/a")["secret"]
    bucket = create_ready_bucket(client, "hook")
    # no periodic relay runs in these tests (an hour apart): the reconcile's end woke it
    got = wait_for(
        lambda: [r for r in receiver.at("/a") if r.event["type"] == "io.loopback.bucket.ready"], 10
    )
    request = got[0]
    assert verified(secret, request)
    assert documented_verify()(secret, request.headers, request.body)
    assert not documented_verify()(secret, request.headers, request.body + b" ")
    assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    event = request.event
    assert event["id"] == request.headers["webhook-id"]
    assert event["id"].startswith("bev_")
    assert event["specversion"] == "1.0"
    assert event["subject"] == bucket["id"]
    assert event["source"].endswith("/v3/organizations/demo/projects/default/buckets")
    assert event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    data = event["data"]
    assert data["bucket"] == {"id": bucket["id"], "name": bucket["name"]}
    assert (data["organization"]["slug"], data["project"]["slug"]) == ("demo", "default")
    assert data["organization"]["id"].startswith("org_")
    assert data["project"]["id"].startswith("prj_")
    assert (data["status"], data["kind"]) == ("ready", "ready")

    # a key rotated through the API: its event goes out at once, woken by the rotation's enqueue
    key = client.post(f"{BUCKETS}/{bucket['id']}/credentials").json()
    keys = "/v3/organizations/demo/projects/default/credentials"
    rotated = client.post(f"{keys}/{key['id']}/rotate", json={"grace_seconds": 3600})
    assert rotated.status_code in (200, 201), rotated.text
    started = time.monotonic()
    got = wait_for(lambda: [r for r in receiver.at("/a") if r.event["type"] == "io.loopback.key.rotated"], 10)
    assert time.monotonic() - started < 5  # not the periodic relay: it runs hourly here
    assert got[0].event["subject"] == bucket["id"]
    assert key["access_key_id"] in got[0].event["data"]["reason"]
    assert verified(secret, got[0])


def test_retries_back_off_and_a_bucket_s_later_event_waits_for_its_earlier_one(
    client: TestClient, runtime: Runtime, receiver: Receiver
) -> None:
    first, other = create_ready_bucket(client, "lane"), create_ready_bucket(client, "lane")
    hook = register(client, receiver.url + "/keys", ["key.rotated", "key.revoked", "key.expiring"])
    failures: dict[str, int] = {}

    def answer(_path: str, event: dict[str, Any]) -> int:  # the first event fails twice, then passes
        if event["type"] == "io.loopback.key.rotated":
            failures[event["id"]] = failures.get(event["id"], 0) + 1
            return 500 if failures[event["id"]] <= 2 else 200
        return 200

    receiver.answer = answer
    write_events(runtime, (first["id"], "credential-rotated"), (first["id"], "credential-revoked"))
    write_events(runtime, (other["id"], "credential-expiring"))
    runtime.automation.enqueue("webhook.relay")  # what a hook in the buckets domain would do

    got = wait_for(lambda: len(receiver.at("/keys")) >= 5 and receiver.at("/keys"), 15)
    order = [(r.event["type"].removeprefix("io.loopback."), r.status) for r in got]
    assert [o for o in order if o[0] != "key.expiring"] == [
        ("key.rotated", 500),
        ("key.rotated", 500),
        ("key.rotated", 200),
        ("key.revoked", 200),  # only after the earlier event of its bucket got through
    ]
    assert order.index(("key.expiring", 200)) < order.index(("key.rotated", 200))  # another lane goes on
    rotated = [r for r in got if r.event["type"] == "io.loopback.key.rotated"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(rotated)]
    assert all(gap >= WAITS[0] for gap in gaps), gaps  # the backoff was waited
    assert all(verified(hook["secret"], r) for r in got)
    assert len({r.headers["webhook-id"] for r in rotated}) == 1  # a retry is the same message, signed anew

    log = client.get(f"{HOOKS}/{hook['id']}/deliveries", params={"limit": 2})
    page = log.json()
    assert [d["event_type"] for d in page["deliveries"]] == ["key.expiring", "key.revoked"]  # newest first
    rest = client.get(f"{HOOKS}/{hook['id']}/deliveries", params={"cursor": page["next_cursor"]}).json()
    assert rest["next_cursor"] is None
    (retried,) = rest["deliveries"]
    assert retried["event_type"] == "key.rotated"
    assert retried["bucket_id"] == first["id"]
    assert retried["bucket"] == first["name"]
    assert (retried["status"], retried["attempts"], retried["last_status_code"]) == ("delivered", 3, 200)
    assert retried["last_error"] is None
    assert retried["next_attempt_at"] is None


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    """The API with no worker running yet."""
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        yield client


def test_another_organization_s_events_never_reach_an_endpoint_and_none_is_lost_while_no_worker_runs(
    api: TestClient, runtime: Runtime, receiver: Receiver
) -> None:
    with runtime.db.session() as session:
        other = bearer(member_token(session, organization(session, "other"), "owner"))
    ours = register(api, receiver.url + "/ours", ["bucket.lost"])
    theirs = register(api, receiver.url + "/theirs", ["bucket.lost"], org="other", headers=other)
    body = {"provider": "local", "region": "local-1"}
    mine = api.post(BUCKETS, json={**body, "name": unique_bucket_name("ours")}).json()
    foreign = api.post(
        "/v3/organizations/other/projects/default/buckets",
        json={**body, "name": unique_bucket_name("theirs")},
        headers=other,
    ).json()
    # written while no worker runs, both organizations' events in one page of the relay
    write_events(runtime, (mine["id"], "lost"), (foreign["id"], "lost"), (mine["id"], "lost"))
    time.sleep(0.3)
    assert receiver.received == []

    consumer = runtime.automation.create_consumer(2, embedded=True)
    consumer.start()
    try:
        wait_for(lambda: len(receiver.at("/ours")) >= 2 and len(receiver.at("/theirs")) >= 1, 15)
        time.sleep(0.5)  # anything more that would come
    finally:
        consumer.stop(graceful=True)
    assert [e["subject"] for e in receiver.events("/ours")] == [mine["id"], mine["id"]]
    assert [e["subject"] for e in receiver.events("/theirs")] == [foreign["id"]]
    assert all(verified(ours["secret"], r) for r in receiver.at("/ours"))
    assert all(verified(theirs["secret"], r) for r in receiver.at("/theirs"))
    log = api.get(f"{HOOKS}/{ours['id']}/deliveries").json()["deliveries"]
    assert {d["bucket_id"] for d in log} == {mine["id"]}
    assert api.get(f"{HOOKS}/{theirs['id']}/deliveries").status_code == 404  # not demo's


def test_the_relay_writes_each_delivery_once_however_often_it_reads_an_event(
    api: TestClient, runtime: Runtime, receiver: Receiver
) -> None:
    register(api, receiver.url + "/once", ["bucket.failed"])
    register(api, receiver.url + "/twice", [])
    bucket = api.post(
        BUCKETS, json={"name": unique_bucket_name("once"), "provider": "local", "region": "local-1"}
    )
    write_events(runtime, (bucket.json()["id"], "failed"), (bucket.json()["id"], "created"))
    enqueued: list[tuple[Any, ...]] = []
    relay = Relay(
        runtime.db, lambda task, *args, delay=None: enqueued.append((task, *args)), runtime.settings
    )

    assert relay.run() == 2  # one per endpoint; "created" is history only
    assert relay.run() == 0  # the last minute is read again, and nothing is written twice
    with runtime.db.session() as session:
        rows = session.query(WebhookDelivery.event_type, WebhookDelivery.status).all()
    assert sorted(tuple(r) for r in rows) == [("bucket.failed", "pending")] * 2
    assert {task for task, *_ in enqueued} == {"webhook.deliver"}
