"""Counts hold only the caller's rows: v2's ``total`` and the organization's usage rollup, read from
the maintained per-project totals, count the buckets of the project (or organization) asked about
and of no other, whoever else holds buckets in the same table.

``scripts/mutate_scopes.py`` removes the scope filter of the totals' reads and shows this failing:
a count leaks no id, so the leak test cannot see it.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from loopback.app import create_app
from loopback.runtime import Runtime
from tests import factories
from tests.conftest import OPERATOR_HEADERS, unique_bucket_name

# organization: buckets of each of its projects (the operator's demo and a rival's)
WORLD = {"demo": {"default": 2, "second": 1}, "rival": {"shop": 3, "lake": 4}}


def test_totals_and_the_rollup_count_only_the_callers_buckets(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        rival = factories.organization(session, "rival", ("shop", "lake"))
        headers = {
            "demo": OPERATOR_HEADERS,
            "rival": factories.bearer(factories.member_token(session, rival, "owner")),
        }
    with TestClient(create_app(runtime)) as client:  # no worker: the buckets stay pending
        created = client.post(
            "/v3/organizations/demo/projects", json={"slug": "second"}, headers=headers["demo"]
        )
        assert created.status_code == 201, created.text
        ids: dict[str, list[str]] = {}
        for org, projects in WORLD.items():
            for project, count in projects.items():
                for _ in range(count):
                    response = client.post(
                        f"/v3/organizations/{org}/projects/{project}/buckets",
                        json={"name": unique_bucket_name(project), "provider": "local", "region": "local-1"},
                        headers=headers[org],
                    )
                    assert response.status_code == 202, response.text
                    ids.setdefault(project, []).append(response.json()["id"])
        for org, projects in WORLD.items():
            for project, count in projects.items():
                v2 = f"/v2/organizations/{org}/projects/{project}/buckets"
                pages = [
                    client.get(v2, params={"page": n, "per_page": 1}, headers=headers[org]).json()
                    for n in range(1, count + 1)
                ]
                assert [page["total"] for page in pages] == [count] * count
                # a page between the first and the last skips to its first row among this project's alone
                assert [b["id"] for page in pages for b in page["buckets"]] == ids[project]
            usage = client.get(f"/v3/organizations/{org}/usage", headers=headers[org]).json()
            assert {p["project"]: p["buckets"] for p in usage["projects"]} == projects
            assert usage["buckets"] == sum(projects.values())
