"""Family ``fake``: an in-memory provider whose faults a test scripts, for service tests.

What cannot be made to fail on cue with the real SeaweedFS (a timeout on the third call, a refusal
on one bucket) is scripted here; everything else in a service test stays real (the API, the
worker, the database). It honours the ``StorageProvider`` contract: idempotent calls,
``ProviderError`` with ``transient`` for what a retry can cure.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from loopback.providers import registry
from loopback.providers.base import (
    Capabilities,
    Grant,
    IssuedCredential,
    Placement,
    ProviderError,
    ProviderSetup,
    RegionSpec,
    StorageProvider,
    Usage,
)
from loopback.runtime import Runtime

FAMILY = "fake"


@dataclass
class FakeProvider:
    name: str
    region_specs: tuple[RegionSpec, ...]
    family: str = FAMILY
    buckets: set[str] = field(default_factory=set)
    keys: dict[str, list[Grant]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    _faults: dict[str, deque[ProviderError]] = field(default_factory=lambda: defaultdict(deque))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, operation: str, error: ProviderError, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` raise ``error``."""
        with self._lock:
            self._faults[operation].extend([error] * times)

    def _call(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] += 1
            if self._faults[operation]:
                raise self._faults[operation].popleft()

    def regions(self) -> list[RegionSpec]:
        return list(self.region_specs)

    def capabilities(self) -> Capabilities:
        return Capabilities(per_bucket_credentials=True, native_usage_stats=True)

    def name_problems(self, bucket: str, region: str) -> list[str]:
        return []

    def slots(self) -> tuple[str, ...]:
        return ()

    def create_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._call("create_bucket")
        self.buckets.add(bucket)

    def bucket_exists(self, bucket: str, region: str, placement: Placement) -> bool:
        self._call("bucket_exists")
        return bucket in self.buckets

    def bucket_names(self, region: str, placement: Placement) -> set[str]:
        self._call("bucket_names")
        return set(self.buckets)

    def object_count_hint(self, bucket: str, region: str, limit: int, placement: Placement) -> int:
        self._call("object_count_hint")
        return 0

    def empty_bucket(self, bucket: str, region: str, placement: Placement) -> int:
        self._call("empty_bucket")
        return 0

    def delete_bucket(self, bucket: str, region: str, placement: Placement) -> None:
        self._call("delete_bucket")
        self.buckets.discard(bucket)

    def issue_credential(
        self, region: str, user_name: str, grants: Sequence[Grant], placement: Placement
    ) -> IssuedCredential:
        self._call("issue_credential")
        self.keys[user_name] = list(grants)
        return IssuedCredential(user_name, f"FAKE{len(self.keys):04d}", f"secret-of-{user_name}")

    def update_credential(
        self, region: str, provider_user: str, grants: Sequence[Grant], placement: Placement
    ) -> None:
        self._call("update_credential")
        self.keys[provider_user] = list(grants)

    def revoke_credential(self, region: str, provider_user: str, placement: Placement) -> None:
        self._call("revoke_credential")
        self.keys.pop(provider_user, None)

    def read_usage(self, bucket: str, region: str, placement: Placement) -> Usage:
        self._call("read_usage")
        return Usage(object_count=0, bytes=0)

    def check(self) -> None:
        self._call("check")


INSTANCES: dict[str, FakeProvider] = {}


def build(setup: ProviderSetup) -> StorageProvider:
    """The one instance per provider name, so a test scripts the adapter the service uses."""
    return INSTANCES.setdefault(setup.name, FakeProvider(setup.name, setup.regions))


@contextmanager
def registered(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    """A provider of the ``fake`` family with one region ``fake-1``, recorded in the runtime's
    database; its adapter is the instance yielded, forgotten again afterwards."""
    monkeypatch.setitem(registry.FAMILIES, FAMILY, build)
    name = f"fake-{secrets.token_hex(3)}"
    with runtime.db.session() as session:
        runtime.providers.ensure_provider(
            session,
            name=name,
            family=FAMILY,
            display_name="Fake",
            regions=[RegionSpec("fake-1", "Fake", "http://127.0.0.1:9")],
            access_key_id="FAKE",
            secret_access_key="fake-secret",
        )
    provider = INSTANCES.setdefault(name, FakeProvider(name, ()))
    try:
        yield provider
    finally:
        INSTANCES.pop(name, None)
