"""What the usage and drift rounds share: their limits, and the pages of each region's ready buckets.

A round over a million buckets never holds them all: it walks one provider region at a time, a page
of ``RoundLimits.batch`` buckets at a time, in id order from where the last page ended (keyset, on
``ix_buckets_ready_region``), so each page costs the same however many rows there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from loopback.buckets import repository
from loopback.kit.db import Database
from loopback.providers.base import Placement
from loopback.providers.models import Region


@dataclass(frozen=True)
class RoundLimits:
    """How the rounds go at the providers: ``batch`` buckets per task and per transaction, at most
    ``concurrency`` calls at once to one provider from one process, and, where a provider tells
    which buckets changed (``providers.changes``), a listing of each bucket at least every
    ``full_listing`` all the same (for what writes no data: an empty object, a delete marker)."""

    batch: int = 500
    concurrency: int = 4
    full_listing: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class RegionRef:
    id: str
    code: str
    provider_id: str


@dataclass(frozen=True)
class Target:
    """A ready bucket as a round asks its provider about it."""

    id: str
    name: str
    placement: Placement


def regions(db: Database) -> list[RegionRef]:
    """Every region of every provider; a handful, read at once."""
    with db.session() as session:
        rows = session.execute(
            select(Region.id, Region.code, Region.provider_id).order_by(Region.provider_id, Region.code)
        ).all()
    return [RegionRef(region_id, code, provider_id) for region_id, code, provider_id in rows]


def pages(db: Database, region: RegionRef, size: int, *, settled: bool = False) -> Iterator[list[Target]]:
    """The region's ready buckets, a page of at most ``size`` at a time, each read in a short
    transaction of its own; ``settled`` leaves out buckets a reconcile is changing."""
    after = ""
    while True:
        with db.session() as session:
            rows = session.execute(repository.ready_page(region.id, after, size, settled=settled)).all()
        if not rows:
            return
        yield [
            Target(bucket_id, name, Placement(organization_id, project_id, slot))
            for bucket_id, name, organization_id, project_id, slot in rows
        ]
        if len(rows) < size:
            return
        after = rows[-1][0]
