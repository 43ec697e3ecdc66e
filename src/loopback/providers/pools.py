"""Bounded concurrency per provider: each provider's calls of a round run in a thread pool of its own.

A round over many buckets waits mostly on the network, so it asks several buckets at once; but a
provider (a partner's small MinIO, a public API with a rate limit) must never see more than a set
number of calls from one worker process at a time, however many batches run in it. So there is one
pool per provider and process, of ``size()`` threads, shared by every batch and round of the process.

A provider that cannot be reached costs every call its timeouts; after one such failure the provider
is skipped for ``SKIP_SECONDS``, so a round over a thousand of its buckets fails fast instead of
waiting a thousand timeouts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from loopback.providers.base import ProviderError

T = TypeVar("T")

UNREACHABLE = frozenset({"Unreachable", "Timeout"})
SKIP_SECONDS = 30.0


class ProviderPools:
    """One thread pool per provider id, each at most ``size()`` threads (read when a pool is made)."""

    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._down_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def _pool(self, provider_id: str) -> ThreadPoolExecutor:
        with self._lock:
            pool = self._pools.get(provider_id)
            if pool is None:
                pool = ThreadPoolExecutor(max(1, self._size()), thread_name_prefix=f"calls-{provider_id}")
                self._pools[provider_id] = pool
            return pool

    def submit(self, provider_id: str, call: Callable[..., T], *args: object) -> Future[T]:
        """Run ``call(*args)`` in the provider's pool; a provider found unreachable moments ago
        answers at once with a transient ``ProviderError`` instead."""
        return self._pool(provider_id).submit(self._guarded, provider_id, call, *args)

    def _guarded(self, provider_id: str, call: Callable[..., T], *args: object) -> T:
        with self._lock:
            down_until = self._down_until.get(provider_id, 0.0)
        if time.monotonic() < down_until:
            raise ProviderError(
                f"provider {provider_id} was unreachable moments ago; skipped",
                transient=True,
                code="Unreachable",
            )
        try:
            return call(*args)
        except ProviderError as error:
            if error.transient and error.code in UNREACHABLE:
                with self._lock:
                    self._down_until[provider_id] = time.monotonic() + SKIP_SECONDS
            raise

    def shutdown(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
