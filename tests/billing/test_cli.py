"""``loopback billing usage``: the API's report as a table, or its JSON as it came."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loopback.app import create_app
from loopback.buckets.samples import Sample, record_samples
from loopback.client.errors import ExitCode
from loopback.kit.clock import utcnow
from loopback.runtime import Runtime
from tests.billing import history
from tests.buckets.test_cli import Cli
from tests.live_server import LiveServer

T0 = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC) - timedelta(days=10)


@pytest.fixture
def cli(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)


def test_a_period_per_bucket_as_a_table_and_as_json(cli: Cli, runtime: Runtime) -> None:
    with runtime.db.session() as session:
        bucket_id = history.bucket(session, "demo", "default", "ledger", T0 - timedelta(days=1))
        record_samples(session, [Sample(bucket_id, T0 - timedelta(hours=1), 7, 2 * 10**9)])
    period = (
        "--from",
        T0.date().isoformat(),
        "--to",
        (T0 + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )

    table = cli.ok("billing", "usage", "--org", "demo", *period, "--group-by", "bucket")
    row = next(line for line in table.stdout.splitlines() if "ledger" in line)
    assert bucket_id in row
    assert "48.000" in row  # 2 GB for 24 hours
    assert "1.000" in row  # one bucket-day
    assert "GB = 10^9 bytes" in table.stderr

    body = cli.json("billing", "usage", "--org", "demo", *period, "--group-by", "bucket")
    assert [(g["bucket_id"], g["gb_hours"], g["peak_objects"]) for g in body["groups"]] == [
        (bucket_id, 48.0, 7)
    ]

    refused = cli("billing", "usage", "--org", "demo", "--group-by", "team")
    assert refused.exit_code == ExitCode.USAGE
