"""Usage samples: compaction keeps the integral over whole hours and days, and the values in force."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from loopback.billing.report import hold
from loopback.buckets.samples import (
    DAY,
    HOUR,
    LEVELS,
    RAW,
    Plan,
    Sample,
    SampleCompaction,
    UsageSample,
    compact_bucket,
    history,
    record_samples,
)
from loopback.kit.leases import RoundLeases
from loopback.runtime import Runtime

BASE = datetime(2026, 6, 1, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
LATER = BASE + timedelta(days=30)  # "now" for compaction: every hour above is older than two days


def integral(rows: Sequence[UsageSample], start: datetime, stop: datetime) -> int:
    """Byte-microseconds held over [start, stop), as billing counts them."""
    return hold(rows, start, stop).byte_micros


def in_force(rows: Sequence[UsageSample], at: datetime) -> tuple[int, int]:
    last = [r for r in rows if r.at <= at][-1]
    return last.bytes, last.object_count


def write(runtime: Runtime, bucket_id: str, values: Sequence[tuple[timedelta, int]]) -> None:
    with runtime.db.session() as session:
        record_samples(session, [Sample(bucket_id, BASE + at, b // 1000, b) for at, b in values])


def rows_of(runtime: Runtime, bucket_id: str) -> list[UsageSample]:
    with runtime.db.session() as session:
        return history(session, bucket_id)


def compacted(runtime: Runtime, bucket_id: str) -> tuple[list[UsageSample], list[UsageSample], Plan]:
    """The bucket's rows before and after compacting its hours up to BASE + 10 h, and the plan."""
    before = rows_of(runtime, bucket_id)
    with runtime.db.session() as session:
        plan = compact_bucket(session, bucket_id, LEVELS[0], BASE + 10 * H)
    return before, rows_of(runtime, bucket_id), plan


def test_hours_compact_to_their_mean_and_keep_the_integral_exactly(runtime: Runtime) -> None:
    unit = 3600 * 1000  # a multiple of 3600: every hour's mean is a whole number of bytes
    write(
        runtime,
        "bkt_hours",
        [
            (-30 * M, 2 * unit),  # carried into BASE
            (10 * M, 5 * unit),
            (50 * M, 0),
            (80 * M, 7 * unit),
            (2 * H, 7 * unit),  # the same again
            (150 * M, 9 * unit),
            (3 * H + 5 * M, 9 * unit),  # hour 3 holds one value, but not hour 2's mean: it keeps a row
            (3 * H + 35 * M, 9 * unit),
            (4 * H + 20 * M, 4 * unit),
            (5 * H + 10 * M, 6 * unit),  # the latest: hour 5 has not ended before it, so it stays raw
        ],
    )
    before, after, plan = compacted(runtime, "bkt_hours")

    for hour in range(-1, 5):
        start = BASE + hour * H
        assert integral(after, start, start + H) == integral(before, start, start + H), hour
    assert integral(after, BASE - H, BASE + 6 * H) == integral(before, BASE - H, BASE + 6 * H)
    assert in_force(after, BASE + 5 * H + 10 * M) == in_force(before, BASE + 5 * H + 10 * M)
    assert [(r.at - BASE, r.resolution) for r in after] == [
        (-H, HOUR),
        (0 * H, HOUR),
        (H, HOUR),
        (2 * H, HOUR),
        (3 * H, HOUR),
        (4 * H, HOUR),
        (5 * H, HOUR),  # the carry row: 4 units were in force at 5 h, not hour 4's mean
        (5 * H + 10 * M, RAW),
    ]
    assert (after[4].bytes, after[6].bytes) == (9 * unit, 4 * unit)
    hour_one = after[2]  # 20 min of 0 bytes, 40 min of 7 units
    assert (hour_one.bytes, hour_one.peak_bytes, hour_one.object_count) == (
        7 * unit * 40 // 60,
        7 * unit,
        7 * unit // 1000,
    )
    assert len(plan.removed) == 9
    with runtime.db.session() as session:  # a second run finds nothing to do
        again = compact_bucket(session, "bkt_hours", LEVELS[0], BASE + 10 * H)
    assert (again.removed, again.added) == ([], [])


