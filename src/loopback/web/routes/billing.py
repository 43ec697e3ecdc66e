"""An organization's billing page and its CSV downloads, for the roles with ``billing.read``.

The page resolves its organization scope with the permission the API route names, from what the
header has read already: another organization answers 404, a role without ``billing.read`` 403,
as the API does. A CSV download is the API's ``?format=csv`` for the same period and grouping,
served with the console's session instead of a bearer token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from loopback.billing.schemas import as_csv
from loopback.kit.clock import utcnow
from loopback.kit.errors import Invalid
from loopback.web.billing import PERIODS, Period, days_text, gb_hours_text
from loopback.web.dependencies import Page
from loopback.web.rendering import CONSOLE, console_router, render

router = console_router()


@router.get("/{org}/_billing")
def billing_page(org: str, console: Page) -> Response:
    """This month so far and last month, per project: GB-hours (with a bar each), peaks, bucket-days."""
    scope = console.organization(org, "billing.read")
    now = utcnow()
    periods = [Period.of(console.session, scope, key, now) for key in PERIODS]
    return render(
        console.request,
        "billing.html",
        scope=scope,
        periods=periods,
        gb_hours=gb_hours_text,
        days=days_text,
        csv=f"{CONSOLE}/{scope.organization_slug}/_billing/usage.csv",
    )


@router.get("/{org}/_billing/usage.csv")
def billing_csv(
    org: str, console: Page, period: Annotated[str, Query(max_length=20)] = "current"
) -> Response:
    """One period per project as CSV: the same header line and numbers as the API's ``format=csv``."""
    scope = console.organization(org, "billing.read")
    if period not in PERIODS:
        raise Invalid.field("period", f"one of {', '.join(PERIODS)}")
    shown = Period.of(console.session, scope, period, utcnow())
    month = shown.usage.start.strftime("%Y-%m")
    name = f"loopback-{scope.organization_slug}-usage-{month}{'-so-far' if period == 'current' else ''}.csv"
    return Response(
        as_csv(shown.usage),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
