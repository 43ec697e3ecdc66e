"""A project's bucket lists and its organization's usage rollup, each costing the same at a million
rows as at a thousand (``benchmarks/lists.py`` measures it).

- A keyset page (v3, the console): the rows after a cursor (the last id of the page before), read
  from the index of the filter in ``id`` order, so a page reads its rows and no more.
- A numbered page (v2): the total is the maintained ``bucket_totals.current_rows``, never a count.
  Page 1 and the last page are keyset pages from either end; any other page first finds its first
  id by skipping ids from whichever end is nearer, and reads from there as a keyset page. That
  skip is the one OFFSET left, unavoidable for a page number chosen at random: it costs the rows
  skipped (0.1-0.3 s half-way through a million), read from ``ix_buckets_current`` alone, which
  holds every column it tests (PostgreSQL may walk the primary key instead where the project
  holds most of the table, which costs alike), never joined.
- The usage rollup: one row of ``bucket_totals`` per project, plus one index seek for its oldest sync.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from loopback.buckets import repository
from loopback.buckets.models import Bucket
from loopback.buckets.views import BucketFilters, BucketView, ProjectUsage
from loopback.tenancy.access import OrganizationScope, ProjectScope


def keyset_page(
    session: Session, scope: ProjectScope, limit: int, cursor: str | None, filters: BucketFilters | None
) -> tuple[Sequence[BucketView], str | None]:
    """One page of the project's buckets, oldest first; the cursor is the last id of a page."""
    filters = filters or BucketFilters()
    places: Sequence[tuple[str, str]] = ()
    if filters.provider or filters.region:  # ids, so the database plans with what it knows of them
        places = [
            (p, r) for p, r in session.execute(repository.regions_named(filters.provider, filters.region))
        ]
        if not places:
            return [], None
    statement = filters.apply(repository.in_scope(scope), places).order_by(Bucket.id).limit(limit + 1)
    if cursor:
        statement = statement.where(Bucket.id > cursor)
    rows = [BucketView(b, p, r) for b, p, r in session.execute(statement)]
    next_cursor = rows[limit - 1].bucket.id if len(rows) > limit else None
    return rows[:limit], next_cursor


def numbered_page(
    session: Session, scope: ProjectScope, page: int, per_page: int
) -> tuple[Sequence[BucketView], int]:
    """Page ``page`` (from 1) of the rows no other row replaced, oldest first, and their total."""
    total = int(session.scalar(repository.current_total(scope)) or 0)
    start = (page - 1) * per_page
    if start >= total:
        return [], total
    end = min(start + per_page, total)
    after = total - end  # rows after this page
    current = repository.in_scope(scope).where(Bucket.superseded_by_id.is_(None))
    if after < start:  # nearer the end: count back from the newest row
        statement = current.order_by(Bucket.id.desc()).limit(end - start)
        if after:
            first = _nth_id(session, scope, after, newest_first=True)
            if first is None:
                return [], total
            statement = statement.where(Bucket.id <= first)
        views = [BucketView(b, p, r) for b, p, r in session.execute(statement)]
        return views[::-1], total
    statement = current.order_by(Bucket.id).limit(end - start)
    if start:
        first = _nth_id(session, scope, start, newest_first=False)
        if first is None:
            return [], total
        statement = statement.where(Bucket.id >= first)
    return [BucketView(b, p, r) for b, p, r in session.execute(statement)], total


def _nth_id(session: Session, scope: ProjectScope, skip: int, newest_first: bool) -> str | None:
    """The id ``skip`` current rows in from the oldest (or newest) one, read from the index alone."""
    order = Bucket.id.desc() if newest_first else Bucket.id
    found: str | None = session.scalar(repository.current_ids(scope).order_by(order).offset(skip).limit(1))
    return found


def usage_by_project(session: Session, scope: OrganizationScope) -> tuple[ProjectUsage, ...]:
    """Live buckets, objects and bytes per project of the organization, as of each bucket's last sync."""
    return tuple(
        ProjectUsage(slug, int(buckets), int(objects), int(size), oldest)
        for slug, buckets, objects, size, oldest in session.execute(repository.usage_per_project(scope))
    )
