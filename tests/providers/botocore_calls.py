"""Every S3 call boto3 makes while a test watches, seen through botocore's own events.

``watching(monkeypatch)`` hooks ``before-call.s3`` and ``after-call.s3`` on every client created
from then on (an adapter builds its clients lazily, so build the service under test afterwards):
the test reads how often each operation went out and how many were in flight at most. ``delay``
holds each call a moment before it is sent, so calls that may overlap do. ``refuse`` plays a
provider's error answer (status, code) to the operations it names, at botocore's send step,
for what SeaweedFS itself never answers (a provider without a versioning API).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse


class S3Calls:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.most_in_flight = 0
        self.started = threading.Event()  # the first call went out
        self._lock = threading.Lock()

    def before(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.counts[event_name.rsplit(".", 1)[-1]] += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.started.set()
        if self.delay:
            time.sleep(self.delay)

    def after(self, **_: Any) -> None:
        with self._lock:
            self.in_flight -= 1


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _refusal(status: int, code: str) -> AWSResponse:
    body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{code}</Message></Error>"
    return AWSResponse("http://provider.test", status, {}, _Body(body.encode()))


@contextmanager
def watching(
    monkeypatch: pytest.MonkeyPatch, delay: float = 0.0, refuse: dict[str, tuple[int, str]] | None = None
) -> Iterator[S3Calls]:
    calls = S3Calls(delay)
    create_client = botocore.session.Session.create_client

    def create_watched_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-call.s3", calls.before)
        client.meta.events.register("after-call.s3", calls.after)
        client.meta.events.register("after-call-error.s3", calls.after)
        for operation, (status, code) in (refuse or {}).items():
            client.meta.events.register(
                f"before-send.s3.{operation}", lambda status=status, code=code, **_: _refusal(status, code)
            )
        return client

    with monkeypatch.context() as patch:
        patch.setattr(botocore.session.Session, "create_client", create_watched_client)
        yield calls
