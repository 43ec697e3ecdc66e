"""The billing report: GB-hours, peaks and bucket-days per group, integrated from usage samples.

A bucket's usage is a step function ("sample and hold"): each sample's bytes hold from its time
until the bucket's next sample, and end at the bucket's deletion, at the period's end, and at the
moment the report is made (nothing is projected into the future). Before its first sample a
bucket counts no bytes. The sample in force when the period starts (the last one at or before
``start``) counts from ``start`` on. So

    GB-hours = sum over samples of bytes x (seconds held within the period) / 10^9 / 3600

with GB = 10^9 bytes, as providers bill. The sum is kept in whole byte-microseconds, exact, and
divided once at the end. Compacted hours and days (``buckets.samples``) hold their time-weighted
mean, so any period of whole hours (days, for history older than 90 days) integrates as the raw
samples did, to within half a byte per compacted hour or day; a period boundary inside one counts
its mean for the part inside.

``peak_bytes`` and ``peak_objects`` are the most a group held at once: the buckets' step
functions summed, each compacted row counting its hour's or day's peak (so past two days a peak
is the sum of hourly peaks, which may be a little above the true one). ``bucket_days`` is how long
each bucket existed (created to deleted) within the period, in days, summed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Protocol

from sqlalchemy.orm import Session

from loopback.billing import repository
from loopback.kit.scoping import Scope

BYTE_MICROS_PER_GB_HOUR = 10**9 * 3600 * 10**6
MICROS_PER_DAY = 86_400 * 10**6
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE = 500  # buckets read, and their samples held, at once


class GroupBy(enum.StrEnum):
    PROJECT = "project"
    BUCKET = "bucket"
    PROVIDER = "provider"
    REGION = "region"


def _micros(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


@dataclass(frozen=True)
class BucketLife:
    """A bucket as the report names and bounds it."""

    id: str
    name: str
    project: str
    provider: str
    region_id: str
    region: str
    created_at: datetime
    deleted_at: datetime | None


class Observed(Protocol):
    """A usage sample as the report reads it (a row of ``usage_samples``, or its columns)."""

    @property
    def at(self) -> datetime: ...

    @property
    def bytes(self) -> int: ...

    @property
    def peak_bytes(self) -> int | None: ...

    @property
    def object_count(self) -> int: ...


def micros_since_epoch(moment: datetime) -> int:
    return _micros(moment - EPOCH)


Change = tuple[int, int, int]  # microseconds since the epoch, change of (peak) bytes, of objects


@dataclass(frozen=True)
class Held:
    """One bucket's step function over a period: bytes held, integrated (byte-microseconds), and
    where what it held changed, for the peaks."""

    byte_micros: int
    changes: list[Change]


def hold(samples: Sequence[Observed], start: datetime, stop: datetime) -> Held:
    """Integrate one bucket's ``samples`` (time order), each held until the next, over [start, stop)."""
    times = [micros_since_epoch(sample.at) for sample in samples] + [micros_since_epoch(stop)]
    first, last = micros_since_epoch(start), times[-1]
    total, changes = 0, []
    ended, peak_before, objects_before = None, 0, 0  # the previous span: its end and its values
    for index, sample in enumerate(samples):
        begin, end = max(times[index], first), min(times[index + 1], last)
        if end <= begin:
            continue
        peak = sample.peak_bytes if sample.peak_bytes is not None else sample.bytes
        total += sample.bytes * (end - begin)
        if ended != begin:  # the first span, or one after a gap: the previous one ends first
            if ended is not None:
                changes.append((ended, -peak_before, -objects_before))
            peak_before, objects_before = 0, 0
        if (peak, sample.object_count) != (peak_before, objects_before):
            changes.append((begin, peak - peak_before, sample.object_count - objects_before))
        ended, peak_before, objects_before = end, peak, sample.object_count
    if ended is not None:
        changes.append((ended, -peak_before, -objects_before))
    return Held(total, changes)


@dataclass
class Figures:
    """What the report says of one group, as it adds buckets up."""

    project: str | None = None
    bucket: str | None = None
    bucket_id: str | None = None
    provider: str | None = None
    region: str | None = None
    buckets: int = 0
    byte_micros: int = 0
    life_micros: int = 0
    changes: dict[int, list[int]] = field(default_factory=dict)  # time -> [bytes, objects] changes

    def add(self, life_micros: int, held: Held) -> None:
        self.buckets += 1
        self.life_micros += life_micros
        self.byte_micros += held.byte_micros
        for at, peak, objects in held.changes:
            change = self.changes.get(at)
            if change is None:
                self.changes[at] = [peak, objects]
            else:
                change[0] += peak
                change[1] += objects

    def peaks(self) -> tuple[int, int]:
        """The most bytes and the most objects held at once (each at its own moment)."""
        held, objects, peak_bytes, peak_objects = 0, 0, 0, 0
        for at in sorted(self.changes):
            held += self.changes[at][0]
            objects += self.changes[at][1]
            peak_bytes, peak_objects = max(peak_bytes, held), max(peak_objects, objects)
        return peak_bytes, peak_objects

    @property
    def gb_hours(self) -> float:
        return self.byte_micros / BYTE_MICROS_PER_GB_HOUR

    @property
    def bucket_days(self) -> float:
        return self.life_micros / MICROS_PER_DAY


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    measured_until: datetime
    group_by: GroupBy
    groups: list[Figures]
    total: Figures


def _group_of(life: BucketLife, group_by: GroupBy) -> tuple[tuple[str, ...], Figures]:
    if group_by is GroupBy.PROJECT:
        return (life.project,), Figures(project=life.project)
    if group_by is GroupBy.PROVIDER:
        return (life.provider,), Figures(provider=life.provider)
    if group_by is GroupBy.REGION:  # a region code may exist at several providers
        return (life.provider, life.region, life.region_id), Figures(
            provider=life.provider, region=life.region
        )
    named = Figures(
        project=life.project, bucket=life.name, bucket_id=life.id, provider=life.provider, region=life.region
    )
    return (life.project, life.name, life.id), named


def usage_report(
    session: Session, scope: Scope, start: datetime, end: datetime, group_by: GroupBy, now: datetime
) -> Report:
    """The scope's usage over [start, end) as of ``now``, per group, reading ``PAGE`` buckets at a time."""
    stop_all = max(start, min(end, now))
    groups: dict[tuple[str, ...], Figures] = {}
    total = Figures()
    after = ""
    while True:
        page = [
            BucketLife(*row)
            for row in session.execute(repository.buckets_in_period(scope, start, stop_all, after, PAGE))
        ]
        if not page:
            break
        rows = session.execute(repository.samples_in_period([b.id for b in page], start, stop_all)).all()
        by_bucket: dict[str, list[Observed]] = {
            bucket_id: list(found) for bucket_id, found in groupby(rows, lambda s: s.bucket_id)
        }
        for life in page:
            stop = min(stop_all, life.deleted_at) if life.deleted_at else stop_all
            found = hold(by_bucket.get(life.id, []), start, stop)
            lived = _micros(max(timedelta(0), stop - max(start, life.created_at)))
            key, fresh = _group_of(life, group_by)
            groups.setdefault(key, fresh).add(lived, found)
            total.add(lived, found)
        if len(page) < PAGE:
            break
        after = page[-1].id
    ordered = [groups[key] for key in sorted(groups)]
    return Report(start, end, stop_all, group_by, ordered, total)
