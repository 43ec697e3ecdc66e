"""``loopback webhooks ...`` in-process against uvicorn over real HTTP, with the worker and a receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopback.app import create_app
from loopback.client.errors import ExitCode
from loopback.runtime import Runtime
from tests.buckets.test_cli import Cli
from tests.conftest import wait_for
from tests.live_server import LiveServer
from tests.webhooks.conftest import Receiver, verified


@pytest.fixture
def cli(runtime: Runtime, worker: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    with LiveServer(create_app(runtime)) as server:
        yield Cli(server.url, tmp_path)


def test_every_webhook_command_from_create_to_delete(cli: Cli, receiver: Receiver) -> None:
    org = ("--org", "demo")
    created = cli.json("webhooks", "create", receiver.url + "/cli", "--event", "bucket.ready", *org)
    hook = created["id"]
    assert created["events"] == ["bucket.ready"]
    table = cli.ok("webhooks", "list", *org)
    assert hook in table.stdout
    assert created["secret"] not in table.stdout
    assert cli.json("webhooks", "show", hook, *org)["url"] == receiver.url + "/cli"

    changed = cli.json("webhooks", "update", hook, "--all-events", "--description", "ops", *org)
    assert (changed["events"], changed["description"]) == ([], "ops")
    shown = cli.ok("webhooks", "rotate-secret", hook, *org)
    assert "shown this once" in shown.stderr
    secret = next(word for word in shown.stdout.split() if word.startswith("whsec_"))

    assert cli.json("webhooks", "test", hook, *org)["event_type"] == "webhook.ping"
    got = wait_for(lambda: receiver.at("/cli"), 10)
    assert verified(secret, got[0])
    log = wait_for(
        lambda: [
            d
            for d in cli.json("webhooks", "deliveries", hook, "--all", *org)["deliveries"]
            if d["status"] == "delivered"
        ],
        10,
    )
    assert log[0]["event_type"] == "webhook.ping"
    assert "webhook.ping" in cli.ok("webhooks", "deliveries", hook, *org).stdout

    refused = cli("webhooks", "create", "ftp://example.com/x", *org)
    assert refused.exit_code == ExitCode.REFUSED
    assert "url" in refused.output
    assert cli.json("webhooks", "delete", hook, *org)["id"] == hook
    assert cli.json("webhooks", "list", *org) == {"webhooks": []}
