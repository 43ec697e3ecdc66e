"""The /metrics answer: this process's instruments (kit.metrics, the process's own) and the
installation's figures, in Prometheus' text format; served by the API and by a standalone worker.

Each process answers for itself: its requests, provider calls, reconciles and rounds, as counters
Prometheus sums over the instances; the figures read at scrape time (buckets, keys, queue) are the
installation's, the same from every instance, so alerts take their ``max``. A ``loopback worker``
has no API: it answers on ``LOOPBACK_WORKER_METRICS_PORT`` (:func:`serve_worker_metrics`), behind
the same guard as the API's /metrics.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from loopback.kit.db import Database
from loopback.kit.settings import Settings
from loopback.metrics.collector import InstallationCollector
from loopback.metrics.guard import MetricsGuard

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus reads (names are plain)
REFUSED = {401: "401 Unauthorized", 403: "403 Forbidden"}


class _ThisProcess(Collector):
    """The process-wide registry's families (the instruments, process and platform figures)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class Exposition:
    """What one process answers on /metrics, and whom it answers."""

    def __init__(self, db: Database, huey: Any, settings: Settings) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_ThisProcess())
        self.registry.register(InstallationCollector(db, huey, settings.metrics_figures_seconds))
        self.guard = MetricsGuard.for_settings(settings)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:  # a scrape every 15 s is no news
        return None


def worker_app(exposition: Exposition) -> Any:
    """A WSGI app answering GET /metrics (and nothing else) behind the guard."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        refused = exposition.guard.refusal(environ.get("REMOTE_ADDR"), environ.get("HTTP_AUTHORIZATION"))
        if refused is not None:
            start_response(REFUSED[refused], [("Content-Type", "text/plain")])
            return [b"refused\n"]
        body = exposition.render()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]

    return app


def serve_worker_metrics(exposition: Exposition, host: str, port: int) -> WSGIServer:
    """Answer /metrics on ``host:port`` from a daemon thread; answers the server (its real port)."""
    server = make_server(host, port, worker_app(exposition), server_class=_Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server
