"""The isolation test that sees leaks, not only refusals.

A world of two organizations with two projects each, every project with a ready bucket, a key, a
project token and events, every organization with members and audit events. Every GET route of the
OpenAPI document (v3 and v2) is called by every caller of organization ``acme``; no response body
may hold an id, access key id, bucket name or project slug of a row outside the caller's reach:
organization ``rival`` always, and project ``data`` on the routes of project ``web``.

``scripts/mutate_scopes.py`` removes each scope filter of the repositories in turn and shows this
test failing for each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from loopback.app import create_app
from loopback.runtime import Runtime
from loopback.tenancy.service import issue_user_token
from tests.conftest import OPERATOR_HEADERS, unique_bucket_name, wait_for

ORGS = {"acme": ("web", "data"), "rival": ("rival-shop", "rival-lake")}


@dataclass
class Place:
    org: str
    project: str
    bucket_id: str = ""
    bucket_name: str = ""
    credential_id: str = ""
    access_key_id: str = ""
    token_id: str = ""
    webhook_id: str = ""  # rival's only: acme's own is LeakWorld.webhook_id


@dataclass
class LeakWorld:
    client: TestClient
    places: dict[tuple[str, str], Place]
    callers: dict[str, str]  # name -> bearer token
    member_id: str = ""
    webhook_id: str = ""  # acme's webhook
    secrets_of: dict[str, set[str]] = field(default_factory=dict)  # org or org/project -> its strings


def _ok(response: Any, *codes: int) -> Any:
    assert response.status_code in codes, response.text
    return response.json()


@pytest.fixture
def leak_world(runtime: Runtime, worker: None) -> Iterator[LeakWorld]:
    client = TestClient(create_app(runtime), headers=OPERATOR_HEADERS)
    places: dict[tuple[str, str], Place] = {}
    webhooks: dict[str, str] = {}
    for org, projects in ORGS.items():
        _ok(client.post("/v3/organizations", json={"slug": org}), 201)
        # before its buckets, so that their events make deliveries (to a port that refuses them)
        hook = {"url": f"https://hooks.example.invalid/{org}"}
        webhooks[org] = _ok(client.post(f"/v3/organizations/{org}/webhooks", json=hook), 201)["id"]
        _ok(
            client.post(
                f"/v3/organizations/{org}/members", json={"email": f"dev@{org}.test", "role": "member"}
            ),
            201,
        )
        for project in projects:
            _ok(client.post(f"/v3/organizations/{org}/projects", json={"slug": project}), 201)
            place = Place(org, project, webhook_id=webhooks[org] if org == "rival" else "")
            buckets = f"/v3/organizations/{org}/projects/{project}/buckets"
            created = _ok(
                client.post(
                    buckets,
                    json={"name": unique_bucket_name(project[:6]), "provider": "local", "region": "local-1"},
                ),
                202,
            )
            place.bucket_id, place.bucket_name = created["id"], created["name"]
            wait_for(lambda b=buckets, i=created["id"]: client.get(f"{b}/{i}").json()["status"] == "ready")
            key = _ok(
                client.post(f"{buckets}/{place.bucket_id}/credentials", json={"name": f"key of {project}"}),
                201,
            )
            place.credential_id, place.access_key_id = key["id"], key["access_key_id"]
            token = _ok(
                client.post(
                    f"/v3/organizations/{org}/tokens",
                    json={"name": f"ci {project}", "project": project, "role_cap": "member"},
                ),
                201,
            )
            place.token_id = token["id"]
            places[(org, project)] = place
    callers: dict[str, str] = {}
    with runtime.db.session() as session:
        for role in ("owner", "viewer"):
            email = f"{role}@acme.test"
            issued = issue_user_token(session, email, "leaks", None)
            callers[role] = issued.secret
    for role in ("owner", "viewer"):
        _ok(
            client.post("/v3/organizations/acme/members", json={"email": f"{role}@acme.test", "role": role}),
            201,
        )
    web_token = _ok(
        client.post(
            "/v3/organizations/acme/tokens",
            json={"name": "leak web", "project": "web", "role_cap": "member"},
            headers={"Authorization": f"Bearer {callers['owner']}"},
        ),
        201,
    )
    callers["project-token-of-web"] = web_token["token"]
    world = LeakWorld(client, places, callers, webhook_id=webhooks["acme"])
    members = _ok(client.get("/v3/organizations/acme/members"), 200)["members"]
    world.member_id = next(m["id"] for m in members if m["email"] == "dev@acme.test")
    world.secrets_of = _strings_by_place(runtime, places)
    yield world
    client.close()


def _strings_by_place(runtime: Runtime, places: dict[tuple[str, str], Place]) -> dict[str, set[str]]:
    """Every id and name a response could leak, by the organization (and project) it belongs to."""
    found: dict[str, set[str]] = {}
    with runtime.db.session() as session:
        for org in ORGS:
            organization_id = session.execute(
                text("SELECT id FROM organizations WHERE slug = :s"), {"s": org}
            ).scalar_one()
            rows: set[str] = {organization_id}
            for table in (
                "projects",
                "memberships",
                "api_tokens",
                "audit_events",
                "buckets",
                "credentials",
                "webhook_endpoints",
                "webhook_deliveries",
            ):
                rows |= set(
                    session.execute(
                        text(f"SELECT id FROM {table} WHERE organization_id = :o"), {"o": organization_id}
                    ).scalars()
                )
            rows |= set(
                session.execute(
                    text(
                        "SELECT e.id FROM bucket_events e JOIN buckets b ON b.id = e.bucket_id "
                        "WHERE b.organization_id = :o"
                    ),
                    {"o": organization_id},
                ).scalars()
            )
            found[org] = rows
            for (place_org, project), place in places.items():
                if place_org != org:
                    continue
                project_id = session.execute(
                    text("SELECT id FROM projects WHERE organization_id = :o AND slug = :s"),
                    {"o": organization_id, "s": project},
                ).scalar_one()
                events = set(
                    session.execute(
                        text("SELECT id FROM bucket_events WHERE bucket_id = :b"), {"b": place.bucket_id}
                    ).scalars()
                )
                found[f"{org}/{project}"] = (
                    {
                        place.bucket_id,
                        place.bucket_name,
                        place.credential_id,
                        place.access_key_id,
                        *events,
                    }
                    | ({project} if org == "rival" else set())
                    | ({project_id} if org == "rival" else set())
                )
                found[org] |= found[f"{org}/{project}"]
    return found


def _fill(path: str, world: LeakWorld) -> str:
    web = world.places[("acme", "web")]
    return path.format(
        org="acme",
        project="web",
        bucket_id=web.bucket_id,
        credential_id=web.credential_id,
        member=world.member_id,
        token_id=web.token_id,
        webhook_id=world.webhook_id,
        name="local",
    )


def _forbidden(path: str, world: LeakWorld) -> set[str]:
    """What a caller of organization acme may never see on this route."""
    strings = set(world.secrets_of["rival"])
    if "/projects/{project}" in path:  # a project's routes show nothing of the organization's other project
        strings |= world.secrets_of["acme/data"]
    return strings


def test_no_route_shows_a_row_outside_the_callers_reach(leak_world: LeakWorld) -> None:
    client = leak_world.client
    document = client.get("/openapi.json").json()
    routes = sorted(path for path, operations in document["paths"].items() if "get" in operations)
    assert len(routes) >= 20, routes
    leaks: list[str] = []
    answered = 0
    for path in routes:
        url = _fill(path, leak_world)
        forbidden = _forbidden(path, leak_world)
        for caller, token in leak_world.callers.items():
            response = client.get(url, headers={"Authorization": f"Bearer {token}"})
            if response.status_code == 200:
                answered += 1
            body = response.text
            seen = sorted(s for s in forbidden if s and re.search(re.escape(s), body))
            if seen:
                leaks.append(f"GET {path} as {caller} ({response.status_code}): {seen[:5]}")
    leaks += _foreign_ids_in_paths(leak_world, routes)
    assert not leaks, "rows outside the caller's reach:\n" + "\n".join(leaks)
    assert answered >= 30, f"only {answered} answers were 200: the world or the callers are wrong"


FOREIGN_PARAMS = {
    "{bucket_id}": "bucket_id",
    "{credential_id}": "credential_id",
    "{token_id}": "token_id",
    "{webhook_id}": "webhook_id",
}


def _foreign_ids_in_paths(world: LeakWorld, routes: list[str]) -> list[str]:
    """The same routes under acme/web with another project's or organization's id in the path."""
    leaks: list[str] = []
    foreign = [world.places[("acme", "data")], world.places[("rival", "rival-shop")]]
    for path in routes:
        for marker, attribute in FOREIGN_PARAMS.items():
            if marker not in path:
                continue
            for place in foreign:
                sent = getattr(place, attribute)  # the caller's own words may come back in a 404's detail
                if not sent:
                    continue
                url = _fill(path.replace(marker, sent), world)
                secrets = world.secrets_of[f"{place.org}/{place.project}"] - {sent}
                for caller, token in world.callers.items():
                    response = world.client.get(url, headers={"Authorization": f"Bearer {token}"})
                    shown = sorted(s for s in secrets if s in response.text)
                    if response.status_code == 200 or shown:
                        leaks.append(
                            f"GET {path} with {place.org}/{place.project}'s id as {caller}: "
                            f"{response.status_code} {shown[:3]}"
                        )
    return leaks


def test_the_world_holds_what_a_leak_would_show(leak_world: LeakWorld) -> None:
    """The search can fail: the operator, owner of both organizations, does see rival's rows."""
    body = leak_world.client.get("/v3/organizations").text
    assert any(s in body for s in leak_world.secrets_of["rival"])
    rival = leak_world.places[("rival", "rival-shop")]
    listed = leak_world.client.get("/v3/organizations/rival/projects/rival-shop/credentials").text
    assert rival.access_key_id in listed
