"""Idempotent POSTs: the same ``Idempotency-Key`` with the same request replays the first answer.

The record is keyed by the caller (a hash of the ``Authorization`` header) and the key, so two
callers never see each other's answers. Kept answers are encrypted at rest (some carry a secret
shown once, such as an issued credential), and a replay goes only to a caller whose token still
authenticates. A client that lost an answer (a timeout, a dropped
connection) retries with the same key and gets the first answer instead of a second action.

Two things survive the process dying mid-request. The service's own commit writes, in the same
transaction as the change, where the change can be read back (``read_back``) and the status
the route answers (``committed_status``), so a retry of a create whose answer was lost replays it
by reading the resource again. And a running request renews a short lease on its record; a lease
that lapses means its process is gone, and the key is free again in seconds.

This module holds the records and their store; the middleware that uses them is
``kit.idempotency_middleware``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import (
    JSON,
    CursorResult,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    and_,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from loopback.kit.clock import utcnow
from loopback.kit.db import Base, Database, bookkeeping
from loopback.kit.ids import new_id
from loopback.kit.requests import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
# A running request renews its lease this often; one not renewed for LEASE was cut off (its process died).
LEASE = timedelta(seconds=8)
RENEW_EVERY = timedelta(seconds=2)
# At most this many places a committed change may be read back from.
MAX_RESOURCE_PATHS = 16
SWEEP_BATCH = 20
RUNNING = "running"
DONE = "done"
# Not final answers: the client should be able to retry them with the same key.
NOT_KEPT = frozenset({401, 429})
# Belong to one response only: the request id is the new request's, the length is recomputed.
NOT_REPLAYED = frozenset({REQUEST_ID_HEADER.lower(), "content-length"})


class BodyCipher(Protocol):
    """Seals kept answers at rest; the secret store's MultiFernet does it in the app."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


class IdempotentRequest(Base):
    """The first request with a key, and once it finished, the response to replay."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    caller: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64), doc="sha256 of method, path and body")
    state: Mapped[str] = mapped_column(String(20), doc="running or done")
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    headers: Mapped[list[list[str]] | None] = mapped_column(JSON, default=None)
    body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        default=None, doc="while running: until when its process holds the key unless it renews"
    )
    committed_status: Mapped[int | None] = mapped_column(
        Integer, default=None, doc="the route's status, written in the transaction of the change"
    )
    read_back: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, default=None, doc="the response model and GET paths the committed change reads back from"
    )


def lease_lapsed(record: IdempotentRequest, now: datetime) -> bool:
    """Whether a running record's process stopped renewing it: it died, or never renewed (older rows)."""
    return record.state == RUNNING and (record.lease_expires_at is None or record.lease_expires_at <= now)


def caller_of(authorization: str) -> str:
    """Who the key belongs to, without storing the credential itself."""
    return hashlib.sha256(authorization.encode("latin-1")).hexdigest()


