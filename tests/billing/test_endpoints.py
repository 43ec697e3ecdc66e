"""GET /v3/organizations/{org}/billing/usage: a known history integrated exactly, by role, as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from loopback.app import create_app
from loopback.buckets.samples import Sample, SampleCompaction, UsageSample, record_samples
from loopback.kit.clock import utcnow
from loopback.kit.leases import RoundLeases
from loopback.runtime import Runtime
from loopback.tenancy.models import AuditEvent
from tests.billing import history
from tests.conftest import OPERATOR_HEADERS
from tests.factories import member_of, organization

GB = 10**9
H = timedelta(hours=1)
M = timedelta(minutes=1)
USAGE = "/v3/organizations/demo/billing/usage"
# the period: a whole day, three weeks ago
T0 = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC) - timedelta(days=21)
DAY = {"from": T0.isoformat(), "to": (T0 + 24 * H).isoformat()}


def gb_hours(*parts: tuple[Fraction | int, Fraction | int]) -> float:
    """GB held x hours, summed exactly, as the one float the API must answer."""
    return float(sum((Fraction(gb) * Fraction(hours) for gb, hours in parts), Fraction(0)))


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    """The API over ASGI as the bootstrap operator (owner of ``demo``); no worker: nothing is queued."""
    with TestClient(create_app(runtime), headers=OPERATOR_HEADERS) as client:
        yield client


def samples(bucket_id: str, *points: tuple[timedelta, int]) -> list[Sample]:
    return [Sample(bucket_id, T0 + at, size // 1000, size) for at, size in points]


@pytest.fixture
def known(runtime: Runtime) -> dict[str, str]:
    """Two buckets of demo in the period (one deleted in it), one deleted before it, and another
    organization's bucket, each with its samples."""
    with runtime.db.session() as session:
        organization(session, "other")
        alpha = history.bucket(session, "demo", "default", "alpha", T0 - timedelta(days=10))
        beta = history.bucket(session, "demo", "web", "beta", T0 + H, deleted_at=T0 + 7 * H)
        gone = history.bucket(
            session, "demo", "default", "gone", T0 - timedelta(days=5), deleted_at=T0 - timedelta(days=2)
        )
        theirs = history.bucket(session, "other", "default", "theirs", T0 - timedelta(days=10))
        record_samples(
            session,
            [
                *samples(alpha, (-H, 1 * GB), (2 * H, 3 * GB), (5 * H + 30 * M, GB // 2), (30 * H, 9 * GB)),
                *samples(beta, (H, 2 * GB), (4 * H, 2 * GB)),
                *samples(gone, (-72 * H, 100 * GB)),
                *samples(theirs, (-H, 50 * GB), (3 * H, 70 * GB)),
            ],
        )
    return {"alpha": alpha, "beta": beta, "theirs": theirs}


def test_the_integral_of_a_known_history_is_exact(api: TestClient, known: dict[str, str]) -> None:
    answer = api.get(USAGE, params={**DAY, "group_by": "project"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # alpha: 1 GB carried in from before `from` for 2 h, 3 GB for 3.5 h, 0.5 GB for the last 18.5 h;
    # beta: 2 GB from its creation (1 h) to its deletion (7 h); `gone` died before; `theirs` is not ours
    alpha = gb_hours((1, 2), (3, Fraction(7, 2)), (Fraction(1, 2), Fraction(37, 2)))
    beta = gb_hours((2, 6))
    assert [(g["project"], g["gb_hours"]) for g in body["groups"]] == [("default", alpha), ("web", beta)]
    default, web = body["groups"]
    assert (default["peak_bytes"], default["peak_objects"], default["bucket_days"]) == (
        3 * GB,
        3 * GB // 1000,
        1.0,
    )
    assert (web["peak_bytes"], web["bucket_days"], web["buckets"]) == (2 * GB, 0.25, 1)
    total = body["total"]
    assert total["gb_hours"] == gb_hours(
        (1, 2), (3, Fraction(7, 2)), (Fraction(1, 2), Fraction(37, 2)), (2, 6)
    )
    assert (total["peak_bytes"], total["buckets"], total["bucket_days"]) == (
        5 * GB,
        2,
        1.25,
    )  # 3 + 2 GB at 2 h
    assert known["theirs"] not in answer.text
    assert body["measured_until"].startswith((T0 + 24 * H).date().isoformat())

    by_bucket = api.get(USAGE, params={**DAY, "group_by": "bucket"}).json()["groups"]
    assert [(g["bucket"], g["bucket_id"], g["gb_hours"]) for g in by_bucket] == [
        ("alpha", known["alpha"], alpha),
        ("beta", known["beta"], beta),
    ]
    for group_by, key in (("provider", ("local",)), ("region", ("local", "local-1"))):
        rows = api.get(USAGE, params={**DAY, "group_by": group_by}).json()["groups"]
        assert [(g["provider"], g["region"])[: len(key)] for g in rows] == [key]
        assert rows[0]["gb_hours"] == total["gb_hours"]


def test_compacted_and_raw_hours_integrate_as_the_raw_ones_did(api: TestClient, runtime: Runtime) -> None:
    unit = 3600 * 1000  # hourly means are whole bytes
    with runtime.db.session() as session:
        mixed = history.bucket(session, "demo", "mix", "mixed", T0 - timedelta(days=1))
        points = [(i * 7 * M, unit * (1 + i % 6)) for i in range(10 * 60 // 7 + 1)]
        record_samples(session, samples(mixed, *points, (10 * H + 3 * M, unit)))
    period = {"from": (T0 + H).isoformat(), "to": (T0 + 9 * H).isoformat(), "group_by": "bucket"}

    def figure() -> tuple[float, int]:
        (row,) = [g for g in api.get(USAGE, params=period).json()["groups"] if g["bucket_id"] == mixed]
        return row["gb_hours"], row["peak_bytes"]

    raw_only = figure()
    report = SampleCompaction(runtime.db, RoundLeases(runtime.db)).run(now=T0 + timedelta(days=2) + 5 * H)
    assert report is not None
    assert report.removed > 0
    with runtime.db.session() as session:
        kinds = set(session.scalars(select(UsageSample.resolution).where(UsageSample.bucket_id == mixed)))
    assert kinds == {"hour", "raw"}  # hours before 5 h compacted, the rest raw
    assert figure() == raw_only


def test_billing_admins_and_owners_read_it_and_no_one_else(api: TestClient, runtime: Runtime) -> None:
    for role, status in (("billing", 200), ("admin", 200), ("owner", 200), ("member", 403), ("viewer", 403)):
        answer = api.get(USAGE, headers=member_of(runtime, role))
        assert answer.status_code == status, (role, answer.text)
        if status == 403:
            assert answer.json()["permission"] == "billing.read"


def test_another_organizations_billing_is_not_found(api: TestClient, known: dict[str, str]) -> None:
    answer = api.get("/v3/organizations/other/billing/usage", params=DAY)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert known["theirs"] not in answer.text


BAD = [
    ({"from": (T0 + H).isoformat(), "to": T0.isoformat()}, "from"),
    ({"from": T0.isoformat(), "to": T0.isoformat()}, "from"),
    ({"group_by": "team"}, "group_by"),
    ({"format": "xml"}, "format"),
    ({"from": "yesterday"}, "from"),
    ({"to": "1700000000"}, "to"),  # a bare number of seconds is no time
]


def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(
    api: TestClient, runtime: Runtime, known: dict[str, str]
) -> None:
    def counts() -> tuple[int | None, int | None]:
        with runtime.db.session() as session:
            return (
                session.scalar(select(func.count()).select_from(UsageSample)),
                session.scalar(select(func.count()).select_from(AuditEvent)),
            )

    before = counts()
    for params, field in BAD:
        answer = api.get(USAGE, params=params)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in answer.json()["errors"]] == [field], params
    assert counts() == before


def test_csv_says_what_json_says(api: TestClient, known: dict[str, str]) -> None:
    params = {**DAY, "group_by": "bucket"}
    groups: list[dict[str, Any]] = api.get(USAGE, params=params).json()["groups"]
    answer = api.get(USAGE, params={**params, "format": "csv"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == len(groups) == 2
    for row, group in zip(rows, groups, strict=True):
        for key, value in group.items():
            cell = row[key]
            if value is None:
                assert cell == ""
            elif isinstance(value, float):
                assert float(cell) == value
            elif isinstance(value, int):
                assert int(cell) == value
            else:
                assert cell == value
