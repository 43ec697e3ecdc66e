"""Charts drawn on the server: a project's usage per bucket as bars (one inline SVG bar a bucket),
bars of any other figure (``draw_bars``: the billing page's GB-hours), and a bucket's bytes over time.

The project's page has read every current bucket for its list already, so its chart costs no
statement; a bucket's line costs one, its samples of the window. Bars
are SVG ``rect`` widths, not ``style`` attributes, which the console's CSP refuses; each bar's
number is text beside it, so a screen reader (and a browser without styles) reads the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from loopback.billing.repository import samples_in_period
from loopback.buckets.models import BucketStatus
from loopback.buckets.service import BucketView
from loopback.web.humane import human_bytes

# What a chart can measure, by the query parameter that picks it; the first is the default.
MEASURES: dict[str, str] = {"size": "Size", "objects": "Objects"}
CHART_LIMIT = 20  # bars a chart draws at most: a large project's page stays small
MIN_WIDTH = 0.5  # percent: a bucket holding anything shows a sliver, never an empty track


@dataclass(frozen=True)
class Bar:
    """One bar: what it stands for, its number as text, and its length in percent of the longest."""

    key: str  # a bucket id, a project slug: what the bar's row links to
    name: str
    value: float | None  # None: not measured yet
    label: str
    width: float

    @property
    def measured(self) -> bool:
        return self.value is not None

    @property
    def percent(self) -> str:
        """The ``rect`` width in a viewBox 100 wide: short, and the same on every platform."""
        return f"{self.width:.2f}".rstrip("0").rstrip(".")


def draw_bars(rows: Sequence[tuple[str, str, float | None, str]]) -> list[Bar]:
    """Bars for ``(key, name, value, label)`` rows in their order, each as long as its value next to
    the largest; a value above zero shows at least a sliver, none (not measured) no bar at all."""
    longest = max((value or 0 for _, _, value, _ in rows), default=0)
    bars = []
    for key, name, value, label in rows:
        width = 0.0
        if value and longest:
            width = max(100 * value / longest, MIN_WIDTH)
        bars.append(Bar(key, name, value, label, width))
    return bars


def _value(view: BucketView, measure: str) -> int | None:
    bucket = view.bucket
    return bucket.object_count if measure == "objects" else bucket.bytes


def _label(value: int | None, measure: str) -> str:
    if value is None:
        return "not measured yet"
    return f"{value:,}" if measure == "objects" else human_bytes(value)


@dataclass(frozen=True)
class UsageChart:
    """The largest live buckets by one measure, then those not measured yet, up to a limit."""

    measure: str
    bars: list[Bar]
    live: int  # live buckets of the project, drawn or not

    @property
    def more(self) -> int:
        """Live buckets the limit left out."""
        return self.live - len(self.bars)

    @property
    def caption(self) -> str:
        """What the chart shows, in the words a screen reader reads before the bars."""
        words = (
            "Objects in each bucket, most first"
            if self.measure == "objects"
            else "Size of each bucket, largest first"
        )
        if self.more:
            words += f": the first {len(self.bars)} of {self.live}"
        if any(not bar.measured for bar in self.bars):
            words += "; buckets not measured yet come last, with no bar"
        return words + "."

    @classmethod
    def of(cls, views: Sequence[BucketView], measure: str) -> UsageChart:
        """Deleted buckets hold nothing and are left out; ``views`` are current (not superseded)."""
        live = [v for v in views if v.bucket.status != BucketStatus.DELETED]
        measured = sorted(
            (v for v in live if _value(v, measure) is not None),
            key=lambda v: (-(_value(v, measure) or 0), v.bucket.name),
        )
        unmeasured = sorted((v for v in live if _value(v, measure) is None), key=lambda v: v.bucket.name)
        shown = (measured + unmeasured)[:CHART_LIMIT]
        rows = []
        for view in shown:
            value = _value(view, measure)
            rows.append((view.bucket.id, view.bucket.name, value, _label(value, measure)))
        return cls(measure, draw_bars(rows), len(live))


# --- one bucket's bytes over time ------------------------------------------------------------------

LINE_DAYS = 30  # a bucket's page draws its last 30 days
LINE_HEIGHT = 40  # the viewBox is 100 wide and this high; the SVG stretches to the card's width


@dataclass(frozen=True)
class Step:
    """Bytes held from ``at`` until the next step (sample and hold, as billing integrates them)."""

    at: datetime
    bytes: int


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class UsageLine:
    """A bucket's bytes over its last ``LINE_DAYS`` days as a step line: one step a usage sample, the
    one in force when the window opens drawn from its start, the last held until now."""

    start: datetime
    end: datetime
    steps: list[Step]

    @property
    def measured(self) -> bool:
        return bool(self.steps)

    @property
    def peak(self) -> int:
        return max((step.bytes for step in self.steps), default=0)

    @property
    def latest(self) -> int:
        return self.steps[-1].bytes if self.steps else 0

    def _x(self, moment: datetime) -> str:
        span = max(self.end - self.start, timedelta(seconds=1))
        return _number(100 * (max(moment, self.start) - self.start) / span)

    def _y(self, size: int) -> str:
        return _number(LINE_HEIGHT - (LINE_HEIGHT * 0.95 * size / self.peak if self.peak else 0))

    @property
    def line(self) -> str:
        """The SVG path: M to the first step, then per further step H(orizontally) to its time and
        V(ertically) to its bytes, and H to now."""
        if not self.steps:
            return ""
        first = self.steps[0]
        parts = [f"M{self._x(first.at)},{self._y(first.bytes)}"]
        parts += [f"H{self._x(step.at)}V{self._y(step.bytes)}" for step in self.steps[1:]]
        parts.append("H100")
        return " ".join(parts)

    @property
    def area(self) -> str:
        """The line closed down to the axis: the filled area under it."""
        if not self.steps:
            return ""
        return f"{self.line} V{LINE_HEIGHT} H{self._x(self.steps[0].at)} Z"

    @property
    def caption(self) -> str:
        days = max(1, round((self.end - self.start) / timedelta(days=1)))
        span = f"the last {days} day{'' if days == 1 else 's'}"
        if not self.steps:
            return f"Bytes held over {span}: not measured yet."
        changes = len(self.steps) - 1
        return (
            f"Bytes held over {span}: {human_bytes(self.latest)} now, at most {human_bytes(self.peak)}; "
            f"{changes} change{'' if changes == 1 else 's'} recorded."
        )

    @classmethod
    def of(cls, session: Session, bucket_id: str, created_at: datetime, now: datetime) -> UsageLine:
        """The bucket's samples in the window (read as billing reads them, the one carried into the
        window included); the window opens ``LINE_DAYS`` ago, or when the bucket was created."""
        start = min(max(now - timedelta(days=LINE_DAYS), created_at), now)
        rows = session.execute(samples_in_period([bucket_id], start, now)).all()
        steps = [Step(row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC), row.bytes) for row in rows]
        return cls(start, now, steps)
