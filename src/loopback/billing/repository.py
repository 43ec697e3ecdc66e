"""Every query of the billing report: the organization's buckets that lived in a period, through
``readable`` with the caller's scope, and the usage samples of those buckets alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, or_, select, tuple_

from loopback.buckets.models import Bucket
from loopback.buckets.samples import UsageSample, newest_times
from loopback.kit.scoping import Scope, readable
from loopback.providers.models import Provider, Region
from loopback.tenancy.models import Project

BucketInPeriod = Select[str, str, str, str, str, str, datetime, datetime | None]


def buckets_in_period(scope: Scope, start: datetime, end: datetime, after: str, limit: int) -> BucketInPeriod:
    """A page of the scope's buckets (any status, replaced ones too) that existed at some time in
    [start, end), after the id ``after``: id, name, project slug, provider, region id and code,
    created and deleted."""
    statement: BucketInPeriod = (
        select(
            Bucket.id,
            Bucket.name,
            Project.slug,
            Provider.name,
            Region.id,
            Region.code,
            Bucket.created_at,
            Bucket.deleted_at,
        )
        .join(Project, Project.id == Bucket.project_id)
        .join(Provider, Provider.id == Bucket.provider_id)
        .join(Region, Region.id == Bucket.region_id)
        .where(
            Bucket.created_at < end,
            or_(Bucket.deleted_at.is_(None), Bucket.deleted_at > start),
            Bucket.id > after,
        )
        .order_by(Bucket.id)
        .limit(limit)
    )
    return readable(statement, Bucket, scope)


SampleRow = Select[str, datetime, int, int | None, int]


def samples_in_period(bucket_ids: Sequence[str], start: datetime, end: datetime) -> SampleRow:
    """The samples of these buckets in [start, end), and each one's last sample at or before
    ``start`` (the value carried into the period), by bucket and time: bucket, time, bytes, peak
    bytes and objects. The ids come from ``buckets_in_period``, so they are the caller's."""
    ids = list(bucket_ids)
    carried = newest_times(ids, at_or_before=start)
    return (
        select(
            UsageSample.bucket_id,
            UsageSample.at,
            UsageSample.bytes,
            UsageSample.peak_bytes,
            UsageSample.object_count,
        )
        .where(
            UsageSample.bucket_id.in_(ids),
            or_(
                and_(UsageSample.at >= start, UsageSample.at < end),
                tuple_(UsageSample.bucket_id, UsageSample.at).in_(carried),
            ),
        )
        .order_by(UsageSample.bucket_id, UsageSample.at)
    )
