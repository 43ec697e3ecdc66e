"""A real receiver on 127.0.0.1, an installation that lets webhooks use plain http to it, and a
retry schedule short enough for tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from loopback.kit.settings import Settings

WAITS = [0.2, 0.2, 0.2]
HOOKS = "/v3/organizations/demo/webhooks"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Plain http to loopback allowed, retries 0.2 s apart, and no periodic relay to speak of: what
    the tests see is delivered because a task or a worker's start woke the relay."""
    return settings.model_copy(
        update={
            "webhook_allow_loopback_http": True,
            "webhook_retry_seconds": WAITS,
            "webhook_relay_seconds": 3600,
            "webhook_timeout_seconds": 5,
        }
    )


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


Answer = Callable[[str, dict[str, Any]], int]


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers what ``answer`` says."""

    url: str
    received: list[Received] = field(default_factory=list)
    answer: Answer = lambda _path, _event: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def events(self, path: str) -> list[dict[str, Any]]:
        return [r.event for r in self.at(path)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            hub = state["receiver"]
            status = hub.answer(self.path, json.loads(body))
            with hub.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                hub.received.append(Received(self.path, headers, body, status, time.monotonic()))
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"no" if status >= 300 else b"ok")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()


def verified(secret: str, request: Received, tolerance: int = 300) -> bool:
    """Standard Webhooks' check, written here from the specification (not the code under test)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    signed = f"{message_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [
        s.removeprefix("v1,") for s in request.headers["webhook-signature"].split() if s.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, g) for g in given)


def register(
    client: TestClient,
    url: str,
    events: list[str] | None = None,
    org: str = "demo",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = {"url": url, "events": events or []}
    response = client.post(f"/v3/organizations/{org}/webhooks", json=body, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
