"""Round leases: a periodic round holds its name while it works, so a slow one is never started again
on top of itself.

The election (``automation/queue.py``) starts each round once per period for the whole installation,
but a round may outlast its period (a million buckets, a provider answering slowly). So a round first
claims its lease: one row per round name, taken with a conditional ``UPDATE`` that only one process
can win, and kept alive by a heartbeat while it works. A round that finds the lease held leaves its
period to the one running; a lease nobody renewed for ``LEASE_SECONDS`` belonged to a process that
died, and the next round takes it over.

A round may hand its work to tasks (the usage round enqueues one task per batch of buckets): it counts
them on the lease (``add_batches``), each batch says when it is done (``batch_done``), and the round
ends when it has enqueued its last batch (``all_listed``) and every batch has answered. Each call is a
unit of its own, so a crash anywhere leaves a lease that simply runs out.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, String, and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base, Database
from loopback.kit.heartbeat import Heartbeat

# A lease not renewed for this long was held by a process that is gone. Read at each call, so tests
# may shorten it; renewed every third of it while the round works.
LEASE_SECONDS = 60.0


def lease_seconds() -> float:
    return LEASE_SECONDS


class RoundLease(Base):
    """Who runs a round now, until when, and how many of its batches are still out."""

    __tablename__ = "round_leases"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(40), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    pending: Mapped[int] = mapped_column(default=0)  # batches enqueued and not done yet
    listed: Mapped[bool] = mapped_column(default=False)  # every batch of the run is enqueued


@dataclass(frozen=True)
class RoundState:
    """A round's lease as read now: ``running`` while a live holder has it."""

    holder: str | None
    running: bool
    pending: int
    started_at: datetime | None
    finished_at: datetime | None


def _changed(result: Any) -> int:
    return int(cast("CursorResult[Any]", result).rowcount)


class RoundLeases:
    """The leases of the installation's rounds, in its database."""

    def __init__(self, db: Database, seconds: Callable[[], float] = lease_seconds) -> None:
        self._db = db
        self._seconds = seconds

    def _until(self) -> datetime:
        return utcnow() + timedelta(seconds=self._seconds())

    def claim(self, name: str) -> str | None:
        """Take the lease of round ``name`` when it is free or ran out; answers the run's token, or
        ``None`` while another run holds it."""
        self._ensure(name)
        token = secrets.token_hex(12)
        now = utcnow()
        with self._db.session() as session:
            claimed = session.execute(
                update(RoundLease)
                .where(
                    RoundLease.name == name,
                    or_(RoundLease.holder.is_(None), RoundLease.expires_at < now),
                )
                .values(
                    holder=token,
                    expires_at=self._until(),
                    started_at=now,
                    finished_at=None,
                    pending=0,
                    listed=False,
                )
            )
        return token if _changed(claimed) == 1 else None

    def _ensure(self, name: str) -> None:
        with self._db.session() as session:
            if session.get(RoundLease, name) is not None:
                return
        try:
            with self._db.session() as session:
                session.add(RoundLease(name=name))
        except IntegrityError:
            pass  # another process made the row at the same moment: the same row

    def _mine(self, name: str, token: str) -> Any:
        return and_(RoundLease.name == name, RoundLease.holder == token)

    def renew(self, name: str, token: str) -> bool:
        """Push the run's lease out again; ``False`` when it is no longer this run's."""
        with self._db.session() as session:
            renewed = session.execute(
                update(RoundLease).where(self._mine(name, token)).values(expires_at=self._until())
            )
        return _changed(renewed) == 1

    def keep(self, name: str, token: str) -> Heartbeat:
        """A heartbeat that renews the lease while the ``with`` block works."""
        return Heartbeat(f"lease-{name}", lambda: self._seconds() / 3, lambda: self.renew(name, token))

    @contextmanager
    def running(self, name: str, *, batches: bool = False) -> Iterator[str | None]:
        """A run of round ``name``: its token, or ``None`` while another run holds the round; the
        lease is kept alive during the block, and released when it ends (with ``batches``: once
        the batches the run enqueued have answered too)."""
        token = self.claim(name)
        if token is None:
            yield None
            return
        try:
            with self.keep(name, token):
                yield token
        finally:
            if batches:
                self.all_listed(name, token)
            else:
                self.release(name, token)

    def holds(self, name: str, token: str) -> bool:
        """Whether this run still holds the lease (a newer run took over one that ran out)."""
        state = self.state(name)
        return state.holder == token and state.running

    def add_batches(self, name: str, token: str, count: int = 1) -> bool:
        """Count ``count`` more batches the run waits for, before they are enqueued."""
        with self._db.session() as session:
            added = session.execute(
                update(RoundLease)
                .where(self._mine(name, token))
                .values(pending=RoundLease.pending + count, expires_at=self._until())
            )
        return _changed(added) == 1

    def batch_done(self, name: str, token: str) -> None:
        """One batch of the run answered; the run ends with its last one, once all are enqueued."""
        with self._db.session() as session:
            session.execute(
                update(RoundLease)
                .where(self._mine(name, token))
                .values(pending=RoundLease.pending - 1, expires_at=self._until())
            )
        self._finish_if_done(name, token)

    def all_listed(self, name: str, token: str) -> None:
        """The run enqueued its last batch; it ends now if every batch answered already."""
        with self._db.session() as session:
            session.execute(update(RoundLease).where(self._mine(name, token)).values(listed=True))
        self._finish_if_done(name, token)

    def release(self, name: str, token: str) -> None:
        """The run is over: the next period's round may start."""
        with self._db.session() as session:
            session.execute(
                update(RoundLease)
                .where(self._mine(name, token))
                .values(holder=None, expires_at=None, finished_at=utcnow())
            )

    def _finish_if_done(self, name: str, token: str) -> None:
        # Both the last batch and the end of listing check, each after its own write: whichever
        # comes second sees both conditions and releases.
        with self._db.session() as session:
            session.execute(
                update(RoundLease)
                .where(self._mine(name, token), RoundLease.listed.is_(True), RoundLease.pending <= 0)
                .values(holder=None, expires_at=None, finished_at=utcnow())
            )

    def state(self, name: str) -> RoundState:
        with self._db.session() as session:
            lease = session.get(RoundLease, name)
            if lease is None:
                return RoundState(None, False, 0, None, None)
            until = lease.expires_at
            running = lease.holder is not None and until is not None and until > utcnow()
            return RoundState(lease.holder, running, lease.pending, lease.started_at, lease.finished_at)
