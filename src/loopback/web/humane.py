"""Numbers and times as a person reads them: sizes in KiB/MiB/GiB, times as "3 minutes ago"."""

from __future__ import annotations

from datetime import UTC, datetime

from loopback.kit.clock import utcnow
from loopback.kit.units import binary_size


def human_bytes(size: int | None) -> str:
    """Binary units with one decimal past a kibibyte; an em dash before the first usage sync."""
    return "—" if size is None else binary_size(size)


def human_count(count: int | None, noun: str) -> str:
    if count is None:
        return "—"
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _ago(amount: int, unit: str) -> str:
    return f"{amount} {unit}{'' if amount == 1 else 's'} ago"


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest unit that fits; "never" for a time that has not come yet."""
    if moment is None:
        return "never"
    seconds = int(((now or utcnow()) - moment).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 10:
        return "just now"
    for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400, "day"), (3600, "hour")):
        if seconds >= size:
            return _ago(seconds // size, unit)
    if seconds >= 60:
        return _ago(seconds // 60, "minute")
    return _ago(seconds, "second")


def time_until(moment: datetime | None, now: datetime | None = None) -> str:
    """How long until a moment ("in 3 days"), for expiries; one already past reads as how long ago."""
    if moment is None:
        return "never"
    seconds = int((moment - (now or utcnow())).total_seconds())
    if seconds <= 0:
        return relative_time(moment, now)
    for size, unit in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            amount = seconds // size
            return f"in {amount} {unit}{'' if amount == 1 else 's'}"
    return "in less than a minute"


def exact_time(moment: datetime | None) -> str:
    """The exact moment in UTC, for a title attribute beside a relative time."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat()
