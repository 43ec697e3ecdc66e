"""Personal and project tokens over API v3: shown once, stored hashed, capped, scoped and revocable."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from loopback.tenancy.models import ApiToken, AuditEvent
from tests import factories
from tests.conftest import BUCKETS
from tests.factories import bearer, member_of

PERSONAL = "/v3/user/tokens"
PROJECT_TOKENS = "/v3/organizations/demo/tokens"
NEW_BUCKET = {"name": "never-made-here", "provider": "local", "region": "local-1"}


def personal(client: TestClient, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return client.post(PERSONAL, json={"name": "laptop", **body}, headers=headers)


def project_token(client: TestClient, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return client.post(PROJECT_TOKENS, json={"name": "ci", "project": "default", **body}, headers=headers)


def token_rows(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(ApiToken)) or 0)


def denied(runtime: Runtime) -> list[AuditEvent]:
    with runtime.db.session() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied").order_by(AuditEvent.id))
        )


# --- personal tokens -------------------------------------------------------------------------


def test_a_personal_token_is_shown_once_and_stored_as_its_sha256(
    client: TestClient, runtime: Runtime
) -> None:
    response = personal(client, expires_in_days=30)
    assert response.status_code == 201, response.text
    issued = response.json()
    secret = issued["token"]
    assert secret.startswith("lbk_")
    assert len(secret) > 40
    assert secret.startswith(issued["prefix"])
    assert (issued["name"], issued["kind"], issued["role_cap"], issued["revoked_at"]) == (
        "laptop",
        "personal",
        None,
        None,
    )
    with runtime.db.session() as session:
        row = session.get(ApiToken, issued["id"])
        assert row is not None
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
        assert not any(secret in value for value in stored)
        assert row.expires_at is not None
        assert timedelta(days=29, hours=23) < row.expires_at - utcnow() <= timedelta(days=30)

    assert client.get("/v3/user", headers=bearer(secret)).json()["token_id"] == issued["id"]
    listing = client.get(PERSONAL)
    assert secret not in listing.text
    assert "token_hash" not in listing.text
    mine = {t["id"]: t for t in listing.json()["tokens"]}
    assert "token" not in mine[issued["id"]]
    assert mine[issued["id"]]["prefix"] == issued["prefix"]
    assert mine[issued["id"]]["last_used_at"] is not None
    assert mine[issued["id"]]["expires_at"] is not None
    assert secret not in client.get("/v3/organizations/demo/audit-events").text


def test_a_token_without_expiry_lasts_until_revoked(client: TestClient) -> None:
    issued = personal(client).json()
    assert issued["expires_at"] is None
    for days in (0, -1, 3651):
        response = personal(client, expires_in_days=days)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "expires_in_days"


def test_a_revoked_personal_token_answers_401_on_the_next_request(
    client: TestClient, runtime: Runtime
) -> None:
    issued = personal(client).json()
    headers = bearer(issued["token"])
    assert client.get(BUCKETS, headers=headers).status_code == 200
    revoked = client.delete(f"{PERSONAL}/{issued['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert "token" not in revoked.json()
    after = client.get(BUCKETS, headers=headers)
    assert after.status_code == 401
    assert after.headers["content-type"] == "application/problem+json"
    assert after.headers["www-authenticate"].startswith("Bearer")
    listed = {t["id"]: t for t in client.get(PERSONAL).json()["tokens"]}
    assert listed[issued["id"]]["revoked_at"] is not None
    with runtime.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.target == issued["id"]).order_by(AuditEvent.id)
        ).all()
    assert actions == ["token.create", "token.revoke"]


def test_a_token_may_revoke_itself(client: TestClient) -> None:
    headers = bearer(personal(client).json()["token"])
    own = client.get("/v3/user", headers=headers).json()["token_id"]
    assert client.delete(f"{PERSONAL}/{own}", headers=headers).status_code == 200
    assert client.get("/v3/user", headers=headers).status_code == 401


def test_someone_elses_personal_token_is_not_found(client: TestClient, runtime: Runtime) -> None:
    other = member_of(runtime, "viewer")
    theirs = personal(client, headers=other).json()
    missing = client.delete(f"{PERSONAL}/tok_00000000000000000000000000")
    foreign = client.delete(f"{PERSONAL}/{theirs['id']}")
    assert (missing.status_code, foreign.status_code) == (404, 404)
    assert foreign.json()["detail"] == f"token {theirs['id']} does not exist"
    assert theirs["id"] not in client.get(PERSONAL).text
    assert client.get("/v3/user", headers=bearer(theirs["token"])).status_code == 200


def test_a_viewer_capped_personal_token_reads_but_does_not_change_or_widen(
    client: TestClient, runtime: Runtime
) -> None:
    capped = personal(client, role_cap="viewer").json()
    headers = bearer(capped["token"])
    assert client.get(BUCKETS, headers=headers).status_code == 200
    assert client.get("/v3/organizations/demo", headers=headers).status_code == 200

    rename = client.patch("/v3/organizations/demo", json={"name": "Mine"}, headers=headers)
    assert rename.status_code == 403
    assert rename.json()["permission"] == "organization.rename"
    assert "capped" in rename.json()["detail"]
    assert client.get("/v3/organizations/demo").json()["name"] == "Demo"
    assert client.post(BUCKETS, json=NEW_BUCKET, headers=headers).status_code == 403

    before = token_rows(runtime)
    # billing reads the organization's billing, which a viewer may not: that cap would widen it too
    for cap in (None, "admin", "member", "owner", "billing"):
        body = {} if cap is None else {"role_cap": cap}
        refused = personal(client, headers=headers, **body)
        assert refused.status_code == 403, (cap, refused.text)
        assert refused.json()["permission"] == "tokens.personal"
    assert token_rows(runtime) == before
    assert [e.action for e in denied(runtime)][-5:] == ["tokens.personal"] * 5
    assert personal(client, headers=headers, role_cap="viewer").status_code == 201  # within its own cap


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "role_cap": "emperor"}, "role_cap"),
        ({"name": "x", "role_cap": "operator"}, "role_cap"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "x", "project": "default"}, "project"),
    ],
)
def test_bad_personal_token_input_is_a_422_and_creates_nothing(
    client: TestClient, runtime: Runtime, payload: dict[str, Any], field: str
) -> None:
    before = token_rows(runtime)
    response = client.post(PERSONAL, json=payload)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert token_rows(runtime) == before


# --- project tokens --------------------------------------------------------------------------


def test_a_project_token_is_shown_once_listed_without_it_and_revoked_at_once(
    client: TestClient, runtime: Runtime
) -> None:
    response = project_token(client, role_cap="member", expires_in_days=7)
    assert response.status_code == 201, response.text
    issued = response.json()
    secret = issued["token"]
    assert (issued["kind"], issued["project"], issued["role_cap"]) == ("project", "default", "member")
    assert issued["expires_at"] is not None
    with runtime.db.session() as session:
        row = session.get(ApiToken, issued["id"])
        assert row is not None
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert not any(secret in str(getattr(row, c.key)) for c in ApiToken.__table__.columns)

    assert client.get(BUCKETS, headers=bearer(secret)).status_code == 200
    listing = client.get(PROJECT_TOKENS)
    assert listing.status_code == 200
    assert secret not in listing.text
    [listed] = [t for t in listing.json()["tokens"] if t["id"] == issued["id"]]
    assert "token" not in listed
    assert (listed["prefix"], listed["project"]) == (issued["prefix"], "default")
    assert listed["last_used_at"] is not None
    assert listed["expires_at"] == issued["expires_at"]
    assert [t["id"] for t in client.get(PROJECT_TOKENS, params={"project": "other"}).json()["tokens"]] == []
    # a project token is no personal token
    assert issued["id"] not in client.get(PERSONAL).text

    revoked = client.delete(f"{PROJECT_TOKENS}/{issued['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get(BUCKETS, headers=bearer(secret)).status_code == 401


def test_a_project_token_acts_only_inside_its_project(client: TestClient, runtime: Runtime) -> None:
    assert client.post("/v3/organizations/demo/projects", json={"slug": "web"}).status_code == 201
    web = "/v3/organizations/demo/projects/web"
    for cap in ("owner", "viewer"):
        headers = bearer(project_token(client, role_cap=cap).json()["token"])
        assert client.get(BUCKETS, headers=headers).status_code == 200
        # any other project of the organization: 404, whatever the cap and the method
        for method, path, body in (
            ("get", web, None),
            ("get", f"{web}/buckets", None),
            ("post", f"{web}/buckets", NEW_BUCKET),
            ("patch", web, {"name": "Mine"}),
            ("get", "/v3/organizations/demo/projects/nowhere/buckets", None),
        ):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 404, (cap, method, path, response.text)
        # organization-level routes: 403
        for method, path, body in (
            ("get", "/v3/organizations/demo", None),
            ("get", "/v3/organizations/demo/projects", None),
            ("get", "/v3/organizations/demo/members", None),
            ("post", "/v3/organizations/demo/members", {"email": "a@example.com", "role": "viewer"}),
            ("get", PROJECT_TOKENS, None),
            ("post", PROJECT_TOKENS, {"name": "x", "project": "default", "role_cap": "viewer"}),
            ("get", "/v3/organizations/demo/audit-events", None),
        ):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (cap, method, path, response.text)
            assert "project token" in response.json()["detail"]
        # user routes: 403, so it cannot mint itself a personal token or an organization
        for method, path, body, name in (
            ("get", "/v3/user", None, "user.read"),
            ("get", PERSONAL, None, "tokens.personal"),
            ("post", PERSONAL, {"name": "escape"}, "tokens.personal"),
            ("post", "/v3/organizations", {"slug": "escape"}, "organizations.create"),
        ):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (cap, method, path, response.text)
            assert response.json()["permission"] == name
    assert client.get(web).json()["name"] == "web"


def test_a_project_token_never_acts_above_its_cap(client: TestClient, runtime: Runtime) -> None:
    headers = bearer(project_token(client, role_cap="viewer").json()["token"])
    assert client.get(BUCKETS, headers=headers).status_code == 200
    refused = client.post(BUCKETS, json=NEW_BUCKET, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["permission"] == "buckets.create"
    assert client.get(BUCKETS).json()["buckets"] == []
    event = denied(runtime)[-1]
    assert (event.action, event.outcome) == ("buckets.create", "denied")
    assert event.token_id == client.get(PROJECT_TOKENS).json()["tokens"][0]["id"]

    billing = bearer(project_token(client, role_cap="billing").json()["token"])
    assert client.get(BUCKETS, headers=billing).status_code == 403
    patch = client.patch("/v3/organizations/demo/projects/default", json={"name": "x"}, headers=headers)
    assert patch.status_code == 403


def test_project_token_caps_stay_within_the_creators_role(client: TestClient, runtime: Runtime) -> None:
    member = member_of(runtime, "member")
    admin = member_of(runtime, "admin")
    before = token_rows(runtime)

    by_member = project_token(client, headers=member, role_cap="viewer")
    assert by_member.status_code == 403
    assert by_member.json()["permission"] == "tokens.manage"
    owner_capped = project_token(client, headers=admin, role_cap="owner")
    assert owner_capped.status_code == 403
    assert owner_capped.json()["permission"] == "tokens.manage"
    assert "'owner'" in owner_capped.json()["detail"]
    assert token_rows(runtime) == before
    assert [e.action for e in denied(runtime)] == ["tokens.manage", "tokens.manage"]

    for cap in ("admin", "member", "viewer", "billing"):
        made = project_token(client, headers=admin, role_cap=cap)
        assert made.status_code == 201, (cap, made.text)
    assert project_token(client, role_cap="owner").status_code == 201


def test_a_capped_personal_token_mints_no_project_token_above_its_cap(
    client: TestClient, runtime: Runtime
) -> None:
    admin_capped = bearer(personal(client, role_cap="admin").json()["token"])
    refused = project_token(client, headers=admin_capped, role_cap="owner")
    assert refused.status_code == 403
    assert refused.json()["permission"] == "tokens.manage"
    assert project_token(client, headers=admin_capped, role_cap="admin").status_code == 201
    member_capped = bearer(personal(client, role_cap="member").json()["token"])
    assert project_token(client, headers=member_capped, role_cap="viewer").status_code == 403


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "ci", "project": "default", "role_cap": "wizard"}, "role_cap"),
        ({"name": "ci", "project": "default"}, "role_cap"),
        ({"name": "ci", "project": "nowhere", "role_cap": "viewer"}, "project"),
        ({"name": "ci", "role_cap": "viewer"}, "project"),
        ({"project": "default", "role_cap": "viewer"}, "name"),
    ],
)
def test_bad_project_token_input_is_a_422_and_creates_nothing(
    client: TestClient, runtime: Runtime, payload: dict[str, Any], field: str
) -> None:
    before = token_rows(runtime)
    response = client.post(PROJECT_TOKENS, json=payload)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert token_rows(runtime) == before


def test_a_project_of_another_organization_is_no_valid_project_here(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.db.session() as session:
        factories.organization(session, "rival", ("secret-plans",))
        session.commit()
    response = project_token(client, project="secret-plans", role_cap="viewer")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "project"


def test_another_organizations_token_answers_404_like_a_missing_one(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.db.session() as session:
        factories.organization(session, "rival", ("secret-plans",))
        session.commit()
    rival = member_of(runtime, "owner", "rival")
    theirs = client.post(
        "/v3/organizations/rival/tokens",
        json={"name": "their-ci", "project": "secret-plans", "role_cap": "member"},
        headers=rival,
    ).json()
    missing = "tok_00000000000000000000000000"
    for token_id in (theirs["id"], missing):
        response = client.delete(f"{PROJECT_TOKENS}/{token_id}")
        assert response.status_code == 404
        assert response.json()["detail"] == f"token {token_id} does not exist in 'demo'"
    assert theirs["id"] not in client.get(PROJECT_TOKENS).text
    # it still works, in its own project, and nowhere in demo
    own = "/v3/organizations/rival/projects/secret-plans/buckets"
    assert client.get(own, headers=bearer(theirs["token"])).status_code == 200
    assert client.get(BUCKETS, headers=bearer(theirs["token"])).status_code == 404
    assert client.get("/v3/organizations/demo", headers=bearer(theirs["token"])).status_code == 404


def test_tokens_of_the_organization_are_for_admins(client: TestClient, runtime: Runtime) -> None:
    made = project_token(client, role_cap="viewer").json()
    for role, status in (("admin", 200), ("member", 403), ("viewer", 403), ("billing", 403)):
        headers = member_of(runtime, role)
        assert client.get(PROJECT_TOKENS, headers=headers).status_code == status, role
        revoke = client.delete(f"{PROJECT_TOKENS}/{made['id']}", headers=headers)
        assert revoke.status_code == status, role
        if status == 403:
            assert revoke.json()["permission"] == "tokens.manage"
    assert client.get(BUCKETS, headers=bearer(made["token"])).status_code == 401


# --- the calling token: GET /v3/token --------------------------------------------------------

TOKEN = "/v3/token"


def test_a_personal_token_says_whose_it_is_and_nothing_secret(client: TestClient) -> None:
    issued = personal(client, role_cap="viewer", expires_in_days=30).json()
    operator = client.get("/v3/user").json()

    response = client.get(TOKEN, headers=bearer(issued["token"]))

    assert response.status_code == 200, response.text
    shown = response.json()
    assert {k: shown[k] for k in ("id", "name", "kind", "prefix", "role_cap", "expires_at")} == {
        k: issued[k] for k in ("id", "name", "kind", "prefix", "role_cap", "expires_at")
    }
    assert (shown["organization"], shown["project"], shown["revoked_at"]) == (None, None, None)
    assert shown["user"] == {"id": operator["id"], "email": operator["email"], "operator": True}
    assert issued["token"] not in response.text
    assert "token_hash" not in response.text


def test_a_project_token_says_its_organization_and_project_and_nothing_of_its_maker(
    client: TestClient,
) -> None:
    # The operator who makes the token is also the owner of another organization.
    assert client.post("/v3/organizations", json={"slug": "rival"}).status_code == 201
    assert client.post("/v3/organizations/rival/projects", json={"slug": "secret-plans"}).status_code == 201
    maker = client.get("/v3/user").json()
    issued = project_token(client, role_cap="member").json()
    theirs = client.post(
        "/v3/organizations/rival/tokens",
        json={"name": "their-ci", "project": "secret-plans", "role_cap": "viewer"},
    ).json()

    response = client.get(TOKEN, headers=bearer(issued["token"]))

    assert response.status_code == 200, response.text
    shown = response.json()
    assert (shown["id"], shown["kind"], shown["role_cap"]) == (issued["id"], "project", "member")
    assert (shown["organization"], shown["project"], shown["user"]) == ("demo", "default", None)
    for elsewhere in ("rival", "secret-plans", maker["email"], maker["id"], issued["token"]):
        assert elsewhere not in response.text
    other = client.get(TOKEN, headers=bearer(theirs["token"]))
    assert (other.json()["organization"], other.json()["project"]) == ("rival", "secret-plans")
    for mine in ("demo", "default", issued["id"]):
        assert mine not in other.text


def test_a_revoked_or_expired_token_is_told_nothing(client: TestClient, runtime: Runtime) -> None:
    issued = project_token(client, role_cap="viewer").json()
    assert client.get(TOKEN, headers=bearer(issued["token"])).status_code == 200
    assert client.delete(f"{PROJECT_TOKENS}/{issued['id']}").status_code == 200
    expiring = personal(client, expires_in_days=1).json()
    with runtime.db.session() as session:
        row = session.get(ApiToken, expiring["id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()

    for secret in (issued["token"], expiring["token"], "lbk_never-issued"):
        refused = client.get(TOKEN, headers=bearer(secret))
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert "demo" not in refused.text
    assert client.get(TOKEN, headers={"Authorization": ""}).status_code == 401