def fingerprint_of(method: str, path: str, query: bytes, body: bytes) -> str:
    """What "the same request" means; parts are length-prefixed so no two requests share one."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def is_kept(status: int) -> bool:
    """Whether an answer is final, so a retry with the key gets it again instead of a new try."""
    return status < 500 and status not in NOT_KEPT


@dataclass(frozen=True)
class Claimed:
    """This request holds the key and runs; ``record_id`` is where its answer goes."""

    record_id: str


@dataclass(frozen=True)
class Taken:
    """Another request holds the key (running or done); ``record`` is a detached copy of it."""

    record: IdempotentRequest


@dataclass(frozen=True)
class Contended:
    """The key changed hands faster than we could read it; the client should retry."""


class IdempotencyStore:
    """The records, through short synchronous sessions; the middleware calls it from a thread."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def _session(self) -> Iterator[Session]:
        # The record's own writes are the request's bookkeeping, never the change it answers.
        with bookkeeping(), self.database.session() as session:
            yield session

    def claim(self, caller: str, key: str, fingerprint: str) -> Claimed | Taken | Contended:
        """Insert the running record, or return who holds the key.

        The unique constraint on (caller, key) decides between concurrent requests: the loser's
        insert fails, and it reads the winner's record. An expired record, or one whose process
        stopped renewing it before committing anything, is deleted and the insert tried again; a
        record that disappears between the two (its answer was not kept) is tried again too. The
        delete re-checks that the record is still uncommitted and unrenewed, so a commit that
        lands meanwhile keeps its record (and is replayed) rather than being run a second time.
        """
        for _ in range(3):
            now = utcnow()
            record = IdempotentRequest(
                id=new_id("idk"),
                caller=caller,
                key=key,
                fingerprint=fingerprint,
                state=RUNNING,
                created_at=now,
                expires_at=now + RETENTION,
                lease_expires_at=now + LEASE,
            )
            try:
                with self._session() as session:
                    session.add(record)
                    session.flush()
            except IntegrityError:
                pass
            else:
                self._sweep()
                return Claimed(record.id)
            with self._session() as session:
                held = session.scalar(
                    select(IdempotentRequest).where(
                        IdempotentRequest.caller == caller, IdempotentRequest.key == key
                    )
                )
                if held is None:
                    continue
                abandoned = lease_lapsed(held, now) and held.committed_status is None
                if held.expires_at > now and not abandoned:
                    return Taken(held)
                if abandoned:
                    log.warning(
                        "idempotency record %s was abandoned (its lease lapsed at %s, nothing committed); "
                        "running its request again",
                        held.id,
                        held.lease_expires_at,
                    )
                lapsed = or_(
                    IdempotentRequest.lease_expires_at.is_(None), IdempotentRequest.lease_expires_at <= now
                )
                session.execute(
                    delete(IdempotentRequest).where(
                        IdempotentRequest.id == held.id,
                        or_(
                            IdempotentRequest.expires_at <= now,
                            and_(
                                IdempotentRequest.state == RUNNING,
                                IdempotentRequest.committed_status.is_(None),
                                lapsed,
                            ),
                        ),
                    )
                )
        return Contended()

    def renew(self, record_id: str) -> None:
        """Extend a running request's lease: its process is alive and still working on it."""
        with self._session() as session:
            session.execute(
                update(IdempotentRequest)
                .where(IdempotentRequest.id == record_id, IdempotentRequest.state == RUNNING)
                .values(lease_expires_at=utcnow() + LEASE)
            )

    def finish(self, record_id: str, status: int, headers: list[list[str]], body: bytes) -> None:
        with self._session() as session:
            session.execute(
                update(IdempotentRequest)
                .where(IdempotentRequest.id == record_id)
                .values(state=DONE, status_code=status, headers=headers, body=body)
            )

    def release(self, record_id: str) -> None:
        """Forget a request that changed nothing, so the same key can be used again.

        One whose change committed stays, done without an answer: a retry reads the change back
        instead of making it twice.
        """
        with self._session() as session:
            deleted = session.execute(
                delete(IdempotentRequest).where(
                    IdempotentRequest.id == record_id, IdempotentRequest.committed_status.is_(None)
                )
            )
            if cast(CursorResult[Any], deleted).rowcount == 0:
                session.execute(
                    update(IdempotentRequest).where(IdempotentRequest.id == record_id).values(state=DONE)
                )

    def _sweep(self) -> None:
        # Opportunistic: a few expired rows per new record keep the table small without a job.
        # SKIP LOCKED (PostgreSQL; SQLite ignores it) keeps concurrent sweeps from waiting on each other.
        try:
            with self._session() as session:
                expired = session.scalars(
                    select(IdempotentRequest.id)
                    .where(IdempotentRequest.expires_at <= utcnow())
                    .order_by(IdempotentRequest.expires_at)
                    .limit(SWEEP_BATCH)
                    .with_for_update(skip_locked=True)
                ).all()
                if expired:
                    session.execute(delete(IdempotentRequest).where(IdempotentRequest.id.in_(expired)))
        except Exception:
            log.warning("could not delete expired idempotency records", exc_info=True)
