"""Fakes a bucket test builds its own ``BucketService`` with, instead of replacing a service's insides.

- ``RecordingQueue`` is a task queue that runs nothing and remembers what it was asked: a new
  bucket stays ``pending``, and the test sees which tasks the service enqueued;
- ``RecordingProviders`` are the real providers whose adapters note every call made of them, so a
  test can count the ``create_bucket`` calls a reconcile made (ListBuckets cannot: it never lists a
  name twice);
- ``buckets_with`` wires a service as the runtime wires its own, with those in place;
- ``client_over`` serves the API with such a service in place of the runtime's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from loopback.app import create_app
from loopback.buckets.rounds import RoundLimits
from loopback.buckets.service import BucketService
from loopback.kit.enqueue import Enqueue
from loopback.providers.base import StorageProvider
from loopback.providers.service import ProviderService
from loopback.runtime import Runtime
from tests.conftest import OPERATOR_HEADERS


class RecordingQueue:
    """An ``Enqueue`` that runs nothing and remembers every task asked of it, in order."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[Any, ...], float | None]] = []

    def __call__(self, task: str, *args: Any, delay: float | None = None) -> None:
        self.asked.append((task, args, delay))

    @property
    def tasks(self) -> list[str]:
        return [task for task, _, _ in self.asked]


class RecordingAdapter:
    """A provider's adapter that notes each call (its name and arguments) before making it."""

    def __init__(self, adapter: StorageProvider, calls: list[tuple[str, tuple[Any, ...]]]) -> None:
        self._adapter = adapter
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._adapter, name)
        if not callable(attribute):
            return attribute

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, args))
            return attribute(*args, **kwargs)

        return recorded


class RecordingProviders(ProviderService):
    """The real providers (built from the same records), whose adapters record what is asked of them."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime.secrets)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def adapter(self, session: Session, provider_id: str) -> StorageProvider:
        return cast(StorageProvider, RecordingAdapter(super().adapter(session, provider_id), self.calls))

    def called(self, method: str) -> list[Any]:
        """The first argument (the bucket's name, for bucket calls) of each call of ``method``."""
        return [args[0] if args else None for name, args in self.calls if name == method]


def buckets_with(
    runtime: Runtime,
    queue: Enqueue,
    providers: ProviderService | None = None,
    limits: RoundLimits | None = None,
) -> BucketService:
    """A bucket service over the runtime's database, wired as the runtime wires its own, but with
    ``queue`` (and ``providers`` and the rounds' ``limits``, when given)."""
    service = BucketService(runtime.db, providers or runtime.providers, queue, limits)
    service.keys = runtime.buckets.keys
    return service


@contextmanager
def client_over(runtime: Runtime, buckets: BucketService) -> Iterator[TestClient]:
    """The API as the bootstrap operator, with ``buckets`` serving in place of the runtime's service."""
    app = create_app(dataclasses.replace(runtime, buckets=buckets))
    with TestClient(app, headers=OPERATOR_HEADERS) as client:
        yield client
