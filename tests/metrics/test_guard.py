"""Who may read /metrics: the settings' address ranges and bearer token, on the API and on a
standalone ``loopback worker``'s own port.

The API is asked over ASGI with the client address each case needs; the worker is a real child
process started as an operator starts it, with ``LOOPBACK_WORKER_METRICS_PORT``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from loopback.app import create_app
from loopback.kit.ports import free_ports
from loopback.kit.settings import Settings
from loopback.migrations import upgrade
from loopback.runtime import Runtime
from tests.automation.workers import WorkerProcess
from tests.conftest import OPERATOR_HEADERS, wait_for
from tests.metrics.scraping import Scrape

TOKEN = "metrics-scraper-token-0001"


def api(runtime: Runtime, client: tuple[str, int] = ("127.0.0.1", 40000), **settings: object) -> TestClient:
    """The API over ``runtime`` with ``settings`` changed, asked from the address ``client``."""
    validated = Settings.model_validate({**runtime.settings.model_dump(), **settings})
    changed = dataclasses.replace(runtime, settings=validated)
    return TestClient(create_app(changed), client=client)


def test_without_limits_anyone_may_scrape_with_no_token(runtime: Runtime) -> None:
    with api(runtime, client=("203.0.113.7", 40000)) as client:
        assert client.get("/metrics").status_code == 200


def test_an_address_outside_the_ranges_is_refused_and_one_inside_answered(runtime: Runtime) -> None:
    ranges = ["10.0.0.0/8", "2001:db8::/32"]
    with api(runtime, client=("203.0.113.7", 40000), metrics_networks=ranges) as outside:
        refused = outside.get("/metrics")
        assert refused.status_code == 403
        assert "loopback_" not in refused.text
    for inside in ("10.1.2.3", "2001:db8::5", "::ffff:10.9.9.9"):
        with api(runtime, client=(inside, 40000), metrics_networks=ranges) as client:
            assert client.get("/metrics").status_code == 200, inside


def test_the_token_is_asked_for_and_a_tenants_token_is_not_it(runtime: Runtime) -> None:
    with api(runtime, metrics_token=TOKEN) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers=OPERATOR_HEADERS).status_code == 401
        assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401  # no scheme
        answered = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answered.status_code == 200
        assert "loopback_buckets" in answered.text


def test_both_limits_hold_together(runtime: Runtime) -> None:
    limits = {"metrics_networks": ["10.0.0.0/8"], "metrics_token": TOKEN}
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with api(runtime, client=("192.0.2.1", 40000), **limits) as outside:
        assert outside.get("/metrics", headers=bearer).status_code == 403
    with api(runtime, client=("10.0.0.1", 40000), **limits) as inside:
        assert inside.get("/metrics").status_code == 401
        assert inside.get("/metrics", headers=bearer).status_code == 200


def test_a_mistyped_range_fails_the_settings() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(metrics_networks=["10.0.0/33"])


@pytest.fixture
def worker_process(settings: Settings, tmp_path: Path) -> Iterator[tuple[WorkerProcess, int]]:
    upgrade(settings.resolved_database_url)
    port = free_ports(1)[0]
    process = WorkerProcess(
        settings,
        tmp_path / "worker.log",
        LOOPBACK_SECRET_KEY=Fernet.generate_key().decode(),
        LOOPBACK_WORKER_METRICS_PORT=str(port),
        LOOPBACK_METRICS_TOKEN=TOKEN,
        LOOPBACK_LOG_FORMAT="json",
    )
    yield process.start(), port
    process.stop()


def test_a_standalone_worker_answers_on_its_own_port_behind_the_same_guard(
    worker_process: tuple[WorkerProcess, int],
) -> None:
    process, port = worker_process
    url = f"http://127.0.0.1:{port}/metrics"

    def answered() -> httpx.Response | None:
        try:
            return httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        except httpx.ConnectError:
            return None

    scrape = Scrape.parse(wait_for(answered).text)
    assert {"loopback_queue_depth_tasks", "loopback_buckets", "loopback_tasks"} <= set(scrape.families)
    assert scrape.value("loopback_metrics_source_up", source="database") == 1
    assert httpx.get(url).status_code == 401
    assert httpx.get(f"http://127.0.0.1:{port}/other").status_code == 404
    # Its log is JSON, a line an object, and says where the metrics are.
    lines = [line for line in process.output().splitlines() if line.strip()]
    assert lines
    assert all(line.startswith("{") for line in lines), lines
    assert any(f":{port}/metrics" in line for line in lines)
