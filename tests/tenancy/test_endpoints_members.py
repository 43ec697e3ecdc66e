"""Members over API v3: add by email, change roles, remove; always an owner; owners by owners only."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.runtime import Runtime
from loopback.tenancy.models import ApiToken, AuditEvent, Membership, User
from tests import factories
from tests.conftest import BUCKETS
from tests.factories import bearer, member_of

MEMBERS = "/v3/organizations/demo/members"
OPERATOR = "operator@loopback.local"


def add(client: TestClient, email: str, role: str, **kwargs: Any) -> Any:
    return client.post(MEMBERS, json={"email": email, "role": role}, **kwargs)


def roles(client: TestClient) -> dict[str, str]:
    return {m["email"]: m["role"] for m in client.get(MEMBERS).json()["members"]}


def events(runtime: Runtime, *, outcome: str | None = None, action: str | None = None) -> list[AuditEvent]:
    statement = select(AuditEvent).order_by(AuditEvent.id)
    if outcome:
        statement = statement.where(AuditEvent.outcome == outcome)
    if action:
        statement = statement.where(AuditEvent.action == action)
    with runtime.db.session() as session:
        return list(session.scalars(statement))


def counts(runtime: Runtime) -> tuple[int, ...]:
    with runtime.db.session() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (User, Membership, AuditEvent)
        )


def test_add_change_and_remove_a_member(client: TestClient, runtime: Runtime) -> None:
    added = add(client, " Ada@Example.COM ", "viewer")
    assert added.status_code == 201, added.text
    member = added.json()
    assert (member["email"], member["role"]) == ("ada@example.com", "viewer")
    assert roles(client) == {"ada@example.com": "viewer", OPERATOR: "owner"}

    by_id = client.patch(f"{MEMBERS}/{member['id']}", json={"role": "member"})
    assert by_id.status_code == 200
    assert by_id.json()["role"] == "member"
    by_email = client.patch(f"{MEMBERS}/ada@example.com", json={"role": "billing"})
    assert by_email.status_code == 200
    assert roles(client)["ada@example.com"] == "billing"

    removed = client.delete(f"{MEMBERS}/{member['id']}")
    assert removed.status_code == 200
    assert removed.json()["email"] == "ada@example.com"
    assert roles(client) == {OPERATOR: "owner"}
    assert client.delete(f"{MEMBERS}/{member['id']}").status_code == 404

    recorded = [(e.action, e.target, e.detail) for e in events(runtime) if e.action.startswith("member.")]
    assert recorded == [
        ("member.add", member["id"], "ada@example.com as viewer"),
        ("member.role_change", member["id"], "viewer -> member"),
        ("member.role_change", member["id"], "member -> billing"),
        ("member.remove", member["id"], "ada@example.com"),
    ]


def test_an_added_member_acts_with_their_role(client: TestClient, runtime: Runtime) -> None:
    viewer = member_of(runtime, "viewer")
    email = client.get("/v3/user", headers=viewer).json()["email"]
    assert client.get(BUCKETS, headers=viewer).status_code == 200
    assert client.post(BUCKETS, json={}, headers=viewer).status_code == 403
    assert client.patch(f"{MEMBERS}/{email}", json={"role": "billing"}).status_code == 200
    assert client.get(BUCKETS, headers=viewer).status_code == 403
    assert client.delete(f"{MEMBERS}/{email}").status_code == 200
    assert client.get(BUCKETS, headers=viewer).status_code == 404
    assert client.get("/v3/user", headers=viewer).json()["organizations"] == []


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [("delete", f"/{OPERATOR}", None), ("patch", f"/{OPERATOR}", {"role": "admin"})],
    ids=["remove", "demote"],
)
def test_the_last_owner_cannot_be_removed_or_demoted(
    client: TestClient, runtime: Runtime, method: str, suffix: str, body: dict[str, str] | None
) -> None:
    add(client, "helper@example.com", "admin")
    before = counts(runtime)
    response = client.request(method, MEMBERS + suffix, json=body)
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "last owner" in response.json()["detail"]
    assert roles(client)[OPERATOR] == "owner"
    assert counts(runtime) == before
    assert [e.action for e in events(runtime, outcome="succeeded")] == ["member.add"]


def test_an_owner_may_leave_or_step_down_once_there_is_another(client: TestClient, runtime: Runtime) -> None:
    add(client, "second@example.com", "owner")
    assert client.patch(f"{MEMBERS}/{OPERATOR}", json={"role": "admin"}).status_code == 200
    second = member_of(runtime, "owner")  # a third owner, whose token we hold
    assert (
        client.patch(f"{MEMBERS}/second@example.com", json={"role": "viewer"}, headers=second).status_code
        == 200
    )
    own_email = client.get("/v3/user", headers=second).json()["email"]
    # the last owner again: refused, whoever asks
    assert client.delete(f"{MEMBERS}/{own_email}", headers=second).status_code == 409
    assert client.patch(f"{MEMBERS}/{own_email}", json={"role": "admin"}, headers=second).status_code == 409
    assert roles(client) == {
        OPERATOR: "admin",
        "second@example.com": "viewer",
        own_email: "owner",
    }


@pytest.mark.parametrize(
    "attempt",
    ["add an owner", "promote to owner", "demote an owner", "remove an owner"],
)
def test_an_admin_may_not_grant_change_or_remove_the_owner_role(
    client: TestClient, runtime: Runtime, attempt: str
) -> None:
    admin = member_of(runtime, "admin")
    add(client, "plain@example.com", "member")
    add(client, "boss@example.com", "owner")
    before = counts(runtime)
    response = {
        "add an owner": lambda: add(client, "new@example.com", "owner", headers=admin),
        "promote to owner": lambda: client.patch(
            f"{MEMBERS}/plain@example.com", json={"role": "owner"}, headers=admin
        ),
        "demote an owner": lambda: client.patch(
            f"{MEMBERS}/boss@example.com", json={"role": "admin"}, headers=admin
        ),
        "remove an owner": lambda: client.delete(f"{MEMBERS}/boss@example.com", headers=admin),
    }[attempt]()
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["permission"] == "members.owners"
    admin_email = client.get("/v3/user", headers=admin).json()["email"]
    assert roles(client) == {
        OPERATOR: "owner",
        admin_email: "admin",
        "plain@example.com": "member",
        "boss@example.com": "owner",
    }
    users, memberships, audit_events = counts(runtime)
    assert (users, memberships) == before[:2]
    # the refusal itself is recorded, and nothing else
    assert audit_events == before[2] + 1
    denied = events(runtime, outcome="denied")[-1]
    assert (denied.action, denied.outcome) == ("members.owners", "denied")
    assert denied.actor_email == admin_email
    assert denied.request_id == response.headers["x-request-id"]


def test_an_admin_manages_the_roles_below_owner(client: TestClient, runtime: Runtime) -> None:
    admin = member_of(runtime, "admin")
    assert add(client, "new@example.com", "admin", headers=admin).status_code == 201
    assert (
        client.patch(f"{MEMBERS}/new@example.com", json={"role": "viewer"}, headers=admin).status_code == 200
    )
    assert client.delete(f"{MEMBERS}/new@example.com", headers=admin).status_code == 200
    for role in ("member", "viewer", "billing"):
        refused = add(client, f"{role}@example.com", "viewer", headers=member_of(runtime, role))
        assert refused.status_code == 403
        assert refused.json()["permission"] == "members.manage"
    assert "viewer@example.com" not in roles(client)


def test_adding_an_existing_member_is_a_409(client: TestClient, runtime: Runtime) -> None:
    assert add(client, "ada@example.com", "viewer").status_code == 201
    before = counts(runtime)
    again = add(client, "ADA@example.com", "admin")
    assert again.status_code == 409
    assert "ada@example.com" in again.json()["detail"]
    assert roles(client)["ada@example.com"] == "viewer"
    assert counts(runtime) == before


def test_a_user_of_another_organization_may_be_added_here_too(client: TestClient, runtime: Runtime) -> None:
    assert client.post("/v3/organizations", json={"slug": "acme"}).status_code == 201
    there = client.post("/v3/organizations/acme/members", json={"email": "ada@example.com", "role": "viewer"})
    assert there.status_code == 201
    before = counts(runtime)
    assert add(client, "ada@example.com", "member").status_code == 201
    users, memberships, _ = counts(runtime)
    assert (users, memberships) == (before[0], before[1] + 1)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "role": "viewer"}, "email"),
        ({"email": "two@@example.com", "role": "viewer"}, "email"),
        ({"email": "ada@example.com", "role": "boss"}, "role"),
        ({"email": "ada@example.com", "role": "operator"}, "role"),
        ({"email": "ada@example.com"}, "role"),
        ({"role": "viewer"}, "email"),
        ({"email": "ada@example.com", "role": "viewer", "admin": True}, "admin"),
    ],
)
def test_bad_member_input_is_a_422_naming_the_field_and_records_nothing(
    client: TestClient, runtime: Runtime, payload: dict[str, Any], field: str
) -> None:
    before = counts(runtime)
    response = client.post(MEMBERS, json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert counts(runtime) == before


def test_a_bad_role_change_is_a_422_and_changes_nothing(client: TestClient, runtime: Runtime) -> None:
    add(client, "ada@example.com", "viewer")
    before = counts(runtime)
    for body in ({"role": "superuser"}, {}, {"role": "admin", "extra": 1}):
        response = client.patch(f"{MEMBERS}/ada@example.com", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] in {"role", "extra"}
    assert roles(client)["ada@example.com"] == "viewer"
    assert counts(runtime) == before


def test_removing_a_member_revokes_their_project_tokens_in_that_organization(
    client: TestClient, runtime: Runtime
) -> None:
    assert client.post("/v3/organizations", json={"slug": "acme"}).status_code == 201
    assert client.post("/v3/organizations/acme/projects", json={"slug": "web"}).status_code == 201
    admin = member_of(runtime, "admin")
    email = client.get("/v3/user", headers=admin).json()["email"]
    assert (
        client.post("/v3/organizations/acme/members", json={"email": email, "role": "admin"}).status_code
        == 201
    )
    here = client.post(
        "/v3/organizations/demo/tokens",
        json={"name": "ci", "project": "default", "role_cap": "member"},
        headers=admin,
    ).json()
    there = client.post(
        "/v3/organizations/acme/tokens",
        json={"name": "ci", "project": "web", "role_cap": "member"},
        headers=admin,
    ).json()
    assert client.get(BUCKETS, headers=bearer(here["token"])).status_code == 200

    assert client.delete(f"{MEMBERS}/{email}").status_code == 200
    assert client.get(BUCKETS, headers=bearer(here["token"])).status_code == 401
    with runtime.db.session() as session:
        assert session.scalars(select(ApiToken.revoked_at).where(ApiToken.id == here["id"])).one() is not None
    # their project token in another organization, and their personal token, keep working
    assert (
        client.get("/v3/organizations/acme/projects/web/buckets", headers=bearer(there["token"])).status_code
        == 200
    )
    assert client.get("/v3/user", headers=admin).status_code == 200
    assert client.get(BUCKETS, headers=admin).status_code == 404


def test_demoting_a_member_narrows_the_project_tokens_they_made(client: TestClient, runtime: Runtime) -> None:
    admin = member_of(runtime, "admin")
    email = client.get("/v3/user", headers=admin).json()["email"]
    made = client.post(
        "/v3/organizations/demo/tokens",
        json={"name": "ci", "project": "default", "role_cap": "member"},
        headers=admin,
    )
    assert made.status_code == 201
    token = bearer(made.json()["token"])
    body = {"name": "never-made", "provider": "local", "region": "local-1"}
    assert client.get(BUCKETS, headers=token).status_code == 200

    assert client.patch(f"{MEMBERS}/{email}", json={"role": "viewer"}).status_code == 200
    refused = client.post(BUCKETS, json=body, headers=token)
    assert refused.status_code == 403
    assert refused.json()["permission"] == "buckets.create"
    assert client.get(BUCKETS, headers=token).status_code == 200
    assert client.patch(f"{MEMBERS}/{email}", json={"role": "billing"}).status_code == 200
    assert client.get(BUCKETS, headers=token).status_code == 403


def test_another_organizations_member_answers_404_like_a_missing_one(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.db.session() as session:
        factories.organization(session, "rival")
        session.commit()
    rival_owner = member_of(runtime, "owner", "rival")
    rival_email = client.get("/v3/user", headers=rival_owner).json()["email"]
    rival_member = client.get("/v3/organizations/rival/members", headers=rival_owner).json()["members"][0]
    missing = ["mem_00000000000000000000000000", "nobody@example.test"]
    for method, body in (("patch", {"role": "viewer"}), ("delete", None)):
        answers = [
            client.request(method, f"{MEMBERS}/{key}", json=body)
            for key in (rival_member["id"], rival_email, *missing)
        ]
        assert [a.status_code for a in answers] == [404] * 4
        details = [a.json()["detail"] for a in answers]
        for detail, key in zip(details, (rival_member["id"], rival_email, *missing), strict=True):
            assert detail == f"{key!r} is not a member of 'demo'"
    members = client.get("/v3/organizations/rival/members", headers=rival_owner).json()["members"]
    assert [(m["email"], m["role"]) for m in members] == [(rival_email, "owner")]
