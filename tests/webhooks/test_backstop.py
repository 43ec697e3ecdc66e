"""The periodic relay is the backstop: an event that no task announces still goes out within its
period, and a failing endpoint is retried on the schedule until the delivery is failed for good."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from tests.conftest import create_ready_bucket, wait_for
from tests.webhooks.conftest import HOOKS, WAITS, Receiver, register
from tests.webhooks.test_delivery import write_events


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_relay_seconds": 1})


def test_an_unannounced_event_goes_out_in_the_relay_period_and_a_failing_endpoint_ends_failed(
    client: TestClient, runtime: Runtime, receiver: Receiver
) -> None:
    bucket = create_ready_bucket(client, "fail")
    hook = register(client, receiver.url + "/down", ["key.expired"])
    receiver.answer = lambda _path, _event: 503
    write_events(runtime, (bucket["id"], "credential-expired"))  # no task wakes the relay: its period does

    def retrying() -> Any:
        found = client.get(f"{HOOKS}/{hook['id']}/deliveries").json()["deliveries"]
        return found and found[0]["status"] == "retrying" and found[0]

    seen = wait_for(retrying, 10)
    assert seen["last_status_code"] == 503
    assert seen["last_error"].startswith("HTTP 503")
    assert seen["next_attempt_at"] is not None

    def failed() -> Any:
        found = client.get(f"{HOOKS}/{hook['id']}/deliveries").json()["deliveries"]
        return found and found[0]["status"] == "failed" and found[0]

    final = wait_for(failed, 20)
    assert final["attempts"] == len(WAITS) + 1 == len(receiver.at("/down"))
