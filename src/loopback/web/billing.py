"""An organization's billing page: this month so far and last month, per project, as the API reports.

Each period is the report of ``GET /v3/organizations/{org}/billing/usage?group_by=project`` for
the same bounds (``billing.report.usage_report`` and ``BillingUsage``), so the page and its CSV say
what the API says, with a bar per project of GB-hours drawn on the server (``usage_chart``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from loopback.billing.report import GroupBy, usage_report
from loopback.billing.schemas import BillingUsage
from loopback.tenancy.access import OrganizationScope
from loopback.web.usage_chart import Bar, draw_bars

# The periods the page shows, by the query parameter its CSV downloads name them with.
PERIODS: dict[str, str] = {"current": "This month so far", "last": "Last month"}


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of ``period``: this month from its first day until now, or all of last month."""
    this_month = month_start(now)
    if period == "current":
        return this_month, now
    return month_start(this_month - timedelta(days=1)), this_month


def gb_hours_text(value: float) -> str:
    """GB-hours as the page writes them: two decimals, or two significant digits below 0.01."""
    if value == 0 or value >= 0.01:
        return f"{value:,.2f}"
    return f"{value:.2g}"


def days_text(value: float) -> str:
    return f"{value:,.2f}"


@dataclass(frozen=True)
class Period:
    """One period of the page: its report per project, and a bar of GB-hours a project."""

    key: str
    title: str
    usage: BillingUsage
    bars: list[Bar]

    @property
    def caption(self) -> str:
        return f"GB-hours of each project, {self.title.lower()}, in the order of the table."

    @classmethod
    def of(cls, session: Session, scope: OrganizationScope, key: str, now: datetime) -> Period:
        start, end = bounds(key, now)
        usage = BillingUsage.of(
            scope.organization_slug, usage_report(session, scope, start, end, GroupBy.PROJECT, now)
        )
        rows = [
            (g.project or "", g.project or "", g.gb_hours, gb_hours_text(g.gb_hours)) for g in usage.groups
        ]
        return cls(key, PERIODS[key], usage, draw_bars(rows))
