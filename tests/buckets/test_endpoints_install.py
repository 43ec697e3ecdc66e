"""A bucket's install link (issue 13) through API v3: set at create and adopt, shown, kept by a
replace, filtered by each of its parts within the caller's project only, and absent from v2."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.buckets.models import Bucket
from loopback.kit.ids import new_id
from loopback.runtime import Runtime
from loopback.tenancy.models import Organization, Project
from tests import factories
from tests.conftest import BUCKETS, unique_bucket_name, wait_for_status

PARTS = ("catalog_item", "release", "cluster", "namespace", "claim")
LINK = {
    "catalog_item": "postgres-operator",
    "release": "shop-db",
    "cluster": "prod-eu",
    "namespace": "shop",
    "claim": "shop-db-backups",
}
NO_LINK = dict.fromkeys(PARTS)


def create(client: TestClient, install: Any = None, url: str = BUCKETS, **body: Any) -> Any:
    payload = {"name": unique_bucket_name("inst"), "provider": "local", "region": "local-1", **body}
    if install is not None:
        payload["install"] = install
    return client.post(url, json=payload)


def listed(client: TestClient, url: str = BUCKETS, **params: str) -> list[str]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return [b["id"] for b in response.json()["buckets"]]


def bucket_rows(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Bucket)) or 0)


def test_a_bucket_created_with_an_install_link_shows_it_and_one_without_shows_null(
    client: TestClient,
) -> None:
    created = create(client, LINK)
    assert created.status_code == 202, created.text
    assert created.json()["install"] == LINK
    one = client.get(f"{BUCKETS}/{created.json()['id']}").json()  # the Core-row answer
    assert one["install"] == LINK
    partial = create(client, {"release": "only-release"})
    assert partial.json()["install"] == {**NO_LINK, "release": "only-release"}
    assert client.get(f"{BUCKETS}/{partial.json()['id']}").json()["install"]["release"] == "only-release"
    plain = create(client)
    assert plain.json()["install"] is None
    assert client.get(f"{BUCKETS}/{plain.json()['id']}").json()["install"] is None
    rows = {b["id"]: b["install"] for b in client.get(BUCKETS).json()["buckets"]}
    assert rows[created.json()["id"]] == LINK
    assert rows[plain.json()["id"]] is None
    events = client.get(f"{BUCKETS}/{created.json()['id']}/events").json()["events"]
    assert "release shop-db" in events[0]["reason"]


def test_v2_does_not_show_the_install_link_nor_take_one(client: TestClient) -> None:
    created = create(client, LINK).json()
    v2 = BUCKETS.replace("/v3/", "/v2/")
    one = client.get(f"{v2}/{created['id']}").json()
    assert "install" not in one
    assert all("install" not in b for b in client.get(v2, params={"per_page": 100}).json()["buckets"])
    refused = client.post(
        v2, json={"name": unique_bucket_name(), "provider": "local", "region": "local-1", "install": LINK}
    )
    assert refused.status_code == 422
    assert "install" in [e["field"] for e in refused.json()["errors"]]


@pytest.mark.parametrize("part", PARTS)
def test_the_list_filters_by_each_part_of_the_link(client: TestClient, part: str) -> None:
    wanted = create(client, LINK).json()["id"]
    other = create(client, {p: f"other-{p}" for p in PARTS}).json()["id"]
    unlinked = create(client).json()["id"]
    found = listed(client, **{f"install.{part}": LINK[part]})
    assert found == [wanted]
    assert other in listed(client, **{f"install.{part}": f"other-{part}"})
    assert {wanted, other, unlinked} <= set(listed(client, **{f"install.{part}": ""}))  # empty: no filter
    assert listed(client, **{f"install.{part}": "nobody"}) == []


def test_cluster_is_install_cluster_by_its_short_name_and_filters_combine(client: TestClient) -> None:
    wanted = create(client, LINK).json()["id"]
    same_cluster = create(client, {"cluster": "prod-eu", "release": "another"}).json()["id"]
    create(client, {"cluster": "prod-us", "release": "shop-db"})
    assert listed(client, cluster="prod-eu") == [wanted, same_cluster]
    assert listed(client, cluster="prod-eu", **{"install.cluster": "prod-eu"}) == [wanted, same_cluster]
    assert listed(client, cluster="prod-eu", **{"install.release": "shop-db"}) == [wanted]
    # the worker makes them ready meanwhile: a page of one holds one of them still pending, or none
    pending = listed(client, cluster="prod-eu", status="pending", limit="1")
    assert len(pending) <= 1
    assert set(pending) <= {wanted, same_cluster}
    clash = client.get(BUCKETS, params={"cluster": "prod-eu", "install.cluster": "prod-us"})
    assert clash.status_code == 422
    assert [e["field"] for e in clash.json()["errors"]] == ["cluster"]


def test_filtered_pages_follow_the_cursor(client: TestClient) -> None:
    ids = [create(client, {"release": "paged"}).json()["id"] for _ in range(3)]
    create(client, {"release": "not-paged"})
    first = client.get(BUCKETS, params={"install.release": "paged", "limit": 2}).json()
    assert [b["id"] for b in first["buckets"]] == ids[:2]
    rest = client.get(
        BUCKETS, params={"install.release": "paged", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [b["id"] for b in rest["buckets"]] == ids[2:]
    assert rest["next_cursor"] is None


def test_a_filter_never_reaches_another_project_or_organization(client: TestClient, runtime: Runtime) -> None:
    """The same link in another project of the organization and in another organization: the list
    of each caller's project shows its own bucket only, whichever part it filters by."""
    with runtime.db.session() as session:
        demo = session.scalars(select(Organization).where(Organization.slug == "demo")).one()
        session.add(Project(id=new_id("prj"), organization_id=demo.id, slug="second", name="Second"))
        other = factories.organization(session, "elsewhere")
        other_headers = factories.bearer(factories.member_token(session, other, "owner"))
    second = BUCKETS.replace("/projects/default/", "/projects/second/")
    foreign = BUCKETS.replace("/organizations/demo/", "/organizations/elsewhere/")
    mine = create(client, LINK).json()["id"]
    sibling = create(client, LINK, url=second)
    assert sibling.status_code == 202, sibling.text
    stranger = client.post(
        foreign,
        json={"name": unique_bucket_name("inst"), "provider": "local", "region": "local-1", "install": LINK},
        headers=other_headers,
    )
    assert stranger.status_code == 202, stranger.text
    for part in PARTS:
        assert listed(client, **{f"install.{part}": LINK[part]}) == [mine]
        assert listed(client, second, **{f"install.{part}": LINK[part]}) == [sibling.json()["id"]]
        theirs = client.get(foreign, params={f"install.{part}": LINK[part]}, headers=other_headers)
        assert [b["id"] for b in theirs.json()["buckets"]] == [stranger.json()["id"]]
    assert listed(client, cluster=LINK["cluster"]) == [mine]


