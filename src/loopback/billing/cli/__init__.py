"""``loopback billing usage``: an organization's usage over a period, per group, from a shell.

A thin client of ``GET /v3/organizations/{org}/billing/usage``: the API integrates and validates;
the table shows sizes in binary units and GB-hours to three places, ``--output json`` the API's
answer as it came.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from loopback.billing.report import GroupBy
from loopback.buckets.cli.place import ORG, organization
from loopback.client.command import api_group
from loopback.client.http import v3
from loopback.client.operations import ORG as ORG_PATH
from loopback.client.operations import calls
from loopback.client.options import Options, with_options
from loopback.client.output import Column, human_bytes, shown

PANEL = "Billing (API client)"
# a date, or a date and time with or without its zone (2026-12-01T00:00:00Z); no zone is UTC
TIMES = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"]


def _places(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else shown(value)


COLUMNS = {
    GroupBy.PROJECT: [Column("project", "project")],
    GroupBy.BUCKET: [Column("project", "project"), Column("bucket", "bucket"), Column("id", "bucket_id")],
    GroupBy.PROVIDER: [Column("provider", "provider")],
    GroupBy.REGION: [Column("provider", "provider"), Column("region", "region")],
}
FIGURES = [
    Column("buckets", "buckets"),
    Column("GB-hours", "gb_hours", _places),
    Column("peak size", "peak_bytes", human_bytes),
    Column("peak objects", "peak_objects"),
    Column("bucket-days", "bucket_days", _places),
]


@with_options(ORG)
def usage(
    options: Options,
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=TIMES,
            help="the period's start, UTC unless it says; default: this month's first day",
        ),
    ] = None,
    end: Annotated[
        datetime | None, typer.Option("--to", formats=TIMES, help="the period's end (excluded); default: now")
    ] = None,
    group_by: Annotated[GroupBy, typer.Option("--group-by", help="what each row adds up")] = GroupBy.PROJECT,
) -> None:
    """GB-hours, peak size and objects, and bucket-days per project, bucket, provider or region."""
    show = options.printer()
    params = {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "group_by": group_by.value,
    }
    with options.api() as client:
        slug = organization(client, options.org)
        answer = client.get(v3("organizations", slug, "billing", "usage"), params=params)
    if show.json:
        typer.echo(answer.text)
        return
    body = answer.body
    total = {**body.get("total", {}), COLUMNS[group_by][0].key: "(total)"}
    rows = [*(body.get("groups") or []), total] if body.get("groups") else []
    show.table(rows, [*COLUMNS[group_by], *FIGURES], f"No buckets of {slug!r} in the period.")
    show.note(
        f"{shown(body.get('start'))} to {shown(body.get('measured_until'))}; GB = 10^9 bytes; "
        "sample and hold (docs/billing.md)"
    )


billing = api_group(
    "An organization's usage over a billing period.",
    {"usage": calls(usage, f"GET {ORG_PATH}/billing/usage")},
)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``loopback`` command, under a help panel of their own."""
    app.add_typer(billing, name="billing", rich_help_panel=PANEL)
