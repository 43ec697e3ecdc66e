"""One line per figure, beside its baseline from the same run, its ratio and the issue's goal.

Every benchmark in this folder prints through ``Figure.line`` so that ``benchmarks/run.py`` shows
one table. The machine is shared and noisy: the ratio is what counts, never the absolute time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal


def timed(action: Callable[[], object]) -> float:
    """Seconds ``action`` took, on the monotonic performance clock."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p95(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


@dataclass(frozen=True)
class Figure:
    """A measured value against its baseline: ``ratio`` is measured / baseline, or their difference
    in milliseconds for goals stated as a difference (``kind="difference"``)."""

    name: str
    measured: float
    baseline: float
    unit: str  # "ms", "req/s", "MiB", "s"
    goal: float
    kind: Literal["ratio<=", "ratio>=", "difference<="] = "ratio<="
    note: str = ""

    @property
    def ratio(self) -> float:
        if self.kind == "difference<=":
            return self.measured - self.baseline
        return self.measured / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio >= self.goal if self.kind == "ratio>=" else self.ratio <= self.goal

    def line(self) -> str:
        if self.kind == "difference<=":
            outcome = f"diff {self.ratio:8.1f} {self.unit:5} goal <= {self.goal:g}"
        else:
            sign = ">=" if self.kind == "ratio>=" else "<="
            outcome = f"ratio {self.ratio:7.2f}       goal {sign} {self.goal:g}"
        verdict = "met" if self.met else "NOT MET"
        text = (
            f"{self.name:<58} {self.measured:10.1f} {self.unit:5} vs {self.baseline:10.1f} {self.unit:5} "
            f"{outcome}  {verdict}"
        )
        return f"{text}  ({self.note})" if self.note else text


def print_figures(title: str, figures: Sequence[Figure]) -> None:
    print(title)
    for figure in figures:
        print("  " + figure.line(), flush=True)
