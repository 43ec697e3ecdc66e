"""Webhooks reach the internet only: a tenant's URL may not make the control plane post to the
operator's network (the metadata service, an internal admin API) and read the answer in its
delivery log. Literal addresses are refused when registered; names are resolved and checked at
every delivery, which then connects to the address it checked."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loopback.kit.settings import Settings
from loopback.runtime import Runtime
from loopback.webhooks.delivery import Deliverer, Outcome
from tests.conftest import create_ready_bucket, wait_for
from tests.webhooks.conftest import HOOKS, register
from tests.webhooks.test_endpoints import problem_fields

INSIDE = [
    "https://10.0.0.7/hook",
    "https://172.16.3.4/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hook",
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://[fd00::1]/hook",
    "https://[::ffff:10.0.0.7]/hook",
    "https://0.0.0.0/hook",
]


@pytest.mark.parametrize("url", INSIDE)
def test_a_url_naming_an_address_inside_is_refused_naming_the_field(
    client: TestClient, runtime: Runtime, url: str
) -> None:
    runtime.settings.webhook_allow_loopback_http = False
    try:
        refused = client.post(HOOKS, json={"url": url})
    finally:
        runtime.settings.webhook_allow_loopback_http = True
    assert problem_fields(refused) == ["url"]
    assert "not a public address" in refused.json()["errors"][0]["detail"]


def test_an_operator_may_let_webhooks_reach_receivers_inside(client: TestClient, runtime: Runtime) -> None:
    runtime.settings.webhook_allow_private_addresses = True
    try:
        assert client.post(HOOKS, json={"url": "https://10.0.0.7/hook"}).status_code == 201
    finally:
        runtime.settings.webhook_allow_private_addresses = False


def resolving(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def answer(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", answer)


def deliverer(settings: Settings, runtime: Runtime) -> Deliverer:
    return Deliverer(runtime.db, runtime.secrets, lambda *a, **k: None, settings)


def test_a_name_resolving_inside_is_refused_and_a_public_one_is_pinned(
    settings: Settings, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    send = deliverer(settings.model_copy(update={"webhook_allow_loopback_http": False}), runtime)
    resolving(monkeypatch, "10.1.2.3")
    refused = send._pinned("https://hooks.example.com/in")
    assert refused == Outcome(None, "hooks.example.com resolves to 10.1.2.3, not a public address: not sent")
    resolving(monkeypatch, "93.184.215.14", "10.1.2.3")  # one inside answer among public ones
    assert isinstance(send._pinned("https://hooks.example.com/in"), Outcome)

    resolving(monkeypatch, "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14")
    assert send._pinned("https://hooks.example.com:8443/in?a=1") == (
        "https://93.184.215.14:8443/in?a=1",  # IPv4 first; the connection goes where it was checked
        "hooks.example.com:8443",
        {"sni_hostname": "hooks.example.com"},  # TLS still names and verifies the host
    )


def test_a_delivery_to_a_name_that_resolves_inside_is_not_sent(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end with the worker: a name registers, since what it resolves to is checked when
    sent; every attempt finds it resolving to 10.0.0.7, and the delivery log says so."""
    real = socket.getaddrinfo

    def answer(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "hooks.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", answer)
    hook = register(client, "https://hooks.example.test/hook", events=["bucket.ready"])
    create_ready_bucket(client, "inside")

    def logged() -> list[dict[str, Any]]:
        answer = client.get(f"{HOOKS}/{hook['id']}/deliveries").json()
        return [d for d in answer["deliveries"] if d["attempts"] >= 1]

    (delivery,) = wait_for(logged, 15)
    assert delivery["last_status_code"] is None
    assert delivery["last_error"] == "hooks.example.test resolves to 10.0.0.7, not a public address: not sent"
