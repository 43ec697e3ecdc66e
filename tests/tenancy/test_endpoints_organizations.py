"""Organizations and projects over API v3: create, list, show, rename, delete, and nothing of others'."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.runtime import Runtime
from loopback.tenancy.models import ApiToken, AuditEvent, Organization, Project
from tests import factories
from tests.conftest import BUCKETS, unique_bucket_name, wait_for, wait_for_status
from tests.factories import bearer, member_of

ORGS = "/v3/organizations"


def succeeded(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.outcome == "succeeded")
                .order_by(AuditEvent.id)
            )
        )


def rows(runtime: Runtime, model: Any) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def create_bucket(client: TestClient, org: str, project: str) -> dict[str, Any]:
    response = client.post(
        f"{ORGS}/{org}/projects/{project}/buckets",
        json={"name": unique_bucket_name("org"), "provider": "local", "region": "local-1"},
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def project_token(client: TestClient, org: str, project: str, cap: str = "member") -> dict[str, Any]:
    response = client.post(f"{ORGS}/{org}/tokens", json={"name": "ci", "project": project, "role_cap": cap})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- organizations ---------------------------------------------------------------------------


def test_create_list_show_and_rename_an_organization(client: TestClient, runtime: Runtime) -> None:
    created = client.post(ORGS, json={"slug": "acme", "name": "Acme Ltd"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["slug"], body["name"], body["role"], body["deleted_at"]) == (
        "acme",
        "Acme Ltd",
        "owner",
        None,
    )
    assert created.headers["location"] == f"{ORGS}/acme"

    mine = client.get(ORGS).json()["organizations"]
    assert [(o["slug"], o["role"]) for o in mine] == [("acme", "owner"), ("demo", "owner")]
    assert client.get(f"{ORGS}/acme").json()["id"] == body["id"]

    renamed = client.patch(f"{ORGS}/acme", json={"name": "Acme Inc"})
    assert renamed.status_code == 200
    assert (renamed.json()["slug"], renamed.json()["name"]) == ("acme", "Acme Inc")
    assert client.get(f"{ORGS}/acme").json()["name"] == "Acme Inc"

    [create] = succeeded(runtime, "organization.create")
    [rename] = succeeded(runtime, "organization.rename")
    assert create.organization_id == rename.organization_id == body["id"]
    assert rename.actor_email == "operator@loopback.local"
    assert rename.detail == "'Acme Ltd' -> 'Acme Inc'"


def test_a_new_organization_is_listed_for_its_creator_only(client: TestClient, runtime: Runtime) -> None:
    outsider = member_of(runtime, "viewer", "demo")
    assert client.post(ORGS, json={"slug": "acme"}).status_code == 201
    assert [o["slug"] for o in client.get(ORGS, headers=outsider).json()["organizations"]] == ["demo"]
    assert client.get(f"{ORGS}/acme", headers=outsider).status_code == 404
    # anyone may create an organization of their own and owns it
    theirs = client.post(ORGS, json={"slug": "theirs"}, headers=outsider)
    assert theirs.status_code == 201
    assert theirs.json()["role"] == "owner"
    assert client.get(f"{ORGS}/theirs").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"slug": "Bad_Slug"}, "slug"),
        ({"slug": "ab"}, "slug"),
        ({"slug": "double--hyphen"}, "slug"),
        ({"slug": "x" * 64}, "slug"),
        ({"name": "No slug"}, "slug"),
        ({"slug": "fine-slug", "name": ""}, "name"),
        ({"slug": "fine-slug", "colour": "red"}, "colour"),
    ],
)
def test_bad_organization_input_is_a_422_naming_the_field_and_records_nothing(
    client: TestClient, runtime: Runtime, payload: dict[str, str], field: str
) -> None:
    before = (rows(runtime, Organization), rows(runtime, AuditEvent))
    response = client.post(ORGS, json=payload)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert (rows(runtime, Organization), rows(runtime, AuditEvent)) == before


def test_a_taken_slug_is_a_409_and_records_nothing(client: TestClient, runtime: Runtime) -> None:
    before = (rows(runtime, Organization), rows(runtime, AuditEvent))
    response = client.post(ORGS, json={"slug": "demo"})
    assert response.status_code == 409
    assert "'demo'" in response.json()["detail"]
    assert (rows(runtime, Organization), rows(runtime, AuditEvent)) == before


def test_an_organization_with_live_buckets_is_not_deleted_then_it_is_and_its_slug_is_free(
    client: TestClient, runtime: Runtime
) -> None:
    created = client.post(ORGS, json={"slug": "acme"}).json()
    assert client.post(f"{ORGS}/acme/projects", json={"slug": "web"}).status_code == 201
    token = project_token(client, "acme", "web")
    old_admin = member_of(runtime, "admin", "acme")
    buckets = [create_bucket(client, "acme", "web")["id"] for _ in range(2)]

    refused = client.delete(f"{ORGS}/acme")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "2 live buckets" in refused.json()["detail"]
    assert client.get(f"{ORGS}/acme").status_code == 200
    assert succeeded(runtime, "organization.delete") == []

    paths = [f"{ORGS}/acme/projects/web/buckets/{bucket_id}" for bucket_id in buckets]
    for path in paths:
        assert wait_for_status_at(client, path, "ready", "failed")["status"] == "ready"
        assert client.delete(path).status_code == 202
    for path in paths:
        wait_for_status_at(client, path, "deleted")

    deleted = client.delete(f"{ORGS}/acme")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted_at"] is not None
    assert client.get(f"{ORGS}/acme").status_code == 404
    assert "acme" not in [o["slug"] for o in client.get(ORGS).json()["organizations"]]
    # its projects and project tokens go with it
    assert client.get(BUCKETS, headers=bearer(token["token"])).status_code == 401
    with runtime.db.session() as session:
        row = session.get(ApiToken, token["id"])
        assert row is not None
        assert row.revoked_at is not None
        project = session.scalars(select(Project).where(Project.organization_id == created["id"])).one()
        assert project.deleted_at is not None
    [event] = succeeded(runtime, "organization.delete")
    assert event.organization_id == created["id"]

    again = client.post(ORGS, json={"slug": "acme"})
    assert again.status_code == 201
    assert again.json()["id"] != created["id"]
    assert client.get(f"{ORGS}/acme/projects").json()["projects"] == []
    # the old organization's members are none of the new one's
    assert client.get(f"{ORGS}/acme", headers=old_admin).status_code == 404
    assert [m["email"] for m in client.get(f"{ORGS}/acme/members").json()["members"]] == [
        "operator@loopback.local"
    ]


def wait_for_status_at(
    client: TestClient, path: str, *statuses: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    def current() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(path, headers=headers).json()
        return body if body["status"] in statuses else None

    result: dict[str, Any] = wait_for(current)
    return result


def test_an_organization_without_buckets_is_deleted_by_its_owner_only(
    client: TestClient, runtime: Runtime
) -> None:
    assert client.post(ORGS, json={"slug": "acme"}).status_code == 201
    admin = member_of(runtime, "admin", "acme")
    refused = client.delete(f"{ORGS}/acme", headers=admin)
    assert refused.status_code == 403
    assert refused.json()["permission"] == "organization.delete"
    assert client.delete(f"{ORGS}/acme").status_code == 200
    assert client.get(f"{ORGS}/acme", headers=admin).status_code == 404


def test_renaming_needs_an_admin(client: TestClient, runtime: Runtime) -> None:
    for role, status in (("admin", 200), ("member", 403), ("viewer", 403), ("billing", 403)):
        response = client.patch(
            f"{ORGS}/demo", json={"name": f"by {role}"}, headers=member_of(runtime, role, "demo")
        )
        assert response.status_code == status, (role, response.text)
        if status == 403:
            assert response.json()["permission"] == "organization.rename"
    assert client.get(f"{ORGS}/demo").json()["name"] == "by admin"


# --- projects --------------------------------------------------------------------------------


def test_create_list_show_rename_and_delete_a_project(client: TestClient, runtime: Runtime) -> None:
    created = client.post(f"{ORGS}/demo/projects", json={"slug": "web", "name": "Website"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["slug"], body["name"], body["organization"]) == ("web", "Website", "demo")
    assert created.headers["location"] == f"{ORGS}/demo/projects/web"
    assert [p["slug"] for p in client.get(f"{ORGS}/demo/projects").json()["projects"]] == ["default", "web"]
    assert client.get(f"{ORGS}/demo/projects/web").json()["id"] == body["id"]

    renamed = client.patch(f"{ORGS}/demo/projects/web", json={"name": "Web site"})
    assert renamed.status_code == 200
    assert (renamed.json()["slug"], renamed.json()["name"]) == ("web", "Web site")

    deleted = client.delete(f"{ORGS}/demo/projects/web")
    assert deleted.status_code == 200
    assert deleted.json()["deleted_at"] is not None
    assert client.get(f"{ORGS}/demo/projects/web").status_code == 404
    assert client.get(f"{ORGS}/demo/projects/web/buckets").status_code == 404
    assert [p["slug"] for p in client.get(f"{ORGS}/demo/projects").json()["projects"]] == ["default"]
    # the slug is free again, for a new project
    again = client.post(f"{ORGS}/demo/projects", json={"slug": "web"})
    assert again.status_code == 201
    assert again.json()["id"] != body["id"]

    for action in ("project.create", "project.rename", "project.delete"):
        events = succeeded(runtime, action)
        assert events, action
        assert events[0].project_id == body["id"]
        assert events[0].target == body["id"]


def test_a_project_with_a_live_bucket_is_not_deleted(client: TestClient, runtime: Runtime) -> None:
    bucket = client.post(
        BUCKETS, json={"name": unique_bucket_name(), "provider": "local", "region": "local-1"}
    )
    assert bucket.status_code == 202
    refused = client.delete(f"{ORGS}/demo/projects/default")
    assert refused.status_code == 409
    assert "1 live bucket;" in refused.json()["detail"]
    assert client.get(f"{ORGS}/demo/projects/default").status_code == 200
    assert succeeded(runtime, "project.delete") == []
    wait_for_status(client, bucket.json()["id"], "ready", "failed")


def test_deleting_a_project_revokes_its_project_tokens_only(client: TestClient, runtime: Runtime) -> None:
    assert client.post(f"{ORGS}/demo/projects", json={"slug": "web"}).status_code == 201
    doomed = project_token(client, "demo", "web", "viewer")
    kept = project_token(client, "demo", "default", "viewer")
    assert client.get(f"{ORGS}/demo/projects/web/buckets", headers=bearer(doomed["token"])).status_code == 200

    assert client.delete(f"{ORGS}/demo/projects/web").status_code == 200
    assert client.get(f"{ORGS}/demo/projects/web/buckets", headers=bearer(doomed["token"])).status_code == 401
    assert client.get(BUCKETS, headers=bearer(kept["token"])).status_code == 200
    listed = {t["id"]: t for t in client.get(f"{ORGS}/demo/tokens").json()["tokens"]}
    assert listed[doomed["id"]]["revoked_at"] is not None
    assert listed[kept["id"]]["revoked_at"] is None


def test_a_project_slug_is_unique_among_live_projects(client: TestClient, runtime: Runtime) -> None:
    before = rows(runtime, Project)
    response = client.post(f"{ORGS}/demo/projects", json={"slug": "default"})
    assert response.status_code == 409
    assert "'default'" in response.json()["detail"]
    bad = client.post(f"{ORGS}/demo/projects", json={"slug": "Nope!"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["slug"]
    assert rows(runtime, Project) == before


def test_projects_are_created_renamed_and_deleted_by_admins_only(
    client: TestClient, runtime: Runtime
) -> None:
    member = member_of(runtime, "member", "demo")
    admin = member_of(runtime, "admin", "demo")
    refused = client.post(f"{ORGS}/demo/projects", json={"slug": "web"}, headers=member)
    assert refused.status_code == 403
    assert refused.json()["permission"] == "projects.create"
    assert client.post(f"{ORGS}/demo/projects", json={"slug": "web"}, headers=admin).status_code == 201
    assert client.get(f"{ORGS}/demo/projects/web", headers=member).status_code == 200
    for method, kwargs in (("patch", {"json": {"name": "Mine"}}), ("delete", {})):
        response = client.request(method, f"{ORGS}/demo/projects/web", headers=member, **kwargs)
        assert response.status_code == 403
        assert response.json()["permission"] == "projects.manage"
    assert client.delete(f"{ORGS}/demo/projects/web", headers=admin).status_code == 200


# --- out of the organization -----------------------------------------------------------------


@pytest.fixture
def foreign(client: TestClient, runtime: Runtime) -> dict[str, str]:
    """Organization ``rival`` with project ``secret-plans`` and a bucket, none of demo's business."""
    with runtime.db.session() as session:
        rival = factories.organization(session, "rival", ("secret-plans",))
        session.commit()
        owner = bearer(factories.member_token(session, rival, "owner"))
    bucket = client.post(
        f"{ORGS}/rival/projects/secret-plans/buckets",
        json={"name": unique_bucket_name("rival"), "provider": "local", "region": "local-1"},
        headers=owner,
    )
    assert bucket.status_code == 202, bucket.text
    path = f"{ORGS}/rival/projects/secret-plans/buckets/{bucket.json()['id']}"
    assert wait_for_status_at(client, path, "ready", "failed", headers=owner)["status"] == "ready"
    return {"bucket": bucket.json()["id"], "name": bucket.json()["name"], **owner}