def test_a_compacted_range_ends_with_a_carry_row_when_the_next_hour_has_no_sample(runtime: Runtime) -> None:
    write(runtime, "bkt_carry", [(0 * M, 3600), (30 * M, 7200), (3 * H, 0), (4 * H + M, 5)])
    before, after, _ = compacted(runtime, "bkt_carry")
    # hour 0 becomes its mean (5400); hours 1 and 2 held 7200 with no sample: a carry row at 1 h says so
    assert [(r.at - BASE, r.bytes) for r in after] == [(0 * H, 5400), (H, 7200), (3 * H, 0), (4 * H + M, 5)]
    assert integral(after, BASE, BASE + 4 * H) == integral(before, BASE, BASE + 4 * H)


def test_rounding_to_the_byte_costs_at_most_half_a_byte_held_for_the_hour(runtime: Runtime) -> None:
    write(runtime, "bkt_odd", [(7 * M, 1_000_003), (29 * M, 999_999_937), (61 * M, 12_345), (2 * H + M, 1)])
    before, after, _ = compacted(runtime, "bkt_odd")
    half_byte_hour = 3600 * 10**6 // 2
    for hour in range(2):
        start = BASE + hour * H
        assert abs(integral(after, start, start + H) - integral(before, start, start + H)) <= half_byte_hour


def test_the_round_compacts_raw_to_hours_then_old_hours_to_days(runtime: Runtime) -> None:
    unit = 86_400 * 1000  # a multiple of a day's seconds: hourly and daily means are whole bytes
    values = [(i * 25 * M, unit * (i % 5)) for i in range(3 * 24 * 60 // 25)]  # three days, every 25 min
    values.append((3 * 24 * H + 5 * M, 0))
    write(runtime, "bkt_days", values)
    write(runtime, "bkt_idle", [(i * 30 * M, 5 * unit) for i in range(3 * 48)] + [(72 * H + M, 5 * unit)])
    before = rows_of(runtime, "bkt_days")
    compaction = SampleCompaction(runtime.db, RoundLeases(runtime.db), batch=1)  # a page per bucket
    report = compaction.run(now=BASE + timedelta(days=100))
    assert report is not None
    after = rows_of(runtime, "bkt_days")
    for day in range(3):
        start = BASE + timedelta(days=day)
        assert integral(after, start, start + timedelta(days=1)) == integral(
            before, start, start + timedelta(days=1)
        )
    assert [r.resolution for r in after] == [DAY, DAY, DAY, HOUR, RAW]  # the hour: a carry row at 72 h
    assert max(r.peak_bytes or r.bytes for r in after) == 4 * unit
    idle = rows_of(runtime, "bkt_idle")  # one value throughout: the first row holds it all
    assert [(r.at - BASE, r.resolution, r.bytes) for r in idle] == [
        (0 * H, DAY, 5 * unit),
        (72 * H + M, RAW, 5 * unit),
    ]
    assert compaction.compact(BASE + timedelta(days=100)).removed == 0  # nothing left to do


def test_a_sample_recorded_twice_is_kept_once(runtime: Runtime) -> None:
    sample = Sample("bkt_twice", BASE, 1, 10)
    with runtime.db.session() as session:
        record_samples(session, [sample])
    with runtime.db.session() as session:
        record_samples(session, [sample, Sample("bkt_twice", BASE + M, 2, 20, noncurrent_bytes=3)])
    assert [(r.bytes, r.noncurrent_bytes, r.multipart_bytes) for r in rows_of(runtime, "bkt_twice")] == [
        (10, None, None),
        (20, 3, None),
    ]
