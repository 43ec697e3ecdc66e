"""The ``cli`` fixture of the bucket CLI tests: ``loopback`` against uvicorn over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.app import create_app
from loopback.runtime import Runtime
from tests.buckets.test_cli import Cli
from tests.live_server import LiveServer


@pytest.fixture
def cli(runtime: Runtime, worker: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)  # no ./.loopback/bootstrap-token of a developer's checkout applies
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)
