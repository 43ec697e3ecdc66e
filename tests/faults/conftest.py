"""The topology each fault module runs against: built once per module, torn down with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.checks import Api, Ledger
from tests.faults.topology import Topology


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Topology]:
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with Topology.started(tmp_path_factory.mktemp(f"faults-{name}")) as topology:
        yield topology


@pytest.fixture
def api(topology: Topology) -> Iterator[Api]:
    client = Api(topology.api)
    yield client
    client.close()


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()