def same_answer(
    client: TestClient, method: str, existing: str, missing: str, **kwargs: Any
) -> dict[str, Any]:
    """Both paths answer 404 alike: the bodies differ only by the path segments the caller sent."""
    answers = [client.request(method, path, **kwargs) for path in (existing, missing)]
    for answer in answers:
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    bodies = [answer.json() for answer in answers]
    for answer, body in zip(answers, bodies, strict=True):
        assert body.pop("request_id") == answer.headers["X-Request-ID"]  # each its own request's
    differing = [
        (mine, other)
        for mine, other in zip(existing.split("/"), missing.split("/"), strict=True)
        if mine != other
    ]
    normalised = []
    for index, body in enumerate(bodies):
        text = json.dumps(body, sort_keys=True)
        for pair in differing:
            text = text.replace(pair[index], "<sent>")
        normalised.append(text)
    assert normalised[0] == normalised[1]
    return bodies[0]


def test_another_organization_answers_404_as_if_it_did_not_exist(
    client: TestClient, runtime: Runtime, foreign: dict[str, str]
) -> None:
    for method, suffix, kwargs in (
        ("get", "", {}),
        ("patch", "", {"json": {"name": "Mine now"}}),
        ("delete", "", {}),
        ("get", "/projects", {}),
        ("post", "/projects", {"json": {"slug": "mine"}}),
        ("get", "/members", {}),
        ("post", "/members", {"json": {"email": "spy@example.test", "role": "owner"}}),
        ("get", "/tokens", {}),
        ("get", "/audit-events", {}),
        ("get", "/usage", {}),
    ):
        body = same_answer(client, method, f"{ORGS}/rival{suffix}", f"{ORGS}/nowhere{suffix}", **kwargs)
        assert "secret-plans" not in body["detail"]
        assert "Rival" not in body["detail"]
    with runtime.db.session() as session:
        rival = session.scalars(select(Organization).where(Organization.slug == "rival")).one()
        assert rival.name == "Rival"
        assert rival.deleted_at is None
        # nothing was recorded there in demo's operator's name
        assert (
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.organization_id == rival.id,
                    AuditEvent.actor_email == "operator@loopback.local",
                )
            ).all()
            == []
        )


