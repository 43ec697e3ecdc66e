"""Quotas over ASGI: what applies at each level, who may set it, and the bucket count a create is held to."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.app import create_app
from loopback.buckets.models import Bucket, BucketEvent
from loopback.kit.clock import utcnow
from loopback.kit.errors import Invalid
from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from loopback.tenancy.models import AuditEvent
from tests.conftest import OPERATOR_HEADERS, operator_scope, unique_bucket_name
from tests.factories import member_of, organization

ORG = "/v3/organizations/demo/quotas"
PROJECT = "/v3/organizations/demo/projects/default/quotas"
V3 = "/v3/organizations/demo/projects/default/buckets"
V2 = "/v2/organizations/demo/projects/default/buckets"
INSTALLATION_BUCKETS = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The installation allows two buckets per project and sets no other quota."""
    return settings.model_copy(update={"quota_buckets": INSTALLATION_BUCKETS})


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    """The API as the bootstrap operator (owner of ``demo``); no worker: new buckets stay pending."""
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        yield client


def create(api: TestClient, path: str = V3, name: str | None = None) -> Any:
    body = {"name": name or unique_bucket_name("quota"), "provider": "local", "region": "local-1"}
    return api.post(path, json=body)


def rows(runtime: Runtime) -> tuple[int, int, int]:
    """Buckets, bucket events and bucket-create audit events recorded."""
    with runtime.db.session() as session:
        buckets = session.scalar(select(func.count()).select_from(Bucket))
        events = session.scalar(select(func.count()).select_from(BucketEvent))
        audits = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "bucket.create")
        )
    return int(buckets or 0), int(events or 0), int(audits or 0)


def test_at_the_quota_the_next_create_answers_422_naming_it_and_records_nothing(
    api: TestClient, runtime: Runtime
) -> None:
    for _ in range(INSTALLATION_BUCKETS):
        assert create(api).status_code == 202
    before = rows(runtime)
    name = unique_bucket_name("over")
    for path in (V3, V2):
        refused = create(api, path, name)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        (error,) = refused.json()["errors"]
        assert error["field"] == "quota.buckets"
        assert error["detail"] == "the installation's quota allows 2 buckets in project 'default'; it has 2"
    assert rows(runtime) == before
    shown = api.get(PROJECT).json()
    assert shown["quotas"]["buckets"] == {"own": None, "limit": 2, "source": "installation"}
    assert shown["use"]["buckets"] == 2


def test_adopting_is_held_to_the_quota_too(api: TestClient, runtime: Runtime, operator_s3: Any) -> None:
    existing = unique_bucket_name("adopt")
    operator_s3.create_bucket(Bucket=existing)
    try:
        for _ in range(INSTALLATION_BUCKETS):
            assert create(api).status_code == 202
        before = rows(runtime)
        body = {"name": existing, "provider": "local", "region": "local-1"}
        refused = api.post(f"{V3}/adopt", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "quota.buckets"
        assert rows(runtime) == before
    finally:
        operator_s3.delete_bucket(Bucket=existing)


def test_a_bucket_counts_until_it_is_deleted(api: TestClient, runtime: Runtime) -> None:
    made = [create(api).json()["id"] for _ in range(INSTALLATION_BUCKETS)]
    assert api.delete(f"{V3}/{made[0]}").status_code == 202
    assert create(api).status_code == 422  # deleting is not deleted yet
    with runtime.db.session() as session:  # what the reconcile writes when the provider's bucket is gone
        bucket = session.get(Bucket, made[0])
        assert bucket is not None
        bucket.status, bucket.deleted_at = "deleted", utcnow()
    assert create(api).status_code == 202


def test_levels_resolve_project_then_organization_then_installation(
    api: TestClient, runtime: Runtime
) -> None:
    assert api.get(ORG).json()["quotas"]["buckets"] == {"own": None, "limit": 2, "source": "installation"}
    assert api.get(ORG).json()["quotas"]["project_bytes"] == {"own": None, "limit": None, "source": None}
    set_org = api.put(ORG, json={"buckets": 5, "project_bytes": 10**9})
    assert set_org.status_code == 200, set_org.text
    assert set_org.json()["quotas"]["buckets"] == {"own": 5, "limit": 5, "source": "organization"}
    assert api.get(PROJECT).json()["quotas"]["buckets"] == {"own": None, "limit": 5, "source": "organization"}

    admin = member_of(runtime, "admin")
    set_project = api.put(PROJECT, json={"buckets": 3}, headers=admin)
    assert set_project.status_code == 200, set_project.text
    body = set_project.json()
    assert body["quotas"]["buckets"] == {"own": 3, "limit": 3, "source": "project"}
    assert body["quotas"]["project_bytes"] == {"own": None, "limit": 10**9, "source": "organization"}
    assert body["enforced"] == [
        "buckets",
        "bucket_bytes",
        "bucket_objects",
        "project_bytes",
        "project_objects",
    ]

    # the operator lowers the organization's below the project's own: the organization's applies
    api.put(ORG, json={"buckets": 1})
    assert api.get(PROJECT).json()["quotas"]["buckets"] == {"own": 3, "limit": 1, "source": "organization"}
    assert create(api).status_code == 202
    refused = create(api)
    assert refused.json()["errors"][0]["detail"].startswith("the organization's quota allows 1 bucket ")


def test_a_project_never_above_its_organization_and_bad_input_change_nothing(
    api: TestClient, runtime: Runtime
) -> None:
    api.put(ORG, json={"buckets": 4, "bucket_objects": 100})
    admin = member_of(runtime, "admin")
    above = api.put(PROJECT, json={"buckets": 5, "bucket_objects": 100}, headers=admin)
    assert above.status_code == 422, above.text
    assert above.json()["errors"] == [
        {
            "field": "buckets",
            "pointer": "#/buckets",
            "detail": "5 is above the organization's quota of 4",
        }
    ]
    above_installation = api.put(PROJECT, json={"buckets": 3, "bucket_objects": 101}, headers=admin)
    assert above_installation.status_code == 422
    assert above_installation.json()["errors"][0]["field"] == "bucket_objects"
    for bad in ({"buckets": -1}, {"buckets": "many"}, {"bucket": 3}):
        answer = api.put(PROJECT, json=bad, headers=admin)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"].endswith("buckets" if "buckets" in bad else "bucket")
    assert api.get(PROJECT).json()["quotas"]["buckets"] == {"own": None, "limit": 4, "source": "organization"}
    with runtime.db.session() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("quotas.%"))).all()
    assert actions == ["quotas.organization"]


