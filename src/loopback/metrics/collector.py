"""The figures read when Prometheus scrapes: the database's counts and the queue's backlog.

Read at scrape time rather than kept by a loop: every API replica and worker answers the same
installation-wide figures, each scrape costs one GROUP BY per figure and two reads of the queue,
and nothing runs between scrapes. A source that does not answer costs the scrape nothing but its
own figures: ``loopback_metrics_source_up`` says which one failed, for an alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from loopback.automation.backlog import backlog
from loopback.kit.db import Database
from loopback.metrics.figures import Figures, read_figures

log = logging.getLogger(__name__)


class InstallationCollector(Collector):
    """Buckets, keys and usage sync lag from ``db``; queue depth and oldest task from ``huey``.

    The database's figures are GROUP BYs over the bucket table: about 0.5 s on PostgreSQL and a
    few seconds on SQLite at a million buckets (tests/metrics/scrape_cost.py). A scrape reads them
    again only when the last reading is ``reuse_seconds`` old, so their cost does not grow with the
    number of scrapers, and a scrape between readings costs nothing; the queue is read every time.
    """

    def __init__(self, db: Database, huey: Any, reuse_seconds: float = 0.0) -> None:
        self._db = db
        self._huey = huey
        self._reuse_seconds = reuse_seconds
        self._read: tuple[float, Figures] | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "loopback_metrics_source_up",
            "Whether the scrape could read a source of figures (database, queue): 1 or 0.",
            labels=["source"],
        )
        seconds = GaugeMetricFamily(
            "loopback_metrics_source_read_seconds",
            "How long this scrape took to read each source of figures.",
            labels=["source"],
        )
        for source, read in (("database", self._database), ("queue", self._queue)):
            start = time.perf_counter()
            try:
                families = list(read())
            except Exception:
                log.exception("metrics: could not read the %s", source)
                families = []
                up.add_metric([source], 0)
            else:
                up.add_metric([source], 1)
            seconds.add_metric([source], time.perf_counter() - start)
            yield from families
        yield up
        yield seconds

    def _database(self) -> Iterator[Metric]:
        yield from database_families(self._figures(), datetime.now(UTC))

    def _figures(self) -> Figures:
        with self._lock:  # concurrent scrapes wait for one reading instead of making their own
            now = time.monotonic()
            if self._read is None or now - self._read[0] >= self._reuse_seconds:
                with self._db.session() as session:
                    self._read = (now, read_figures(session))
            return self._read[1]

    def _queue(self) -> Iterator[Metric]:
        found = backlog(self._huey)
        yield gauge("loopback_queue_depth_tasks", "Tasks waiting in the queue for a worker.", found.depth)
        yield gauge(
            "loopback_queue_oldest_task_age_seconds",
            "How long the task waiting longest has waited (0 when none waits).",
            found.oldest_age_seconds or 0.0,
        )


def database_families(figures: Figures, now: datetime) -> Iterator[Metric]:
    buckets = GaugeMetricFamily(
        "loopback_buckets",
        "Bucket records (superseded ones left out) by provider and status.",
        labels=["provider", "family", "status"],
    )
    for count in figures.buckets:
        buckets.add_metric([count.provider_id, count.family, count.status], count.buckets)
    yield buckets
    keys = GaugeMetricFamily("loopback_keys", "Access keys by state.", labels=["state"])
    for state, keys_in_state in sorted(figures.keys.items()):
        keys.add_metric([state], keys_in_state)
    yield keys
    lag = GaugeMetricFamily(
        "loopback_usage_sync_lag_seconds",
        "Age of the oldest usage sync among a provider's ready buckets (0 when none has synced yet).",
        labels=["provider", "family"],
    )
    for (provider_id, family), oldest in sorted(figures.oldest_ready_sync().items()):
        lag.add_metric([provider_id, family], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
    yield lag


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
