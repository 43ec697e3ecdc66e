"""The installation's figures read from the database at scrape time: counts, never a tenant's rows.

Every figure is an aggregate over the whole installation, grouped by what the operator configured
(provider, status, key state), so no organization, project or bucket name or id ever leaves here.
The statements go through the tables, not the tenant models: they read no tenant's rows for a
caller, which is what the scoping point (``kit.scoping.readable``) guards. One pass over the
buckets gives every bucket figure; tests/metrics/scrape_cost.py measures it at a million buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from loopback.buckets.models import Bucket, BucketStatus
from loopback.credentials.models import Credential
from loopback.providers.models import Provider

BUCKETS: Table = Bucket.__table__  # type: ignore[assignment]
KEYS: Table = Credential.__table__  # type: ignore[assignment]
PROVIDERS: Table = Provider.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class BucketCount:
    """Buckets of one provider in one status, and the oldest usage sync among them."""

    provider_id: str
    family: str
    status: str
    buckets: int
    oldest_sync: datetime | None


@dataclass(frozen=True)
class Figures:
    """What one scrape read: buckets by provider and status, keys by state."""

    buckets: list[BucketCount]
    keys: dict[str, int]

    def oldest_ready_sync(self) -> dict[tuple[str, str], datetime | None]:
        """Per (provider, family) with ready buckets, the oldest usage sync of one of them."""
        return {
            (c.provider_id, c.family): c.oldest_sync for c in self.buckets if c.status == BucketStatus.READY
        }


def read_figures(session: Session) -> Figures:
    """One pass over the buckets (counts and oldest sync together) and one over the keys' index."""
    families = {
        str(row.id): str(row.family) for row in session.execute(select(PROVIDERS.c.id, PROVIDERS.c.family))
    }
    by_status = session.execute(
        select(
            BUCKETS.c.provider_id,
            BUCKETS.c.status,
            func.count().label("buckets"),
            func.min(BUCKETS.c.last_synced_at).label("oldest_sync"),
        )
        .where(BUCKETS.c.superseded_by_id.is_(None))
        .group_by(BUCKETS.c.provider_id, BUCKETS.c.status)
    )
    buckets = [
        BucketCount(
            row.provider_id,
            families.get(row.provider_id, "unknown"),
            row.status,
            int(row.buckets),
            _aware(row.oldest_sync),
        )
        for row in by_status
    ]
    keys = session.execute(select(KEYS.c.status, func.count().label("keys")).group_by(KEYS.c.status))
    return Figures(buckets, {str(row.status): int(row.keys) for row in keys})


def _aware(moment: datetime | None) -> datetime | None:
    """Times are stored in UTC; SQLite gives them back without a zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
