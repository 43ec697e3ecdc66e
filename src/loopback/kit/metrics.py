"""The instruments every layer records into, in this process's Prometheus registry (docs/metrics.md).

They sit at the ground so the low layers that see an event (the request middleware, the provider
adapters' wrapper, the task wrappers) can record it without knowing who publishes it; the
``loopback.metrics`` package adds the figures read at scrape time and answers ``/metrics``.
Labels name routes, providers, operations and outcomes: never a tenant's name or id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

# Seconds, from a fast local answer to a provider's slow timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# A reconcile is a few provider calls, or a claim that another run holds.
RECONCILE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

HTTP_REQUESTS = Counter(
    "loopback_http_requests_total",
    "HTTP requests answered, by route template (never the raw path) and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "loopback_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
RECONCILE_DURATION = Histogram(
    "loopback_reconcile_duration_seconds",
    "Reconcile runs by provider and outcome (the bucket's status after the run, or error).",
    ["provider", "family", "outcome"],
    buckets=RECONCILE_BUCKETS,
)
PROVIDER_CALLS = Counter(
    "loopback_provider_calls_total",
    "Calls into a provider's adapter, by operation and outcome (ok, transient, refused, error).",
    ["provider", "family", "operation", "outcome"],
)
PROVIDER_CALL_DURATION = Histogram(
    "loopback_provider_call_duration_seconds",
    "Time a provider's adapter took for one call, by operation.",
    ["provider", "family", "operation"],
    buckets=LATENCY_BUCKETS,
)
PERIODIC_LAST_SUCCESS = Gauge(
    "loopback_periodic_job_last_success_timestamp_seconds",
    "Unix time a periodic round last ended without an error in this process.",
    ["job"],
)
TASKS = Counter(
    "loopback_tasks_total",
    "Tasks this process's workers ran, by task name and outcome (ok or error).",
    ["task", "outcome"],
)


@contextmanager
def timed() -> Iterator[list[float]]:
    """Measure the block: the one-element list holds its seconds once the block is left."""
    elapsed = [0.0]
    start = time.perf_counter()
    try:
        yield elapsed
    finally:
        elapsed[0] = time.perf_counter() - start