def test_who_may_read_and_set(api: TestClient, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        organization(session, "other")
        session.commit()
    for role in ("member", "viewer"):
        headers = member_of(runtime, role)
        assert api.get(PROJECT, headers=headers).status_code == 200
        assert api.put(PROJECT, json={"buckets": 1}, headers=headers).status_code == 403
    owner = member_of(runtime, "owner")
    assert api.put(ORG, json={"buckets": 1}, headers=owner).status_code == 403  # the operator's
    stranger = member_of(runtime, "owner", "other")
    assert api.get(ORG, headers=stranger).status_code == 404
    assert api.get(PROJECT, headers=stranger).status_code == 404
    assert api.put(PROJECT, json={"buckets": 1}, headers=stranger).status_code == 404
    assert api.put("/v3/organizations/nowhere/quotas", json={"buckets": 1}).status_code == 404


def test_a_create_waits_for_the_one_holding_the_last_place(runtime: Runtime) -> None:
    """A create that holds the project's last place (PostgreSQL: the project's row locked; SQLite:
    the write lock) makes the next one wait for it, and that one then counts the bucket the first
    recorded (PostgreSQL's READ COMMITTED: a new statement, a new snapshot)."""
    buckets = runtime.buckets
    with runtime.db.session() as first_session:
        scope = operator_scope(first_session)
        buckets.create(first_session, scope, unique_bucket_name("one"), "local", "local-1")
    holding, done = threading.Event(), threading.Event()
    outcome: list[object] = []

    def second() -> None:
        holding.wait(10)
        with runtime.db.session() as session:
            try:
                buckets.create(
                    session, operator_scope(session), unique_bucket_name("two"), "local", "local-1"
                )
                outcome.append("created")
            except Invalid as error:
                outcome.append(error)
        done.set()

    thread = threading.Thread(target=second)
    thread.start()
    with runtime.db.session() as session:
        scope = operator_scope(session)
        buckets.quota.hold(session, scope)  # the last place, held
        holding.set()
        assert not done.wait(1.0), "the second create did not wait for the place the first holds"
        buckets.create(session, scope, unique_bucket_name("last"), "local", "local-1")
    thread.join(10)
    (refused,) = outcome
    assert isinstance(refused, Invalid), refused
    assert refused.problems[0].field == "quota.buckets"


def test_simultaneous_creates_take_exactly_the_places_there_are(runtime: Runtime) -> None:
    together = 6
    barrier = threading.Barrier(together)
    outcomes: list[str] = []

    def create_one() -> None:
        with runtime.db.session() as session:
            scope = operator_scope(session)
            barrier.wait(10)
            try:
                runtime.buckets.create(session, scope, unique_bucket_name("race"), "local", "local-1")
                outcomes.append("created")
            except Invalid as error:
                outcomes.append(error.problems[0].field)

    threads = [threading.Thread(target=create_one) for _ in range(together)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["created"] * 2 + ["quota.buckets"] * (together - 2)
    assert rows(runtime)[0] == INSTALLATION_BUCKETS
