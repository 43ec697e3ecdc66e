"""``loopback serve`` as an operator runs it: text lines by default, JSON lines with
``LOOPBACK_LOG_FORMAT=json`` (no line of anything else, and no operator token), and /metrics on
the API's port. No embedded storage: the logs are what is looked at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ServeProcess
from tests.metrics.scraping import Scrape


@pytest.fixture
def serves() -> Iterator[list[ServeProcess]]:
    started: list[ServeProcess] = []
    yield started
    for serve in started:
        if serve.process is not None and serve.process.poll() is None:
            serve.stop()


def started(serves: list[ServeProcess], data_dir: Path, **environment: str) -> ServeProcess:
    serve = ServeProcess(data_dir, None)
    serve.env = {key: value for key, value in serve.env.items() if key != "LOOPBACK_LOG_FORMAT"} | {
        "LOOPBACK_EMBEDDED_STORAGE": "false",
        **environment,
    }
    serves.append(serve)
    serve.start()
    return serve


def test_json_logs_are_one_object_a_line_and_keep_the_token_in_its_file(
    serves: list[ServeProcess], tmp_path: Path
) -> None:
    serve = started(serves, tmp_path / "json", LOOPBACK_LOG_FORMAT="json")
    scrape = Scrape.parse(httpx.get(f"{serve.url}/metrics").text)
    assert scrape.value("loopback_http_requests_total", route="/readyz", status="200") >= 1
    token = next((tmp_path / "json").rglob("*token*")).read_text().strip()
    regions = httpx.get(f"{serve.url}/v3/regions", headers={"Authorization": f"Bearer {token}"})
    assert regions.status_code == 200
    serve.stop()
    lines = [line for line in serve.output().splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]  # every line, or this fails
    assert any("Loopback object storage is running." in line["message"] for line in objects)
    assert any(line["logger"].startswith("uvicorn") for line in objects)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in objects)
    assert token not in serve.output()


def test_text_stays_the_default(serves: list[ServeProcess], tmp_path: Path) -> None:
    serve = started(serves, tmp_path / "text")
    serve.stop()
    output = serve.output()
    assert "Loopback object storage is running." in output
    assert "export LOOPBACK_TOKEN=lbk_" in output  # the first start shows its token once, as before
    assert not [line for line in output.splitlines() if line.startswith("{")]
