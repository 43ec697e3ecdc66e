"""Usage history: a sample per bucket at every usage sync, compacted as it ages.

A bucket's usage is a step function ("sample and hold"): each sample's values hold from its time
until the bucket's next sample, and end where the bucket was deleted. Billing integrates that
function over a period (``loopback.billing``), so what is kept must keep its integral:

- every sync writes a ``raw`` sample where the figures changed (``record_samples``);
- samples older than ``RAW_DAYS`` are compacted to one ``hour`` row per whole hour, and ``hour``
  rows older than ``HOURLY_DAYS`` to one ``day`` row per whole day. A compacted row stands at the
  start of its hour or day and holds the time-weighted mean of the bytes in force during it (the
  value carried in from before it included), rounded to the byte, so the integral over that hour
  or day changes by at most half a byte held for it; ``peak_bytes`` and ``object_count`` are the
  most bytes and objects in force during it;
- an hour or day that held one value throughout, the same as the one in force before it, leaves
  no row at all: the row before it still holds. An idle bucket costs no rows past two days;
- where a compacted range ends at a boundary with no row of its own, a carry row there holds the
  value that was in force at it, so what follows the range is unchanged;
- only hours (days) that end before the bucket's latest row are compacted: no deletion can fall
  inside one, so compaction never needs the bucket's record. The few raw samples of a deleted
  bucket's last hour stay as they are.

Compaction is a periodic round under its own lease (``kit.leases``) that walks the buckets with
samples to compact a batch at a time, each batch in a transaction of its own: memory holds one
batch of buckets' rows to compact, whatever the number of buckets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base, Database
from loopback.kit.leases import RoundLeases

log = logging.getLogger(__name__)

RAW = "raw"
HOUR = "hour"
DAY = "day"
RAW_DAYS = 2
HOURLY_DAYS = 90
ROUND = "usage.compaction"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UsageSample(Base):
    """One observation of a bucket's usage (``raw``), or an hour's or day's of them compacted."""

    __tablename__ = "usage_samples"
    __table_args__ = (
        # The primary key is the (bucket_id, at) index every read seeks; SQLite keeps the rows in it
        # (no rowid), so a row is stored once.
        PrimaryKeyConstraint("bucket_id", "at", name="pk_usage_samples"),
        {"sqlite_with_rowid": False},
    )

    # No foreign key: history outlives nothing, and the sync writes thousands of these at once.
    bucket_id: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column()
    resolution: Mapped[str] = mapped_column(String(4), default=RAW)
    object_count: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger, doc="raw: as read; compacted: the time-weighted mean")
    peak_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None, doc="null: equal to bytes")
    noncurrent_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    multipart_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)


@dataclass(frozen=True)
class Sample:
    """What a sync saw of one bucket at ``at``; the last two where the family reports them."""

    bucket_id: str
    at: datetime
    object_count: int
    bytes: int
    noncurrent_bytes: int | None = None
    multipart_bytes: int | None = None


def record_samples(session: Session, samples: Sequence[Sample]) -> int:
    """Write a raw sample for each bucket whose figures differ from its latest row, in the caller's
    transaction; answers how many were written.

    A sample equal to the latest row adds nothing a sample-and-hold integral does not already hold,
    so it is not written: an idle bucket synced every five minutes costs no rows (at a million
    buckets that is 576 million raw rows kept for two days, otherwise). The latest row is always a
    raw sample or a carry row (compaction leaves the newest hour alone), so it holds the figures in
    force, never a mean. A sample already recorded for the same bucket and time is left as it is, so
    a sync that runs twice writes each once.
    """
    if not samples:
        return 0
    held = latest(session, [s.bucket_id for s in samples])
    rows = [
        {
            "bucket_id": s.bucket_id,
            "at": s.at,
            "resolution": RAW,
            "object_count": s.object_count,
            "bytes": s.bytes,
            "peak_bytes": None,
            "noncurrent_bytes": s.noncurrent_bytes,
            "multipart_bytes": s.multipart_bytes,
        }
        for s in samples
        if held.get(s.bucket_id) != (s.object_count, s.bytes, s.noncurrent_bytes, s.multipart_bytes)
    ]
    if not rows:
        return 0
    table = cast(Table, UsageSample.__table__)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # each dialect's module is loaded where it is used: a replica needs one
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        session.execute(postgresql_insert(table).on_conflict_do_nothing(), rows)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(table).on_conflict_do_nothing(), rows)
    else:
        session.execute(insert(table), rows)
    return len(rows)


def newest_times(bucket_ids: Sequence[str], at_or_before: datetime | None = None) -> Select[str, datetime]:
    """Each bucket's newest row time (``bucket_id``, ``at``), or its newest at or before a moment:
    the row in force then. A primary-key seek per bucket."""
    statement = select(UsageSample.bucket_id, func.max(UsageSample.at).label("at")).where(
        UsageSample.bucket_id.in_(list(bucket_ids))
    )
    if at_or_before is not None:
        statement = statement.where(UsageSample.at <= at_or_before)
    return statement.group_by(UsageSample.bucket_id)


