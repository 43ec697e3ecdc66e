"""What the bucket service answers, and what a list of buckets narrows to.

The v3 and v2 routes, their schemas, the console and the credentials domain all speak these, and
none of them needs the service's machinery to do so.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select

from loopback.buckets.models import INSTALL_COLUMNS, Bucket, BucketStatus


@dataclass(frozen=True)
class InstallLink:
    """The catalog-driven Kubernetes install a bucket was made for; every part optional.

    As a filter, each part given narrows the list to buckets whose link has that value.
    """

    catalog_item: str | None = None
    release: str | None = None
    cluster: str | None = None
    namespace: str | None = None
    claim: str | None = None

    def parts(self) -> dict[str, str]:
        """The parts that are set, by name."""
        return {part: value for part, value in asdict(self).items() if value}

    def columns(self) -> dict[str, str | None]:
        """The bucket columns that hold this link (``install_<part>``), for a row to be written."""
        return {f"install_{part}": value or None for part, value in asdict(self).items()}

    @classmethod
    def of(cls, column: Callable[[str], Any]) -> InstallLink | None:
        """The link a bucket's columns hold (``column`` reads one by name), or None for no link."""
        link = cls(**{part: column(f"install_{part}") for part in INSTALL_COLUMNS})
        return link if link.parts() else None

    def describe(self) -> str:
        return ", ".join(f"{part} {value}" for part, value in self.parts().items())


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

    @property
    def install(self) -> InstallLink | None:
        """The catalog-driven install the bucket was made for, if any."""
        return InstallLink.of(functools.partial(getattr, self.bucket))


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
    handful. Together, the database seeks the most selective and tests the rest. Each part of
    ``install`` has a partial index of the project's linked rows (migration 0014).
    """

    status: str | None = None
    provider: str | None = None
    region: str | None = None
    superseded: bool | None = None
    install: InstallLink = field(default_factory=InstallLink)

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
        for part, value in self.install.parts().items():
            statement = statement.where(INSTALL_COLUMNS[part] == value)
        return statement