def test_another_organizations_project_and_bucket_answer_404(
    client: TestClient, foreign: dict[str, str]
) -> None:
    rival = f"{ORGS}/rival/projects/secret-plans"
    same_answer(client, "get", rival, f"{ORGS}/rival/projects/nothing-here")
    same_answer(client, "get", f"{rival}/buckets", f"{ORGS}/rival/projects/nothing-here/buckets")
    same_answer(client, "get", f"{rival}/buckets", f"{ORGS}/nowhere/projects/secret-plans/buckets")
    # a foreign bucket's id under one's own project is just as unknown as a made-up one
    for method in ("get", "delete"):
        body = same_answer(
            client, method, f"{BUCKETS}/{foreign['bucket']}", f"{BUCKETS}/bkt_00000000000000000000000000"
        )
        assert foreign["name"] not in body["detail"]
    same_answer(
        client,
        "post",
        f"{BUCKETS}/{foreign['bucket']}/credentials",
        f"{BUCKETS}/bkt_00000000000000000000000000/credentials",
    )
    same_answer(
        client,
        "post",
        f"{BUCKETS}/{foreign['bucket']}/usage/refresh",
        f"{BUCKETS}/bkt_00000000000000000000000000/usage/refresh",
    )
    # and the bucket is untouched
    theirs = client.get(
        f"{rival}/buckets/{foreign['bucket']}", headers={"Authorization": foreign["Authorization"]}
    )
    assert theirs.status_code == 200
    assert theirs.json()["status"] != "deleting"
