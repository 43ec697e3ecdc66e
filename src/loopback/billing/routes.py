"""API v3 routes for billing: an organization's usage over a period, as JSON or CSV."""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BeforeValidator

from loopback.billing.report import GroupBy, usage_report
from loopback.billing.schemas import BillingUsage, as_csv
from loopback.kit.clock import utcnow
from loopback.kit.errors import Invalid
from loopback.tenancy.auth import BillingRead, DbSession

router = APIRouter(prefix="/v3/organizations/{org}/billing", tags=["billing"])


class ReportFormat(enum.StrEnum):
    JSON = "json"
    CSV = "csv"


CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the usage per group; with `format=csv`, the groups as CSV with a header line",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def _written_out(value: object) -> object:
    """A time as the document says: written out (``2026-12-01T00:00:00Z``), never a bare number of
    seconds, which pydantic would otherwise take."""
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("give a date and time as in 2026-12-01T00:00:00Z")
    return value


WrittenOut = BeforeValidator(_written_out)


def _utc(field: str, moment: datetime | None, default: datetime) -> datetime:
    """A time of the query in UTC; one without a zone is UTC."""
    if moment is None:
        return default
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise Invalid.field(field, "out of range in UTC") from None


@router.get("/usage", response_model=BillingUsage, responses=CSV_RESPONSE)
def billing_usage(
    scope: BillingRead,
    session: DbSession,
    start: Annotated[
        datetime | None,
        WrittenOut,
        Query(alias="from", description="the period's start, inclusive; default: this month's first day"),
    ] = None,
    end: Annotated[
        datetime | None,
        WrittenOut,
        Query(alias="to", description="the period's end, exclusive; default: now"),
    ] = None,
    group_by: Annotated[GroupBy, Query(description="what each row adds up")] = GroupBy.PROJECT,
    output: Annotated[ReportFormat, Query(alias="format", description="json, or csv")] = ReportFormat.JSON,
) -> BillingUsage | Response:
    """GB-hours, peak bytes and objects, and bucket-days per group over a period (docs/billing.md)."""
    now = utcnow()
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    begin, until = _utc("from", start, month), _utc("to", end, now)
    if begin >= until:
        raise Invalid.field("from", "must be before `to`")
    report = usage_report(session, scope, begin, until, group_by, now)
    usage = BillingUsage.of(scope.organization_slug, report)
    if output is ReportFormat.CSV:
        return Response(as_csv(usage), media_type="text/csv; charset=utf-8")
    return usage
