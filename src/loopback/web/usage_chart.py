"""A project's usage per bucket as a bar chart drawn on the server: one inline SVG bar a bucket.

The page has read every current bucket for its list already, so the chart costs no statement. Bars
are SVG ``rect`` widths, not ``style`` attributes, which the console's CSP refuses; each bar's
number is text beside it, so a screen reader (and a browser without styles) reads the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loopback.buckets.models import BucketStatus
from loopback.buckets.service import BucketView
from loopback.web.humane import human_bytes

# What a chart can measure, by the query parameter that picks it; the first is the default.
MEASURES: dict[str, str] = {"size": "Size", "objects": "Objects"}
CHART_LIMIT = 20  # bars a chart draws at most: a large project's page stays small
MIN_WIDTH = 0.5  # percent: a bucket holding anything shows a sliver, never an empty track


@dataclass(frozen=True)
class Bar:
    """One bucket's bar: its number as text, and its length in percent of the longest bar."""

    bucket_id: str
    name: str
    value: int | None  # None: no usage sync yet
    label: str
    width: float

    @property
    def measured(self) -> bool:
        return self.value is not None

    @property
    def percent(self) -> str:
        """The ``rect`` width in a viewBox 100 wide: short, and the same on every platform."""
        return f"{self.width:.2f}".rstrip("0").rstrip(".")


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
        longest = max((_value(v, measure) or 0 for v in shown), default=0)
        bars = []
        for view in shown:
            value = _value(view, measure)
            width = 0.0
            if value and longest:
                width = max(100 * value / longest, MIN_WIDTH)
            bars.append(Bar(view.bucket.id, view.bucket.name, value, _label(value, measure), width))
        return cls(measure, bars, len(live))
