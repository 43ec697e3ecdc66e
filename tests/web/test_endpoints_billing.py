"""The console's billing page (issue 15, point 3): this month so far and last month per project, the
API's figures for the same periods, a bar of GB-hours per project, CSV downloads that parse to the
same numbers, for the roles with ``billing.read`` only; and a bucket's bytes over time as a step line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from loopback.app import create_app
from loopback.buckets.samples import Sample, record_samples
from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from loopback.tenancy.models import Organization
from loopback.web.billing import bounds, days_text, gb_hours_text
from loopback.web.humane import human_bytes
from tests.billing import history
from tests.conftest import OPERATOR_HEADERS
from tests.factories import member_token, organization
from tests.web.conftest import sign_in
from tests.web.test_endpoints_newcomer import text_of

GB = 10**9
H = timedelta(hours=1)
D = timedelta(days=1)
BILLING = "/console/demo/_billing"
USAGE = "/v3/organizations/demo/billing/usage"


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    """The API as the bootstrap operator (owner of ``demo``), to compare the page with."""
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        yield client


def samples(bucket_id: str, *points: tuple[datetime, int]) -> list[Sample]:
    return [Sample(bucket_id, at, size // 1000, size) for at, size in points]


@pytest.fixture
def months(runtime: Runtime) -> dict[str, str]:
    """Last month and this one so far, in two projects of demo and in another organization.

    Every figure is fixed before the test reads it (what a bucket held up to now is zero, or it was
    deleted), so the page and the API, each asking at its own ``now``, must say the same."""
    now = utcnow()
    this_start, _ = bounds("current", now)
    last_start, _ = bounds("last", now)
    part = (now - this_start) / 4  # this month so far, in quarters: always in the past
    with runtime.db.session() as session:
        organization(session, "other")
        alpha = history.bucket(
            session, "demo", "default", "alpha", last_start - 10 * D, deleted_at=this_start + 3 * part
        )
        beta = history.bucket(session, "demo", "web", "beta", last_start + D, deleted_at=last_start + 11 * D)
        theirs = history.bucket(session, "other", "default", "theirs", last_start - 10 * D)
        record_samples(
            session,
            [
                *samples(alpha, (last_start - H, GB), (last_start + 2 * D, 3 * GB), (this_start + part, 0)),
                *samples(beta, (last_start + D, 2 * GB), (last_start + 5 * D, 4 * GB)),
                *samples(theirs, (last_start - H, 50 * GB), (this_start + part, 70 * GB)),
            ],
        )
    return {"alpha": alpha, "beta": beta, "theirs": theirs}


def section(page: str, period: str) -> str:
    found = re.search(rf'<section class="card billing-period" id="period-{period}".*?</section>', page, re.S)
    assert found is not None, f"the page has no period {period!r}"
    return found.group(0)


def table_rows(part: str) -> dict[str, list[str]]:
    """Each row of a period's table by project ('' for the organization's): its cells' text."""
    rows = {}
    for project, row in re.findall(r'<tr data-project="([^"]*)">(.*?)</tr>', part, re.S):
        rows[project] = [
            text_of(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
    return rows


def as_shown(group: dict[str, Any]) -> list[str]:
    """An API group as the page's row must write it."""
    return [
        group["project"] or "Organization",
        f"{group['buckets']:,}",
        gb_hours_text(group["gb_hours"]),
        human_bytes(group["peak_bytes"]),
        f"{group['peak_objects']:,}",
        days_text(group["bucket_days"]),
    ]


def api_period(api: TestClient, period: str) -> dict[str, Any]:
    start, end = bounds(period, utcnow())
    params = {"from": start.isoformat(), "group_by": "project"}
    if period == "last":
        params["to"] = end.isoformat()
    answer = api.get(USAGE, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_each_period_shows_the_apis_figures_per_project_and_a_bar_of_gb_hours_each(
    console: TestClient, api: TestClient, months: dict[str, str]
) -> None:
    sign_in(console)
    page = console.get(BILLING)
    assert page.status_code == 200, page.text
    assert months["theirs"] not in page.text
    for period in ("current", "last"):
        usage = api_period(api, period)
        part = section(page.text, period)
        rows = table_rows(part)
        assert list(rows) == [*(g["project"] for g in usage["groups"]), ""]
        for group in [*usage["groups"], usage["total"]]:
            assert rows[group["project"] or ""] == as_shown(group), (period, group)
        exact = dict(re.findall(r'<tr data-project="([^"]*)">.*?data-gb-hours="([^"]+)"', part, re.S))
        assert {p: float(v) for p, v in exact.items()} == {
            g["project"] or "": g["gb_hours"] for g in [*usage["groups"], usage["total"]]
        }
        bars = dict(
            re.findall(
                r'<li data-chart-project="([^"]+)">.*?<rect class="bar-fill" width="([\d.]+)"', part, re.S
            )
        )
        longest = max(g["gb_hours"] for g in usage["groups"])
        assert {p: float(w) for p, w in bars.items()} == {
            g["project"]: pytest.approx(max(100 * g["gb_hours"] / longest, 0.5), abs=0.01)
            for g in usage["groups"]
            if g["gb_hours"]
        }
    # what the history says: last month alpha held 1 GB for 2 days then 3 GB for the rest, beta
    # 2 GB for 4 days then 4 GB for 6; this month only alpha, 1 GB... 3 GB for the first quarter
    last = table_rows(section(page.text, "last"))
    start, end = bounds("last", utcnow())
    hours = (end - start) / H
    assert last["default"][2] == gb_hours_text(1 * 48 + 3 * (hours - 48))
    assert last["web"][2] == gb_hours_text(2 * 96 + 4 * 144)
    assert last["web"][5] == days_text(10.0)
    assert list(table_rows(section(page.text, "current"))) == ["default", ""]  # beta died last month


def test_the_csv_downloads_parse_to_the_apis_numbers(
    console: TestClient, api: TestClient, months: dict[str, str]
) -> None:
    sign_in(console)
    for period in ("current", "last"):
        answer = console.get(f"{BILLING}/usage.csv", params={"period": period})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.headers["content-disposition"].startswith('attachment; filename="loopback-demo-usage-')
        usage = api_period(api, period)
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        assert [row["project"] for row in rows] == [g["project"] for g in usage["groups"]]
        for row, group in zip(rows, usage["groups"], strict=True):
            assert float(row["gb_hours"]) == group["gb_hours"]
            assert float(row["bucket_days"]) == group["bucket_days"]
            for key in ("buckets", "peak_bytes", "peak_objects"):
                assert int(row[key]) == group[key], key
        assert f'href="{BILLING}/usage.csv?period={period}"' in console.get(BILLING).text
    assert console.get(f"{BILLING}/usage.csv", params={"period": "forever"}).status_code == 422


def tokens(runtime: Runtime, *roles: str) -> dict[str, str]:
    with runtime.db.session() as session:
        org = session.scalars(select(Organization).where(Organization.slug == "demo")).one()
        return {role: member_token(session, org, role) for role in roles}


def test_billing_admins_and_owners_open_it_members_and_viewers_are_refused_without_a_link(
    runtime: Runtime, idle_console: TestClient
) -> None:
    link = f'href="{BILLING}"'
    for role, token in tokens(runtime, "billing", "admin", "owner", "member", "viewer").items():
        idle_console.cookies.clear()
        sign_in(idle_console, token)
        page = idle_console.get(BILLING)
        download = idle_console.get(f"{BILLING}/usage.csv")
        header = idle_console.get("/console/demo/default").text  # 403 for billing: no buckets.read
        opening = idle_console.get("/console", follow_redirects=False).headers["location"]
        assert opening == (BILLING if role == "billing" else "/console/demo/default"), role
        if role in ("billing", "admin", "owner"):
            assert page.status_code == download.status_code == 200, (role, page.text)
            assert "<h1>Billing</h1>" in page.text
            assert link in header, role
            assert f'<span class="role" title="your role in this organization">{role}</span>' in page.text
        else:
            assert page.status_code == download.status_code == 403, (role, page.text)
            assert "<code>billing.read</code>" in page.text  # the console's forbidden page
            assert "text/csv" not in download.headers["content-type"]
            assert link not in header, role
            assert link not in page.text, role


def test_another_organizations_billing_is_not_found(console: TestClient, months: dict[str, str]) -> None:
    sign_in(console)
    for path in ("/console/other/_billing", "/console/other/_billing/usage.csv", "/console/nowhere/_billing"):
        answer = console.get(path)
        assert answer.status_code == 404, path
        assert months["theirs"] not in answer.text
        assert 'href="/console/other/_billing"' not in answer.text


def test_a_bucket_page_draws_one_step_per_sample_of_its_last_30_days(
    console: TestClient, runtime: Runtime
) -> None:
    now = utcnow()
    with runtime.db.session() as session:
        measured = history.bucket(session, "demo", "default", "measured", now - 60 * D)
        fresh = history.bucket(session, "demo", "default", "fresh", now - H)
        record_samples(
            session,
            samples(
                measured,
                (now - 45 * D, 9 * GB),  # before the window: carried into it, not drawn apart
                (now - 40 * D, 2 * GB),  # the one in force when the window opens
                (now - 20 * D, 8 * GB),
                (now - 10 * D, 4 * GB),
                (now - 2 * H, 6 * GB),
            ),
        )
    sign_in(console)
    page = console.get(f"/console/demo/default/buckets/{measured}").text
    figure = re.search(r'<figure class="usage-line".*?</figure>', page, re.S)
    assert figure is not None
    steps = re.search(r'data-steps="(\d+)".*?<path class="line-step" d="([^"]+)"', figure.group(0), re.S)
    assert steps is not None
    assert steps.group(1) == "4"
    path = steps.group(2)
    assert path.startswith("M0,")
    assert path.endswith("H100")
    assert path.count("V") == 3, path  # a step to each later sample
    ys = [float(path.split(",")[1].split()[0]), *(float(y) for y in re.findall(r"V([\d.]+)", path))]
    assert ys == [pytest.approx(40 - 38 * size / 8) for size in (2, 8, 4, 6)]  # the highest is 8 GB
    xs = [float(x) for x in re.findall(r"H([\d.]+)", path)]
    assert xs == [pytest.approx(x, abs=0.02) for x in (100 / 3, 200 / 3, 100 - 100 * 2 / 720, 100)]
    assert human_bytes(6 * GB) in text_of(figure.group(0))  # now
    assert "3 changes recorded" in text_of(figure.group(0))
    assert 'style="' not in figure.group(0)

    empty = console.get(f"/console/demo/default/buckets/{fresh}").text
    line = re.search(r'<figure class="usage-line".*?</figure>', empty, re.S)
    assert line is not None
    assert "not measured yet" in text_of(line.group(0))
    assert "<svg" not in line.group(0)
