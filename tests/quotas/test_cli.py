"""``loopback quotas show|set``: what applies as a table, the API's JSON as it came, a refusal named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.app import create_app
from loopback.client.errors import ExitCode
from loopback.runtime import Runtime
from tests.buckets.test_cli import Cli
from tests.live_server import LiveServer


@pytest.fixture
def cli(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)


def test_set_and_show_an_organization_and_a_project(cli: Cli) -> None:
    org = ("--org", "demo")
    cli.ok("quotas", "set", "--buckets", "4", "--project-bytes", str(2 * 2**30), *org)
    table = cli.ok("quotas", "show", "--project", "default", *org)
    rows = {line.split()[1]: line for line in table.stdout.splitlines() if line.startswith("│")}
    assert "4" in rows["buckets"]
    assert "organization" in rows["buckets"]
    assert "2.0 GiB" in rows["project_bytes"]
    assert "unlimited" in rows["bucket_bytes"]
    assert "project 'default' uses 0 buckets" in table.stderr

    body = cli.json("quotas", "set", "--buckets", "3", "--project", "default", *org)
    assert body["quotas"]["buckets"] == {"own": 3, "limit": 3, "source": "project"}

    refused = cli("quotas", "set", "--buckets", "9", "--project", "default", *org)
    assert refused.exit_code == ExitCode.REFUSED
    assert "above the organization's quota of 4" in refused.output
    assert cli.json("quotas", "show", *org)["quotas"]["buckets"]["own"] == 4
