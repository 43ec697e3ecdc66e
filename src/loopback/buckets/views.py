"""What the bucket service answers, and what a list of buckets narrows to.

The v3 and v2 routes, their schemas, the console and the credentials domain all speak these, and
none of them needs the service's machinery to do so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select

from loopback.buckets.models import Bucket, BucketStatus
from loopback.providers.models import Provider, Region


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
    """What a list narrows to; ``superseded`` None shows every row, False only current ones."""

    status: str | None = None
    provider: str | None = None
    region: str | None = None
    superseded: bool | None = None

    def apply(self, statement: Select[Bucket, str, str]) -> Select[Bucket, str, str]:
        if self.status:
            statement = statement.where(Bucket.status == self.status)
        if self.provider:
            statement = statement.where(Provider.name == self.provider)
        if self.region:
            statement = statement.where(Region.code == self.region)
        if self.superseded is True:
            statement = statement.where(Bucket.superseded_by_id.is_not(None))
        elif self.superseded is False:
            statement = statement.where(Bucket.superseded_by_id.is_(None))
        return statement
