"""Idempotent POSTs: the same ``Idempotency-Key`` with the same request replays the first answer.

The record is keyed by the caller (a hash of the ``Authorization`` header) and the key, so two
callers never see each other's answers. Kept answers are encrypted at rest (some carry a secret
shown once, such as an issued credential), and a replay goes only to a caller whose token still
authenticates. A client that lost an answer (a timeout, a dropped
connection) retries with the same key and gets the first answer instead of a second action.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import anyio
import anyio.to_thread
from sqlalchemy import JSON, Integer, LargeBinary, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopback.kit.clock import utcnow
from loopback.kit.db import Base, Database
from loopback.kit.errors import Conflict, Invalid, problem_response
from loopback.kit.ids import new_id
from loopback.kit.requests import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
# A request still "running" after this was cut off (its process died): its key is free again.
ABANDONED_AFTER = timedelta(minutes=5)
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

    def claim(self, caller: str, key: str, fingerprint: str) -> Claimed | Taken | Contended:
        """Insert the running record, or return who holds the key.

        The unique constraint on (caller, key) decides between concurrent requests: the loser's
        insert fails, and it reads the winner's record. An expired record is deleted and the
        insert tried again; a record that disappears between the two (its answer was not kept)
        is tried again too.
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
            )
            try:
                with self.database.session() as session:
                    session.add(record)
                    session.flush()
            except IntegrityError:
                pass
            else:
                self._sweep()
                return Claimed(record.id)
            with self.database.session() as session:
                held = session.scalar(
                    select(IdempotentRequest).where(
                        IdempotentRequest.caller == caller, IdempotentRequest.key == key
                    )
                )
                if held is None:
                    continue
                abandoned = held.state == RUNNING and held.created_at <= now - ABANDONED_AFTER
                if held.expires_at > now and not abandoned:
                    return Taken(held)
                session.execute(
                    delete(IdempotentRequest).where(
                        IdempotentRequest.id == held.id, IdempotentRequest.created_at == held.created_at
                    )
                )
        return Contended()

    def finish(self, record_id: str, status: int, headers: list[list[str]], body: bytes) -> None:
        with self.database.session() as session:
            session.execute(
                update(IdempotentRequest)
                .where(IdempotentRequest.id == record_id)
                .values(state=DONE, status_code=status, headers=headers, body=body)
            )

    def release(self, record_id: str) -> None:
        """Forget the request, so the same key can be used again."""
        with self.database.session() as session:
            session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == record_id))

    def _sweep(self) -> None:
        # Opportunistic: a few expired rows per new record keep the table small without a job.
        # SKIP LOCKED (PostgreSQL; SQLite ignores it) keeps concurrent sweeps from waiting on each other.
        try:
            with self.database.session() as session:
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


class IdempotencyMiddleware:
    """Replays the first answer to a POST repeated with the same ``Idempotency-Key`` by the same caller.

    Pure ASGI, so the response streams through unchanged while it is captured; the database
    work runs in worker threads, off the event loop.
    """

    def __init__(
        self,
        app: ASGIApp,
        database: Database,
        cipher: BodyCipher,
        authenticates: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.store = IdempotencyStore(database)
        self.cipher = cipher
        self.authenticates = authenticates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(IDEMPOTENCY_HEADER.lower().encode())
        authorization = headers.get(b"authorization")
        if raw_key is None or authorization is None:
            # Without a caller there is no one to scope the key to; the request fails auth anyway.
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            detail = f"must be 1 to {MAX_KEY_LENGTH} characters"
            await self._invalid_key(scope, receive, send, detail)
            return

        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its request
        caller = caller_of(authorization.decode("latin-1"))
        fingerprint = fingerprint_of(scope["method"], scope["path"], scope.get("query_string", b""), body)
        claim = await anyio.to_thread.run_sync(self.store.claim, caller, key, fingerprint)

        if isinstance(claim, Claimed):
            await self._run(scope, receive, send, body, claim.record_id)
        elif isinstance(claim, Contended):
            await self._still_running(scope, receive, send)
        elif claim.record.fingerprint != fingerprint:
            detail = "was used for another request (method, path or body); use a new key for a new request"
            await self._invalid_key(scope, receive, send, detail)
        elif claim.record.state == RUNNING:
            await self._still_running(scope, receive, send)
        elif not await anyio.to_thread.run_sync(self.authenticates, authorization.decode("latin-1")):
            await self._pass_through(scope, receive, send, body)  # revoked meanwhile: the app answers 401
        else:
            await _replay(claim.record, self.cipher.decrypt(claim.record.body or b""), send)

    async def _run(self, scope: Scope, receive: Receive, send: Send, body: bytes, record_id: str) -> None:
        """Call the app with the body read already, capture its answer, keep it or let the key go."""
        replayed = False

        async def replay_body() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # the disconnect, when it comes

        status = 0
        kept_headers: list[list[str]] = []
        chunks: list[bytes] = []
        settled = False

        async def capture(message: Message) -> None:
            nonlocal status, kept_headers, settled
            if message["type"] == "http.response.start":
                status = int(message["status"])
                kept_headers = [
                    [name.decode("latin-1"), value.decode("latin-1")]
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() not in NOT_REPLAYED
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    # Settle before the client sees the end, so its next try finds the answer.
                    settled = True
                    await self._settle(record_id, status, kept_headers, b"".join(chunks))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            if not settled:
                with anyio.CancelScope(shield=True):
                    await _quietly(self.store.release, record_id)

    async def _pass_through(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay_body, send)

    async def _settle(self, record_id: str, status: int, headers: list[list[str]], body: bytes) -> None:
        if is_kept(status):
            try:
                sealed = self.cipher.encrypt(body)
                await anyio.to_thread.run_sync(self.store.finish, record_id, status, headers, sealed)
                return
            except Exception:
                log.exception("could not keep the answer to an idempotent request; letting its key go")
        await _quietly(self.store.release, record_id)

    async def _invalid_key(self, scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        invalid = Invalid.field(IDEMPOTENCY_HEADER, detail)
        response = problem_response(
            invalid.status, invalid.slug, invalid.title, invalid.detail, scope["path"], invalid.extensions()
        )
        await response(scope, receive, send)

    async def _still_running(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            Conflict.status,
            Conflict.slug,
            Conflict.title,
            f"a request with this {IDEMPOTENCY_HEADER} is still running; retry it in a moment "
            "to get its answer",
            scope["path"],
            headers={"Retry-After": "1"},
        )
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _replay(record: IdempotentRequest, body: bytes, send: Send) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in record.headers or []]
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    await send({"type": "http.response.start", "status": record.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _quietly(release: Callable[[str], None], record_id: str) -> None:
    # A record we cannot delete only blocks its key until it expires; the answer still goes out.
    try:
        await anyio.to_thread.run_sync(release, record_id)
    except Exception:
        log.exception("could not delete the idempotency record %s", record_id)
