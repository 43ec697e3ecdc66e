"""The audit log: an event with each change, in its transaction; refusals as ``denied``; newest first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from loopback.tenancy import audit
from loopback.tenancy.access import Principal
from loopback.tenancy.models import AuditEvent
from tests.conftest import BUCKETS, create_ready_bucket, wait_for_status
from tests.factories import member_of

AUDIT = "/v3/organizations/demo/audit-events"
OPERATOR = "operator@loopback.local"


def all_events(runtime: Runtime) -> list[AuditEvent]:
    with runtime.db.session() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def event_count(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def test_a_change_records_who_with_what_where_and_when(client: TestClient, runtime: Runtime) -> None:
    me = client.get("/v3/user").json()
    demo = client.get("/v3/organizations/demo").json()
    default = client.get("/v3/organizations/demo/projects/default").json()
    before = utcnow()
    response = client.patch(
        "/v3/organizations/demo/projects/default",
        json={"name": "Main"},
        headers={"X-Request-ID": "support-ticket-4711"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "support-ticket-4711"
    [event] = [e for e in all_events(runtime) if e.action == "project.rename"]
    assert event.actor_email == OPERATOR
    assert event.actor_user_id == me["id"]
    assert event.token_id == me["token_id"]
    assert event.organization_id == demo["id"]
    assert event.project_id == default["id"]
    assert event.target == default["id"]
    assert event.outcome == "succeeded"
    assert event.detail == "'Default' -> 'Main'"
    assert event.request_id == "support-ticket-4711"
    assert event.client_address == "testclient"
    assert before - timedelta(seconds=1) <= event.occurred_at <= utcnow()

    # and the API shows the same event
    [shown] = client.get(AUDIT, params={"action": "project.rename"}).json()["events"]
    assert shown["id"] == event.id
    assert (shown["actor_email"], shown["token_id"], shown["request_id"]) == (
        OPERATOR,
        me["token_id"],
        "support-ticket-4711",
    )
    assert (shown["organization_id"], shown["project_id"], shown["outcome"]) == (
        demo["id"],
        default["id"],
        "succeeded",
    )
    assert shown["occurred_at"] is not None


@pytest.mark.parametrize("given", [None, "bad id with spaces", "short", "x" * 65])
def test_a_generated_request_id_is_echoed_and_recorded(
    client: TestClient, runtime: Runtime, given: str | None
) -> None:
    headers = {} if given is None else {"X-Request-ID": given}
    response = client.post("/v3/organizations/demo/projects", json={"slug": "web"}, headers=headers)
    assert response.status_code == 201
    request_id = response.headers["x-request-id"]
    assert request_id != given
    assert request_id.startswith("req_")
    [event] = [e for e in all_events(runtime) if e.action == "project.create"]
    assert event.request_id == request_id


def test_a_refused_change_records_no_succeeded_event(client: TestClient, runtime: Runtime) -> None:
    added = client.post("/v3/organizations/demo/members", json={"email": "ada@example.com", "role": "admin"})
    assert added.status_code == 201
    before = all_events(runtime)
    assert [e.action for e in before] == ["member.add"]
    for response in (
        client.delete(f"/v3/organizations/demo/members/{OPERATOR}"),  # the last owner: 409
        client.patch(f"/v3/organizations/demo/members/{OPERATOR}", json={"role": "viewer"}),  # 409
        client.post("/v3/organizations/demo/projects", json={"slug": "default"}),  # taken: 409
        client.post("/v3/organizations", json={"slug": "demo"}),  # taken: 409
        client.post("/v3/organizations/demo/members", json={"email": "nope", "role": "viewer"}),  # 422
        client.post(
            "/v3/organizations/demo/members", json={"email": "ada@example.com", "role": "viewer"}
        ),  # 409
    ):
        assert response.status_code in {409, 422}, response.text
    assert [e.id for e in all_events(runtime)] == [e.id for e in before]
    assert event_count(runtime) == len(before)


def test_a_forbidden_change_records_a_denied_event(client: TestClient, runtime: Runtime) -> None:
    viewer = member_of(runtime, "viewer")
    me = client.get("/v3/user", headers=viewer).json()
    body = {"name": "not-by-a-viewer", "provider": "local", "region": "local-1"}
    response = client.post(BUCKETS, json=body, headers={**viewer, "X-Request-ID": "viewer-attempt-1"})
    assert response.status_code == 403
    assert response.json()["permission"] == "buckets.create"
    [event] = [e for e in all_events(runtime) if e.outcome == "denied"]
    assert (event.action, event.outcome, event.target) == ("buckets.create", "denied", BUCKETS)
    assert (event.actor_email, event.token_id, event.request_id) == (
        me["email"],
        me["token_id"],
        "viewer-attempt-1",
    )
    assert event.organization_id == client.get("/v3/organizations/demo").json()["id"]
    assert event.project_id == client.get("/v3/organizations/demo/projects/default").json()["id"]
    assert "buckets.create" in (event.detail or "")
    # a refused read is not a change: nothing recorded
    billing = member_of(runtime, "billing")
    assert client.get(BUCKETS, headers=billing).status_code == 403
    assert len([e for e in all_events(runtime) if e.outcome == "denied"]) == 1
    shown = client.get(AUDIT, params={"outcome": "denied"}).json()["events"]
    assert [e["id"] for e in shown] == [event.id]


def test_events_page_newest_first_with_a_cursor(client: TestClient, runtime: Runtime) -> None:
    for index in range(7):
        assert client.patch("/v3/organizations/demo", json={"name": f"Demo {index}"}).status_code == 200
    everything = client.get(AUDIT, params={"limit": 500}).json()
    assert everything["next_cursor"] is None
    ids = [e["id"] for e in everything["events"]]
    assert len(ids) == 7
    assert ids == sorted(ids, reverse=True)
    details = [e["detail"] for e in everything["events"]]
    assert details[0] == "'Demo 5' -> 'Demo 6'"
    assert details[-1] == "'Demo' -> 'Demo 0'"

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(AUDIT, params=params).json()
        pages += 1
        assert len(page["events"]) <= 3
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor == page["events"][-1]["id"]
    assert seen == ids
    assert pages == 3
    exact = client.get(AUDIT, params={"limit": 7}).json()
    assert exact["next_cursor"] is None
    assert len(exact["events"]) == 7


def test_events_filter_by_action_project_and_outcome(client: TestClient, runtime: Runtime) -> None:
    assert client.post("/v3/organizations/demo/projects", json={"slug": "web"}).status_code == 201
    assert client.patch("/v3/organizations/demo/projects/web", json={"name": "Web"}).status_code == 200
    assert client.patch("/v3/organizations/demo/projects/default", json={"name": "Main"}).status_code == 200
    viewer = member_of(runtime, "viewer")
    assert (
        client.patch("/v3/organizations/demo/projects/web", json={"name": "x"}, headers=viewer).status_code
        == 403
    )

    def actions(**params: str) -> list[tuple[str, str]]:
        response = client.get(AUDIT, params=params)
        assert response.status_code == 200, response.text
        return [(e["action"], e["outcome"]) for e in response.json()["events"]]

    assert actions(action="project.rename") == [("project.rename", "succeeded")] * 2
    web = [("project.rename", "succeeded"), ("project.create", "succeeded")]
    assert actions(project="web", outcome="succeeded") == web
    web_id = client.get("/v3/organizations/demo/projects/web").json()["id"]
    assert actions(project=web_id, outcome="succeeded") == web
    assert actions(project="default", outcome="succeeded") == [("project.rename", "succeeded")]
    assert actions(outcome="denied") == [("projects.manage", "denied")]
    assert actions(project="web", outcome="denied") == [("projects.manage", "denied")]
    assert actions(outcome="succeeded", project="web", action="project.create") == [
        ("project.create", "succeeded")
    ]
    assert actions(action="bucket.create") == []
    assert actions(project="nowhere") == []
    bad = client.get(AUDIT, params={"outcome": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "outcome"
    for limit in (0, 501):
        assert client.get(AUDIT, params={"limit": limit}).status_code == 422


def test_another_organizations_events_stay_there(client: TestClient, runtime: Runtime) -> None:
    assert client.post("/v3/organizations", json={"slug": "acme"}).status_code == 201
    assert client.post("/v3/organizations/acme/projects", json={"slug": "web"}).status_code == 201
    assert client.patch("/v3/organizations/demo", json={"name": "Demo 2"}).status_code == 200
    acme = client.get("/v3/organizations/acme/audit-events").json()["events"]
    assert [e["action"] for e in acme] == ["project.create", "organization.create"]
    demo = client.get(AUDIT).json()["events"]
    assert [e["action"] for e in demo] == ["organization.rename"]
    # a project slug of acme filters nothing in from demo's log
    assert client.get(AUDIT, params={"project": "web"}).json()["events"] == []
    assert client.get(AUDIT, params={"project": acme[0]["project_id"]}).json()["events"] == []
    # a cursor from elsewhere cannot pull acme's events into demo's log
    assert client.get(AUDIT, params={"cursor": "aud_zzzzzzzzzzzzzzzzzzzz"}).json()["events"] == demo


def test_owners_and_admins_read_the_log_others_do_not(client: TestClient, runtime: Runtime) -> None:
    for role, status in (("owner", 200), ("admin", 200), ("member", 403), ("viewer", 403), ("billing", 403)):
        response = client.get(AUDIT, headers=member_of(runtime, role))
        assert response.status_code == status, role
        if status == 403:
            assert response.json()["permission"] == "audit.read"
            assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/v3/organizations/nowhere/audit-events").status_code == 404


def test_bucket_and_credential_changes_are_events(client: TestClient, runtime: Runtime) -> None:
    bucket = create_ready_bucket(client, "aud")
    credentials = f"{BUCKETS}/{bucket['id']}/credentials"
    issued = client.post(credentials)
    assert issued.status_code == 201
    assert client.delete(f"{credentials}/{issued.json()['id']}").status_code == 200
    assert client.delete(f"{BUCKETS}/{bucket['id']}").status_code == 202
    wait_for_status(client, bucket["id"], "deleted", "failed")

    events = client.get(AUDIT).json()["events"]
    wanted = ["bucket.delete", "credential.revoke", "credential.issue", "bucket.create"]
    assert [e["action"] for e in events if e["action"] in wanted] == wanted
    by_action = {e["action"]: e for e in events}
    assert by_action["bucket.create"]["target"] == bucket["id"]
    assert by_action["bucket.delete"]["target"] == bucket["id"]
    assert by_action["credential.issue"]["target"] == issued.json()["id"]
    assert by_action["credential.revoke"]["target"] == issued.json()["id"]
    default = client.get("/v3/organizations/demo/projects/default").json()["id"]
    assert {by_action[a]["project_id"] for a in wanted} == {default}
    assert {by_action[a]["outcome"] for a in wanted} == {"succeeded"}
    assert issued.json()["secret_access_key"] not in client.get(AUDIT).text
    assert [
        e["action"] for e in client.get(AUDIT, params={"action": "credential.issue"}).json()["events"]
    ] == ["credential.issue"]


def test_events_of_the_same_millisecond_still_page_in_the_order_they_happened(
    client: TestClient, runtime: Runtime
) -> None:
    demo = client.get("/v3/organizations/demo").json()["id"]
    principal = Principal(user_id="usr_x", email="burst@example.test", token_id="tok_x", is_operator=False)
    with runtime.db.session() as session:
        for index in range(200):  # far more than one a millisecond
            audit.record(session, principal, "burst", organization_id=demo, detail=str(index))
        session.commit()
    events = client.get(AUDIT, params={"action": "burst", "limit": 500}).json()["events"]
    assert [e["detail"] for e in events] == [str(index) for index in reversed(range(200))]