def test_adopt_takes_an_install_link(client: TestClient, operator_s3: Any) -> None:
    name = unique_bucket_name("inst")
    operator_s3.create_bucket(Bucket=name)
    adopted = client.post(
        f"{BUCKETS}/adopt",
        json={"name": name, "provider": "local", "region": "local-1", "install": {"claim": "found-it"}},
    )
    assert adopted.status_code == 201, adopted.text
    assert adopted.json()["install"] == {**NO_LINK, "claim": "found-it"}
    assert listed(client, **{"install.claim": "found-it"}) == [adopted.json()["id"]]


def test_a_replacement_keeps_the_install_link(client: TestClient) -> None:
    old = create(client, LINK).json()
    wait_for_status(client, old["id"], "ready")
    replaced = client.post(f"{BUCKETS}/{old['id']}/replace", json={"name": unique_bucket_name("inst")})
    assert replaced.status_code == 202, replaced.text
    assert replaced.json()["install"] == LINK
    assert listed(client, **{"install.claim": LINK["claim"]}) == [old["id"], replaced.json()["id"]]


@pytest.mark.parametrize(
    ("install", "field"),
    [
        ({}, "install"),
        ({"release": None, "cluster": None}, "install"),
        ({"release": ""}, "install.release"),
        ({"release": "r" * 254}, "install.release"),
        ({"namespace": "n" * 64}, "install.namespace"),
        ({"catalog_item": 7}, "install.catalog_item"),
        ({"release": "r", "colour": "red"}, "install.colour"),
        ("shop-db", "install"),
    ],
)
def test_a_bad_install_link_is_a_422_naming_the_field_and_records_nothing(
    client: TestClient, runtime: Runtime, install: Any, field: str
) -> None:
    before = bucket_rows(runtime)
    for url in (BUCKETS, f"{BUCKETS}/adopt", f"{BUCKETS}/validate"):
        response = create(client, install, url=url)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert bucket_rows(runtime) == before


def test_a_filter_longer_than_the_part_may_be_is_a_422_naming_it(client: TestClient) -> None:
    response = client.get(BUCKETS, params={"install.namespace": "n" * 64})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["install.namespace"]
