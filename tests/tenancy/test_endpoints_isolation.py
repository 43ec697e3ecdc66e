"""Every route of the OpenAPI document, called by every kind of caller, answers what the table says.

The expected status comes from the permission table (``tenancy/permissions.py``) and who the
caller is; the actual one from the API over ASGI. A route without an ``x-permission`` or without a
request below fails the test, so a new route cannot skip it. Each call starts from the same
world (the SQLite file is restored from a template), so a delete that is allowed cannot change
what the next caller sees. Runs on SQLite: the checks are the application's, and the tenant
filters are exercised on PostgreSQL by the endpoint tests.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from loopback.app import PUBLIC, create_app
from loopback.credentials.service import GrantRequest, KeyRequest
from loopback.kit.clock import utcnow
from loopback.kit.ids import new_id
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.providers.seaweedfs import EmbeddedSeaweedFS
from loopback.runtime import Runtime
from loopback.serve import register_embedded_storage
from loopback.tenancy.access import (
    Principal,
    generate_token,
    hash_token,
    organization_scope,
    project_scope,
    token_prefix,
)
from loopback.tenancy.models import ApiToken, Membership, Organization, Project, User
from loopback.tenancy.permissions import PERMISSIONS, Role, Scope, permission
from loopback.tenancy.service import bootstrap

OPERATOR_TOKEN = "lbk_isolation-operator"


@dataclass
class Caller:
    """One kind of caller and what the table needs to know about it."""

    name: str
    token: str | None = None
    spare_token_id: str = "tok_missing"  # a personal token of its own, for the revoke route
    role: Role | None = None  # role in organization `acme`; None: not a member
    operator: bool = False
    project_token_of: str | None = None  # project slug in `acme`
    cap: Role | None = None
    unusable: bool = False  # expired, revoked or absent: 401 everywhere


@dataclass
class World:
    runtime: Runtime
    template: Path
    database: Path
    ids: dict[str, str] = field(default_factory=dict)
    callers: dict[str, Caller] = field(default_factory=dict)

    def restore(self) -> None:
        self.runtime.db.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.database}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.database)


def _user(session: Any, email: str, operator: bool = False) -> User:
    user = User(id=new_id("usr"), email=email, is_operator=operator)
    session.add(user)
    session.flush()
    return user


def _token(
    session: Any,
    user: User,
    *,
    project: Project | None = None,
    cap: Role | None = None,
    expired: bool = False,
    revoked: bool = False,
) -> tuple[str, str]:
    raw = generate_token()
    row = ApiToken(
        id=new_id("tok"),
        user_id=user.id,
        kind="project" if project else "personal",
        organization_id=project.organization_id if project else None,
        project_id=project.id if project else None,
        role_cap=cap,
        name="isolation",
        prefix=token_prefix(raw),
        token_hash=hash_token(raw),
        expires_at=utcnow() - timedelta(minutes=1) if expired else None,
        revoked_at=utcnow() if revoked else None,
    )
    session.add(row)
    session.flush()
    return raw, row.id


@pytest.fixture(scope="module")
def world(seaweedfs: EmbeddedSeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("isolation")
    database = data_dir / "loopback.db"
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{database}",
        bootstrap_token=OPERATOR_TOKEN,
        embedded_storage=False,
        auth_failures_per_minute=1_000_000,  # hundreds of deliberate 401s here; limits have their own test
    )
    upgrade(settings.resolved_database_url)
    runtime = Runtime.from_settings(settings)
    ids: dict[str, str] = {}
    callers: dict[str, Caller] = {}
    bucket_name = f"iso-{secrets.token_hex(6)}"
    with runtime.db.session() as session:
        bootstrap(session, settings)
        register_embedded_storage(runtime, session, seaweedfs)
        acme = Organization(id=new_id("org"), slug="acme", name="Acme")
        other = Organization(id=new_id("org"), slug="other", name="Other")
        session.add_all([acme, other])
        session.flush()
        projects = {
            slug: Project(id=new_id("prj"), organization_id=org.id, slug=slug, name=slug)
            for slug, org in (("web", acme), ("data", acme), ("elsewhere", other))
        }
        session.add_all(projects.values())
        session.flush()

        def member(email: str, organization: Organization, role: Role) -> User:
            user = _user(session, email)
            session.add(
                Membership(id=new_id("mem"), organization_id=organization.id, user_id=user.id, role=role)
            )
            session.flush()
            return user

        users: dict[str, User] = {}
        for role in (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER, Role.BILLING):
            users[role] = member(f"{role}@acme.test", acme, role)
            raw, _ = _token(session, users[role])
            _, spare = _token(session, users[role])
            callers[role] = Caller(role.value, raw, spare, role=role)
        target = member("target@acme.test", acme, Role.MEMBER)
        ids["member"] = session.scalars(
            text("SELECT id FROM memberships WHERE user_id = :user").bindparams(user=target.id)
        ).one()

        stranger = member("owner@other.test", other, Role.OWNER)
        raw, _ = _token(session, stranger)
        _, spare = _token(session, stranger)
        callers["other-organization"] = Caller("other-organization", raw, spare)

        operator = session.scalars(text("SELECT id FROM users WHERE is_operator")).one()
        operator_user = session.get(User, operator)
        assert operator_user is not None
        _, spare = _token(session, operator_user)
        callers["operator"] = Caller("operator", OPERATOR_TOKEN, spare, operator=True)

        owner = users[Role.OWNER]
        raw, _ = _token(session, owner, project=projects["data"], cap=Role.OWNER)
        callers["project-token-of-data"] = Caller(
            "project-token-of-data", raw, project_token_of="data", cap=Role.OWNER
        )
        raw, _ = _token(session, owner, project=projects["web"], cap=Role.MEMBER)
        callers["project-token-of-web"] = Caller(
            "project-token-of-web", raw, project_token_of="web", cap=Role.MEMBER
        )
        raw, _ = _token(session, owner, expired=True)
        callers["expired"] = Caller("expired", raw, unusable=True)
        raw, _ = _token(session, owner, revoked=True)
        callers["revoked"] = Caller("revoked", raw, unusable=True)
        callers["no-token"] = Caller("no-token", None, unusable=True)
        _, ids["project_token"] = _token(session, owner, project=projects["web"], cap=Role.VIEWER)
        session.commit()

        # A ready bucket that exists at the provider, with a credential issued for real.
        scope = project_scope(session, _principal(owner), "acme", "web", permission("buckets.create"))
        view = runtime.buckets.create(session, scope, bucket_name, "local", "local-1")
        ids["bucket"] = view.bucket.id
    s3 = boto3.client(
        "s3",
        endpoint_url=seaweedfs.endpoint,
        aws_access_key_id=seaweedfs.identity.access_key_id,
        aws_secret_access_key=seaweedfs.identity.secret_access_key,
        region_name="local-1",
    )
    s3.create_bucket(Bucket=bucket_name)
    ids["adoptable"] = f"iso-adopt-{secrets.token_hex(6)}"  # at the provider, unknown to Loopback
    s3.create_bucket(Bucket=ids["adoptable"])
    with runtime.db.session() as session:
        session.execute(
            text(
                "UPDATE buckets SET status = 'ready', observed_generation = generation, endpoint = :e "
                "WHERE id = :id"
            ).bindparams(e=seaweedfs.endpoint, id=ids["bucket"])
        )
        session.commit()
        scope = project_scope(
            session, _principal(users[Role.OWNER]), "acme", "web", permission("credentials.issue")
        )
        issued, _ = runtime.credentials.issue_and_commit(
            session, scope, KeyRequest(grants=[GrantRequest(ids["bucket"])])
        )
        ids["credential"] = issued.credential.id
        hooks = organization_scope(
            session, _principal(users[Role.OWNER]), "acme", permission("webhooks.manage")
        )
        ids["webhook"] = runtime.webhooks.create(session, hooks, "https://hooks.invalid/h", [], None)[0].id
        session.commit()  # the unit of work ends here, so the checkpoint finds no open transaction
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    runtime.db.dispose()
    template = data_dir / "template.db"
    shutil.copyfile(database, template)
    yield World(runtime, template, database, ids, callers)
    runtime.close()


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, email=user.email, token_id="tok_setup", is_operator=False)


@dataclass(frozen=True)
class Call:
    """A request that succeeds for an allowed caller in the world above, and the status it then gets."""

    ok: int
    body: dict[str, Any] | None = None


B = "/v3/organizations/{org}/projects/{project}/buckets"
C = B + "/{bucket_id}/credentials"
K = "/v3/organizations/{org}/projects/{project}/credentials"
W = "/v3/organizations/{org}/webhooks"
CALLS: dict[tuple[str, str], Call] = {
    ("get", "/healthz"): Call(200),
    ("get", "/readyz"): Call(200),
    ("get", "/v3/regions"): Call(200),
    ("get", "/v3/token"): Call(200),
    ("get", "/v3/user"): Call(200),
    ("get", "/v3/user/tokens"): Call(200),
    ("post", "/v3/user/tokens"): Call(201, {"name": "laptop", "role_cap": "viewer"}),
    ("delete", "/v3/user/tokens/{token_id}"): Call(200),
    ("get", "/v3/organizations"): Call(200),
    ("post", "/v3/organizations"): Call(201, {"slug": "fresh-org"}),
    ("get", "/v3/organizations/{org}"): Call(200),
    ("patch", "/v3/organizations/{org}"): Call(200, {"name": "Acme Inc"}),
    ("delete", "/v3/organizations/{org}"): Call(409),  # it has a live bucket: allowed, and refused for that
    ("get", "/v3/organizations/{org}/usage"): Call(200),
    ("get", "/v3/organizations/{org}/billing/usage"): Call(200),
    ("get", "/v3/organizations/{org}/quotas"): Call(200),
    ("put", "/v3/organizations/{org}/quotas"): Call(200, {"buckets": 10, "project_bytes": 10**12}),
    ("get", "/v3/organizations/{org}/projects/{project}/quotas"): Call(200),
    ("put", "/v3/organizations/{org}/projects/{project}/quotas"): Call(200, {"buckets": 5}),
    ("get", "/v3/organizations/{org}/projects"): Call(200),
    ("post", "/v3/organizations/{org}/projects"): Call(201, {"slug": "fresh-project"}),
    ("get", "/v3/organizations/{org}/projects/{project}"): Call(200),
    ("patch", "/v3/organizations/{org}/projects/{project}"): Call(200, {"name": "Website"}),
    ("delete", "/v3/organizations/{org}/projects/{project}"): Call(409),  # live bucket, as above
    ("get", "/v3/organizations/{org}/members"): Call(200),
    ("post", "/v3/organizations/{org}/members"): Call(201, {"email": "new@acme.test", "role": "viewer"}),
    ("patch", "/v3/organizations/{org}/members/{member}"): Call(200, {"role": "viewer"}),
    ("delete", "/v3/organizations/{org}/members/{member}"): Call(200),
    ("get", "/v3/organizations/{org}/tokens"): Call(200),
    ("post", "/v3/organizations/{org}/tokens"): Call(
        201, {"name": "ci", "project": "web", "role_cap": "viewer"}
    ),
    ("delete", "/v3/organizations/{org}/tokens/{token_id}"): Call(200),
    ("get", "/v3/organizations/{org}/audit-events"): Call(200),
    ("get", W): Call(200),
    ("post", W): Call(201, {"url": "https://hooks.example.invalid/new", "events": ["bucket.ready"]}),
    ("get", W + "/{webhook_id}"): Call(200),
    ("patch", W + "/{webhook_id}"): Call(200, {"enabled": False}),
    ("delete", W + "/{webhook_id}"): Call(200),
    ("post", W + "/{webhook_id}/rotate-secret"): Call(200),
    ("post", W + "/{webhook_id}/test"): Call(202),
    ("get", W + "/{webhook_id}/deliveries"): Call(200),
    ("get", "/v3/operator/providers"): Call(200),
    ("post", "/v3/operator/providers"): Call(
        201,
        {
            "name": "fresh-provider",
            "family": "s3",
            "access_key_id": "FRESHKEYID",
            "secret_access_key": "fresh-provider-secret",
        },
    ),
    ("get", "/v3/operator/providers/{name}"): Call(200),
    ("patch", "/v3/operator/providers/{name}"): Call(200, {"display_name": "Local storage"}),
    ("post", "/v3/operator/providers/{name}/disable"): Call(200),
    ("post", "/v3/operator/providers/{name}/enable"): Call(200),
    ("post", "/v3/operator/providers/{name}/test"): Call(200),  # a real round trip at `local`
    ("get", B): Call(200),
    ("post", B): Call(202, {"name": "fresh-bucket-iso", "provider": "local", "region": "local-1"}),
    ("get", B + "/{bucket_id}"): Call(200),
    ("get", B + "/{bucket_id}/events"): Call(200),
    ("post", B + "/validate"): Call(
        200, {"name": "fresh-valid-iso", "provider": "local", "region": "local-1"}
    ),
    ("post", B + "/adopt"): Call(201, {"name": "{adoptable}", "provider": "local", "region": "local-1"}),
    ("post", B + "/{bucket_id}/replace"): Call(202, {"name": "fresh-replacement-iso"}),
    ("delete", B + "/{bucket_id}"): Call(202),
    ("post", B + "/{bucket_id}/usage/refresh"): Call(202),
    ("get", C): Call(200),
    ("post", C): Call(201),
    ("delete", C + "/{credential_id}"): Call(200),
    ("get", K): Call(200),
    ("post", K): Call(
        201, {"name": "two modes", "grants": [{"bucket_id": "{bucket}", "access": "read-only"}]}
    ),
    ("get", K + "/{credential_id}"): Call(200),
    ("patch", K + "/{credential_id}"): Call(200, {"name": "renamed"}),
    ("post", K + "/{credential_id}/rotate"): Call(201, {"grace_seconds": 60}),
    ("delete", K + "/{credential_id}"): Call(200),
    ("get", "/v2/organizations/{org}/projects/{project}/buckets"): Call(200),
    ("post", "/v2/organizations/{org}/projects/{project}/buckets"): Call(
        202, {"name": "fresh-v2-iso", "provider": "local", "region": "local-1"}
    ),
    ("get", "/v2/organizations/{org}/projects/{project}/buckets/{bucket_id}"): Call(200),
    ("delete", "/v2/organizations/{org}/projects/{project}/buckets/{bucket_id}"): Call(202),
}
CALLERS = [
    *(r.value for r in (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER, Role.BILLING)),
    "operator",
    "project-token-of-web",
    "project-token-of-data",
    "other-organization",
    "expired",
    "revoked",
    "no-token",
]


def expected_status(permission_name: str, path: str, caller: Caller, ok: int) -> int:
    """What the permission table says this caller gets on this route."""
    if permission_name == PUBLIC:
        return ok
    if caller.unusable:
        return 401
    entry = PERMISSIONS[permission_name]
    if entry.scope is Scope.AUTHENTICATED:
        return ok
    if entry.scope is Scope.USER:
        return 403 if caller.project_token_of else ok
    if entry.scope is Scope.INSTALLATION:
        return ok if caller.operator and not caller.project_token_of else 403
    if caller.project_token_of is not None:
        if entry.scope is Scope.ORGANIZATION:
            return 403
        if "{project}" in path and caller.project_token_of != "web":
            return 404
        role = caller.cap
    else:
        role = caller.role
    if role is None:
        return 404
    return ok if role in entry.roles else 403


def filled(body: Any, ids: dict[str, str]) -> Any:
    """A request body with ``{name}`` in its strings replaced by the world's ids, at any depth."""
    if isinstance(body, str):
        return body.format(**ids)
    if isinstance(body, dict):
        return {k: filled(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [filled(v, ids) for v in body]
    return body


def fill(path: str, world: World, caller: Caller) -> str:
    token_id = world.ids["project_token"] if "/organizations/" in path else caller.spare_token_id
    return path.format(
        org="acme",
        project="web",
        bucket_id=world.ids["bucket"],
        credential_id=world.ids["credential"],
        member=world.ids["member"],
        token_id=token_id,
        webhook_id=world.ids["webhook"],
        name="local",  # the provider of /v3/operator/providers/{name}
    )


@pytest.fixture(scope="module")
def api(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.runtime)) as client:
        yield client


@pytest.fixture(scope="module")
def operations(api: TestClient) -> dict[tuple[str, str], dict[str, Any]]:
    document = api.get("/openapi.json").json()
    return {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_route_has_a_permission_and_a_request_here(
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    unlabelled = [route for route, operation in operations.items() if "x-permission" not in operation]
    assert not unlabelled, f"routes without a permission (use tenancy.auth.requires): {unlabelled}"
    unknown = {
        route: op["x-permission"]
        for route, op in operations.items()
        if op["x-permission"] != PUBLIC and op["x-permission"] not in PERMISSIONS
    }
    assert not unknown, f"routes naming a permission the table does not have: {unknown}"
    untested = sorted(set(operations) - set(CALLS))
    assert not untested, f"routes with no request in CALLS of this test: {untested}"
    stale = sorted(set(CALLS) - set(operations))
    assert not stale, f"CALLS names routes the API no longer has: {stale}"


@pytest.mark.parametrize("route", sorted(CALLS), ids=lambda route: f"{route[0].upper()} {route[1]}")
def test_each_caller_gets_what_the_table_says(
    route: tuple[str, str],
    world: World,
    api: TestClient,
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    method, path = route
    call = CALLS[route]
    permission_name = operations[route]["x-permission"]
    mismatches = []
    for name in CALLERS:
        caller = world.callers[name]
        world.restore()
        headers = {"Authorization": f"Bearer {caller.token}"} if caller.token else {}
        body = filled(call.body, world.ids) if call.body else None
        response = api.request(method, fill(path, world, caller), json=body, headers=headers)
        want = expected_status(permission_name, path, caller, call.ok)
        if response.status_code != want:
            mismatches.append(f"{name}: want {want}, got {response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", response.text
        if response.status_code == 403:
            assert response.json()["permission"] in PERMISSIONS, response.text
    assert not mismatches, f"{method.upper()} {path} ({permission_name}):\n" + "\n".join(mismatches)


def test_docs_permissions_md_is_generated_from_the_table() -> None:
    from loopback.tenancy.permissions import markdown

    document = Path(__file__).parents[2] / "docs" / "permissions.md"
    assert document.read_text() == markdown(), "docs/permissions.md is stale: run `make docs`"
