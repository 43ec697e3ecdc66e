"""A short memory of who a token is and what it reaches, so a request costs no statement for either.

Without it every request read the token, its user, the organization, the membership and the
project: five statements before the one it came for. An entry lives ``ttl`` seconds (one by
default, ``LOOPBACK_ACCESS_CACHE_SECONDS``), so a revocation, a role change or a removal committed
by another process holds on every replica within that time; one committed by any session of this
process (the API, its worker threads, the console) empties every cache of the process at once,
before the commit returns. Failures are never remembered: a new token works on its first request.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable
from itertools import chain
from typing import Any, TypeVar, cast

import anyio
from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session

# Whose rows decide who a token is and what it reaches.
ACCESS_TABLES = frozenset({"api_tokens", "users", "memberships", "organizations", "projects"})
# A token's last use is bookkeeping: recording it changes nobody's access.
BOOKKEEPING_COLUMNS = frozenset({"last_used_at"})
CHANGED = "loopback.access_changed"

T = TypeVar("T")

_caches: weakref.WeakSet[AccessCache] = weakref.WeakSet()


class _Flight:
    """One read of an entry in progress, and what it found once ``done`` (None if it failed)."""

    __slots__ = ("done", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: Any = None


class AccessCache:
    """Entries by key, each kept ``ttl`` seconds at most and dropped by any access change here."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self._flights: dict[tuple[Hashable, int], _Flight] = {}
        _caches.add(self)

    @property
    def generation(self) -> int:
        """Read before a lookup of the database, handed to ``put``: a change in between wins."""
        return self._generation

    def get(self, key: Hashable) -> Any | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: Hashable, value: Any, generation: int) -> None:
        """Keep ``value`` unless an access change committed since ``generation`` was read."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self._clock() + self.ttl, value)

    async def remember(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The entry of ``key``, or what ``load`` reads, kept: on the event loop only.

        When an entry expires, every request in flight for it misses at once; one reads it and
        the others wait for that read (single flight) instead of each taking a worker thread. A
        waiter takes the read only if no access change committed since it looked (the generation
        is still the one the read began in); otherwise, or when the read fails, it reads for
        itself, so a revocation or a failed token answers each request as before.
        """
        if self.ttl <= 0:
            return await load()
        known = self.get(key)
        if known is not None:
            return cast(T, known)
        generation = self._generation
        flight = self._flights.get((key, generation))
        if flight is not None:
            await flight.done.wait()
            if flight.value is not None and self._generation == generation:
                return cast(T, flight.value)
            value = await load()
            self.put(key, value, generation)
            return value
        flight = self._flights[(key, generation)] = _Flight()
        try:
            value = await load()
            self.put(key, value, generation)
            flight.value = value
            return value
        finally:
            del self._flights[(key, generation)]
            flight.done.set()

    def forget_everything(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


def forget_everywhere() -> None:
    """Empty every cache of this process: an access change committed."""
    for cache in list(_caches):
        cache.forget_everything()


def _changes_access(instance: object, dirty: bool) -> bool:
    if getattr(instance, "__tablename__", None) not in ACCESS_TABLES:
        return False
    if not dirty:
        return True
    changed = {attribute.key for attribute in inspect(instance).attrs if attribute.history.has_changes()}
    return bool(changed - BOOKKEEPING_COLUMNS)


def _any_changes_access(new: Iterable[object], dirty: Iterable[object], deleted: Iterable[object]) -> bool:
    return any(_changes_access(o, False) for o in chain(new, deleted)) or any(
        _changes_access(o, True) for o in dirty
    )


@event.listens_for(Session, "after_flush")
def _note_flushed_change(session: Session, _context: Any) -> None:
    if _any_changes_access(session.new, session.dirty, session.deleted):
        session.info[CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in ACCESS_TABLES:
        state.session.info[CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    if session.info.pop(CHANGED, False):
        forget_everywhere()


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop(CHANGED, None)