def latest(session: Session, bucket_ids: Sequence[str]) -> dict[str, tuple[int, int, int | None, int | None]]:
    """Each bucket's figures in its newest row, in one statement."""
    if not bucket_ids:
        return {}
    found = session.execute(
        select(
            UsageSample.bucket_id,
            UsageSample.object_count,
            UsageSample.bytes,
            UsageSample.noncurrent_bytes,
            UsageSample.multipart_bytes,
        ).where(tuple_(UsageSample.bucket_id, UsageSample.at).in_(newest_times(bucket_ids)))
    )
    return {
        row.bucket_id: (row.object_count, row.bytes, row.noncurrent_bytes, row.multipart_bytes)
        for row in found
    }


# --- compaction ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """Rows finer than ``resolution`` and older than ``age`` become one row per ``unit``."""

    resolution: str
    unit: timedelta
    age: timedelta
    finer: tuple[str, ...]


LEVELS = (
    Level(HOUR, timedelta(hours=1), timedelta(days=RAW_DAYS), (RAW,)),
    Level(DAY, timedelta(days=1), timedelta(days=HOURLY_DAYS), (RAW, HOUR)),
)


def floor_to(moment: datetime, unit: timedelta) -> datetime:
    """The start of the UTC hour or day (``unit``) holding ``moment``."""
    return EPOCH + ((moment - EPOCH) // unit) * unit


@dataclass(frozen=True)
class Held:
    """The values a row holds from its time on; ``peak`` is the most bytes during its span."""

    bytes: int
    object_count: int
    peak: int
    noncurrent_bytes: int | None
    multipart_bytes: int | None

    @classmethod
    def of(cls, row: UsageSample) -> Held:
        peak = row.peak_bytes if row.peak_bytes is not None else row.bytes
        return cls(row.bytes, row.object_count, peak, row.noncurrent_bytes, row.multipart_bytes)


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def _mean(parts: Sequence[tuple[int | None, int]], length: int) -> int | None:
    """The time-weighted mean of ``(value, microseconds)`` over ``length``, rounded to the unit
    (half to even); none when a part in force has no value."""
    if any(value is None for value, span in parts):
        return None
    return round(Fraction(sum((value or 0) * span for value, span in parts), length))


def compact_unit(carried: Held | None, rows: Sequence[UsageSample], start: datetime, unit: timedelta) -> Held:
    """What one hour or day (``start``, ``unit``) of ``rows`` compacts to, ``carried`` in force at
    its start. Before a bucket's first sample it held nothing: zero bytes, as billing counts it."""
    segments: list[tuple[Held | None, int]] = []
    value, since = carried, start
    for row in rows:
        segments.append((value, _micros(row.at - since)))
        value, since = Held.of(row), row.at
    segments.append((value, _micros(start + unit - since)))
    length = _micros(unit)
    known = [(v, span) for v, span in segments if v is not None and span > 0]
    complete = len(known) == len([span for _, span in segments if span > 0])
    mean = _mean([(v.bytes, span) for v, span in known], length)
    assert mean is not None  # bytes are never null
    return Held(
        bytes=mean,
        object_count=max(v.object_count for v, _ in known),
        peak=max(v.peak for v, _ in known),
        noncurrent_bytes=_mean([(v.noncurrent_bytes, s) for v, s in known], length) if complete else None,
        multipart_bytes=_mean([(v.multipart_bytes, s) for v, s in known], length) if complete else None,
    )


def _row(bucket_id: str, at: datetime, resolution: str, held: Held) -> dict[str, Any]:
    return {
        "bucket_id": bucket_id,
        "at": at,
        "resolution": resolution,
        "object_count": held.object_count,
        "bytes": held.bytes,
        "peak_bytes": None if held.peak == held.bytes else held.peak,
        "noncurrent_bytes": held.noncurrent_bytes,
        "multipart_bytes": held.multipart_bytes,
    }


@dataclass
class Plan:
    """What compacting one bucket at one level changes: rows out, rows in."""

    removed: list[datetime]
    added: list[dict[str, Any]]


def plan_bucket(
    bucket_id: str, carried: Held | None, rows: Sequence[UsageSample], level: Level, end: datetime
) -> Plan:
    """Compact ``rows`` (every row of the bucket from the first unit to compact up to and including
    ``end``, in time order; ``carried`` the value in force before them) for the units before ``end``
    that hold a row finer than ``level``."""
    units: dict[datetime, list[UsageSample]] = {}
    for row in rows:
        if row.at < end:
            units.setdefault(floor_to(row.at, level.unit), []).append(row)
    compacted = sorted(t for t, in_unit in units.items() if any(r.resolution in level.finer for r in in_unit))
    chosen = set(compacted)
    starts = {row.at for row in rows}
    plan = Plan([], [])
    # the values in force as the walk goes, before compacting (original) and after it (after)
    original, after = carried, carried
    index = 0
    for start in compacted:
        while index < len(rows) and rows[index].at < start:  # untouched rows: both views agree
            original = after = Held.of(rows[index])
            index += 1
        in_unit = units[start]
        index += len(in_unit)
        new = compact_unit(original, in_unit, start, level.unit)
        plan.removed += [r.at for r in in_unit]
        constant = after is not None and all(Held.of(r) == after for r in in_unit)
        if not (constant and original == after):
            plan.added.append(_row(bucket_id, start, level.resolution, new))
            after = new
        original = Held.of(in_unit[-1])
        boundary = start + level.unit
        if boundary in chosen or boundary in starts:
            continue
        if after != original:
            assert original is not None
            plan.added.append(_row(bucket_id, boundary, level.resolution, original))
            after = original
    return plan


@dataclass
class CompactionReport:
    buckets: int = 0  # whose rows changed
    removed: int = 0
    added: int = 0


class SampleCompaction:
    """The periodic round that compacts aged samples, ``batch`` buckets per transaction."""

    def __init__(self, db: Database, leases: RoundLeases, batch: int = 200) -> None:
        self._db = db
        self._leases = leases
        self._batch = batch

    def run(self, now: datetime | None = None) -> CompactionReport | None:
        """One round under the round's lease; ``None`` while an earlier round still runs."""
        with self._leases.running(ROUND) as token:
            if token is None:
                log.info("the usage compaction of an earlier period is still running; skipped")
                return None
            report = self.compact(now or utcnow())
        log.info(
            "usage compaction: %d bucket(s), %d row(s) removed, %d added",
            report.buckets,
            report.removed,
            report.added,
        )
        return report

    def compact(self, now: datetime) -> CompactionReport:
        """Every level, every bucket with rows to compact; safe to run twice (a second run finds none)."""
        report = CompactionReport()
        cutoffs = [(level, floor_to(now - level.age, level.unit)) for level in LEVELS]
        for bucket_ids in self._pages():
            with self._db.session() as session:
                for bucket_id in bucket_ids:
                    plans = [compact_bucket(session, bucket_id, level, cutoff) for level, cutoff in cutoffs]
                    report.buckets += any(plan.removed or plan.added for plan in plans)
                    report.removed += sum(len(plan.removed) for plan in plans)
                    report.added += sum(len(plan.added) for plan in plans)
        return report

    def _pages(self) -> Iterator[list[str]]:
        """The ids of the buckets with samples, ``batch`` at a time, in id order."""
        after = ""
        while True:
            with self._db.session() as session:
                ids = list(session.scalars(BUCKETS_AFTER, {"after": after, "limit": self._batch}))
            if not ids:
                return
            yield ids
            if len(ids) < self._batch:
                return
            after = ids[-1]


# The next ``limit`` bucket ids after ``after``, one seek of the primary key each (a loose index
# scan, which neither database does by itself for DISTINCT): a page costs the same at any size.
BUCKETS_AFTER = text(
    """
    WITH RECURSIVE ids(id, n) AS (
        SELECT (SELECT min(bucket_id) FROM usage_samples WHERE bucket_id > :after), 1
        UNION ALL
        SELECT (SELECT min(bucket_id) FROM usage_samples WHERE bucket_id > ids.id), n + 1
        FROM ids WHERE ids.id IS NOT NULL AND n < :limit
    )
    SELECT id FROM ids WHERE id IS NOT NULL
    """
)


def compact_bucket(session: Session, bucket_id: str, level: Level, cutoff: datetime) -> Plan:
    """Compact one bucket's rows finer than ``level`` in the units that end by ``cutoff`` and by its
    latest row, in the caller's transaction."""
    of_bucket = UsageSample.bucket_id == bucket_id
    latest = session.scalar(select(func.max(UsageSample.at)).where(of_bucket))
    if latest is None:
        return Plan([], [])
    end = min(cutoff, floor_to(latest, level.unit))
    first = session.scalar(
        select(func.min(UsageSample.at)).where(
            of_bucket, UsageSample.resolution.in_(level.finer), UsageSample.at < end
        )
    )
    if first is None:
        return Plan([], [])
    start = floor_to(first, level.unit)
    before = session.scalars(
        select(UsageSample).where(of_bucket, UsageSample.at < start).order_by(UsageSample.at.desc()).limit(1)
    ).first()
    rows = list(
        session.scalars(
            select(UsageSample)
            .where(of_bucket, UsageSample.at >= start, UsageSample.at <= end)
            .order_by(UsageSample.at)
        )
    )
    plan = plan_bucket(bucket_id, Held.of(before) if before else None, rows, level, end)
    session.expunge_all()
    if plan.removed:
        session.execute(delete(UsageSample).where(of_bucket, UsageSample.at.in_(plan.removed)))
    if plan.added:
        session.execute(insert(cast(Table, UsageSample.__table__)), plan.added)
    return plan


def history(session: Session, bucket_id: str) -> list[UsageSample]:
    """Every row of one bucket, oldest first (tests and tools)."""
    return list(
        session.scalars(
            select(UsageSample).where(UsageSample.bucket_id == bucket_id).order_by(UsageSample.at)
        )
    )
