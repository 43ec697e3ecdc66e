"""What the bucket service answers, and what a list of buckets narrows to.

The v3 and v2 routes, their schemas, the console and the credentials domain all speak these, and
none of them needs the service's machinery to do so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select

from loopback.buckets.models import Bucket, BucketStatus


@dataclass(frozen=True)
class BucketView:
    """A bucket with the names of its provider and region, as every API version presents it."""

    bucket: Bucket
    provider: str
    region: str

    @property
    def gone(self) -> bool:
        """A deleted bucket holds nothing a tenant can reach: every view shows it with no endpoint
        and no usage, so its last object count does not read as data it still holds."""
        return self.bucket.status == BucketStatus.DELETED


@dataclass(frozen=True)
class ProjectUsage:
    project: str
    buckets: int
    object_count: int
    bytes: int
    oldest_sync: datetime | None


@dataclass(frozen=True)
class BucketFilters:
    """What a list narrows to; ``superseded`` None shows every row, False only current ones.

    Each filter alone is an equality on a column that an index of the project holds in ``id``
    order (migration 0010), so a page reads its 100 rows whether the filter matches most rows or a
    handful. Together, the database seeks the most selective and tests the rest.
    """

    status: str | None = None
    provider: str | None = None
    region: str | None = None
    superseded: bool | None = None

    def apply(
        self, statement: Select[Bucket, str, str], places: Sequence[tuple[str, str]] = ()
    ) -> Select[Bucket, str, str]:
        """``statement`` narrowed; ``places`` are the (provider id, region id) pairs the provider and
        region filters name (``repository.regions_named``): compared as ids, whose frequency the
        database knows, a rare provider is a seek where a name joined in would be a guess."""
        if self.status:
            statement = statement.where(Bucket.status == self.status)
        if self.provider:  # one provider: its names are unique
            statement = statement.where(Bucket.provider_id.in_(sorted({p for p, _ in places})))
        if self.region:  # one region is a seek in id order; a code at several providers is a walk
            statement = statement.where(Bucket.region_id.in_(sorted({r for _, r in places})))
        if self.superseded is True:
            statement = statement.where(Bucket.superseded_by_id.is_not(None))
        elif self.superseded is False:
            statement = statement.where(Bucket.superseded_by_id.is_(None))
        return statement
