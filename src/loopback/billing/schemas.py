"""Billing shapes of API v3, and the same report as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from pydantic import BaseModel, Field

from loopback.billing.report import Figures, GroupBy, Report

METHOD = (
    "sample and hold: each usage sample's bytes hold until the bucket's next sample, its deletion, "
    "the period's end or now; GB-hours = sum(bytes x seconds held) / 10^9 / 3600 (GB = 10^9 bytes)"
)


class BillingGroup(BaseModel):
    project: str | None = Field(description="project slug (grouped by project or bucket)")
    bucket: str | None = Field(description="bucket name (grouped by bucket)")
    bucket_id: str | None = Field(description="bucket id (grouped by bucket): a name may be reused")
    provider: str | None = Field(description="provider name (grouped by provider, region or bucket)")
    region: str | None = Field(description="region code (grouped by region or bucket)")
    buckets: int = Field(description="buckets that existed at some time in the period")
    gb_hours: float = Field(description="bytes integrated over the period, in GB-hours (GB = 10^9 bytes)")
    peak_bytes: int = Field(description="the most bytes the group held at once")
    peak_objects: int = Field(description="the most objects the group held at once")
    bucket_days: float = Field(description="days each bucket existed within the period, summed")

    @classmethod
    def of(cls, figures: Figures) -> BillingGroup:
        peak_bytes, peak_objects = figures.peaks()
        return cls(
            project=figures.project,
            bucket=figures.bucket,
            bucket_id=figures.bucket_id,
            provider=figures.provider,
            region=figures.region,
            buckets=figures.buckets,
            gb_hours=figures.gb_hours,
            peak_bytes=peak_bytes,
            peak_objects=peak_objects,
            bucket_days=figures.bucket_days,
        )


class BillingUsage(BaseModel):
    organization: str
    start: datetime = Field(description="the period's start (`from`), inclusive")
    end: datetime = Field(description="the period's end (`to`), exclusive")
    measured_until: datetime = Field(description="the end, or now when the period has not ended")
    group_by: GroupBy
    method: str = Field(default=METHOD, description="how usage is integrated (docs/billing.md)")
    groups: list[BillingGroup]
    total: BillingGroup = Field(description="the whole organization; its peaks are the organization's")

    @classmethod
    def of(cls, organization: str, report: Report) -> BillingUsage:
        return cls(
            organization=organization,
            start=report.start,
            end=report.end,
            measured_until=report.measured_until,
            group_by=report.group_by,
            groups=[BillingGroup.of(g) for g in report.groups],
            total=BillingGroup.of(report.total),
        )


CSV_COLUMNS = tuple(BillingGroup.model_fields)


def as_csv(usage: BillingUsage) -> str:
    """The groups as CSV, a header line first; an empty cell where a group has no such name."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in usage.groups:
        values = group.model_dump()
        writer.writerow("" if values[c] is None else values[c] for c in CSV_COLUMNS)
    return out.getvalue()
