"""The middleware side of idempotent POSTs; the records and their store are ``kit.idempotency``.

It claims the record before the app runs, renews the claim's lease while the app works, observes
the app's commits (``RequestChanges``) so the reference to what a request made commits with it,
and answers a replay from the kept answer, or by reading the committed change back. Lease times
are read from ``kit.idempotency`` at each use, so tests may shorten them there.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, cast

import anyio
import anyio.to_thread
from sqlalchemy import (
    CursorResult,
    Engine,
    update,
)
from sqlalchemy import inspect as inspect_row
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopback.kit import idempotency as records
from loopback.kit.clock import utcnow
from loopback.kit.db import Database, observing_commits
from loopback.kit.errors import Conflict, Invalid
from loopback.kit.idempotency import (
    DONE,
    IDEMPOTENCY_HEADER,
    MAX_KEY_LENGTH,
    MAX_RESOURCE_PATHS,
    NOT_REPLAYED,
    REPLAYED_HEADER,
    RUNNING,
    BodyCipher,
    Claimed,
    Contended,
    IdempotencyStore,
    IdempotentRequest,
    caller_of,
    fingerprint_of,
    is_kept,
    lease_lapsed,
)
from loopback.kit.problems import problem_response

log = logging.getLogger(__name__)


class RequestChanges:
    """What one idempotent request commits: it writes its record's reference into that transaction.

    Registered for the request's task and its threads (``kit.db.observing_commits``), it collects
    the ids each flush inserts and, before each commit that changes rows, writes the route's
    status and the paths the change can be read back from onto the record, in the same
    transaction. When the record is gone (another process took the key over after this one's lease
    lapsed) the commit is refused, so one key never commits two changes.
    """

    def __init__(self, record_id: str, scope: Scope, engine: Engine) -> None:
        self.record_id = record_id
        self.scope = scope
        self.engine = engine
        self.inserted: list[str] = []
        self._uncommitted: list[str] = []
        self._changed = False

    def flushed(self, session: Session) -> None:
        if session.get_bind() is not self.engine:
            return
        self._changed = self._changed or bool(session.new or session.dirty or session.deleted)
        for row in session.new:
            key = inspect_row(row).mapper.primary_key_from_instance(row)
            if len(key) == 1 and isinstance(key[0], str) and key[0] not in self.inserted:
                self.inserted.append(key[0])
                self._uncommitted.append(key[0])

    def committing(self, session: Session) -> None:
        if session.get_bind() is not self.engine:
            return
        session.flush()
        if not self._changed:
            return
        status, read_back = read_back_of(self.scope, self.inserted)
        noted = session.execute(
            update(IdempotentRequest)
            .where(IdempotentRequest.id == self.record_id, IdempotentRequest.state == RUNNING)
            .values(committed_status=status, read_back=read_back)
        )
        if cast(CursorResult[Any], noted).rowcount != 1:
            raise Conflict(
                f"this request's claim on its {IDEMPOTENCY_HEADER} lapsed and another request took the "
                "key over; nothing was changed here"
            )
        self._changed = False
        self._uncommitted = []

    def rolled_back(self, session: Session) -> None:
        if session.get_bind() is not self.engine:
            return
        self.inserted = [row_id for row_id in self.inserted if row_id not in self._uncommitted]
        self._uncommitted = []
        self._changed = False


def model_name(route: object) -> str | None:
    """The response model a route answers with, by name, to compare a route read back against."""
    model = getattr(route, "response_model", None)
    return None if model is None else f"{model.__module__}.{model.__qualname__}"


def read_back_of(scope: Scope, inserted: list[str]) -> tuple[int, dict[str, Any]]:
    """The route's status, and where its change can be read back: its response model and paths.

    Paths, likeliest first, are the POST path and up to three of its parents followed by each
    inserted id (``…/buckets`` + a new bucket's id; ``…/buckets/adopt`` → ``…/buckets/<id>``),
    then those parents alone (an update such as ``…/{bucket_id}/usage/refresh`` reads back as
    ``…/{bucket_id}``). Replaying GETs them in order as the caller and takes the first 2xx answer
    from a route with the same response model, so the replay has the shape of the lost answer.
    """
    route = scope.get("route")
    status = int(getattr(route, "status_code", None) or 200)
    segments = str(scope["path"]).rstrip("/").split("/")
    parents = ["/".join(segments[:n]) for n in range(len(segments), max(len(segments) - 4, 1), -1)]
    paths: list[str] = []
    for path in [f"{parent}/{row_id}" for parent in parents for row_id in inserted] + parents:
        if path not in paths and len(paths) < MAX_RESOURCE_PATHS:
            paths.append(path)
    return status, {"model": model_name(route), "paths": paths}


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
            return
        if isinstance(claim, Contended):
            await self._still_running(scope, receive, send, None)
            return
        record = claim.record
        if record.fingerprint != fingerprint:
            detail = "was used for another request (method, path or body); use a new key for a new request"
            await self._invalid_key(scope, receive, send, detail)
        elif record.status_code is None:
            if record.committed_status is not None and (
                record.state == DONE or lease_lapsed(record, utcnow())
            ):
                await self._read_back(scope, receive, send, record)  # committed, but its answer was lost
            else:
                await self._still_running(scope, receive, send, record)
        elif not await anyio.to_thread.run_sync(self.authenticates, authorization.decode("latin-1")):
            await self._pass_through(scope, receive, send, body)  # revoked meanwhile: the app answers 401
        else:
            body = self.cipher.decrypt(record.body or b"")
            await _replay(record.status_code, record.headers or [], body, send)

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

        changes = RequestChanges(record_id, scope, self.store.database.engine)
        try:
            with observing_commits(changes):
                await self._renewing(record_id, lambda: self.app(scope, replay_body, capture))
        finally:
            if not settled:
                with anyio.CancelScope(shield=True):
                    await _quietly(self.store.release, record_id)

    async def _renewing(self, record_id: str, call: Callable[[], Awaitable[None]]) -> None:
        """Run ``call`` while renewing the record's lease, so a long request keeps its key."""
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._keep_claim, record_id)
                try:
                    await call()
                finally:
                    group.cancel_scope.cancel()
        except BaseExceptionGroup as errors:  # _keep_claim never raises: the one error is the app's
            raise errors.exceptions[0] from None

    async def _keep_claim(self, record_id: str) -> None:
        while True:
            await anyio.sleep(records.RENEW_EVERY.total_seconds())
            try:
                await anyio.to_thread.run_sync(self.store.renew, record_id)
            except Exception:
                log.warning("could not renew the lease of idempotency record %s", record_id, exc_info=True)

    async def _read_back(self, scope: Scope, receive: Receive, send: Send, record: IdempotentRequest) -> None:
        """Answer a committed request whose answer was lost by reading what it made, as its caller.

        The first path that answers 2xx gives the body, sent with the route's own status, and is
        kept as the answer from then on; a 401 (the token was revoked meanwhile) goes out as it is.
        """
        caller_headers = [
            (name, value) for name, value in scope["headers"] if name in (b"authorization", b"host")
        ]
        read_back = record.read_back or {}
        for path in read_back.get("paths", []):
            inner = {
                key: value for key, value in scope.items() if key not in ("route", "endpoint", "path_params")
            }
            inner.update(
                method="GET", path=path, raw_path=path.encode(), query_string=b"", headers=caller_headers
            )
            status, headers, body = await _answer_of(self.app, inner)
            if model_name(inner.get("route")) != read_back.get("model"):
                continue  # not the shape of the lost answer (a list, another resource)
            if status == 401:
                await _send_answer(send, status, headers, body)
                return
            if 200 <= status < 300:
                kept = [[n, v] for n, v in headers if n.lower() not in NOT_REPLAYED | {"location"}]
                kept.append(["location", path])
                committed = record.committed_status or status
                try:
                    sealed = self.cipher.encrypt(body)
                    await anyio.to_thread.run_sync(self.store.finish, record.id, committed, kept, sealed)
                except Exception:
                    log.exception("could not keep the answer read back for idempotency record %s", record.id)
                await _replay(committed, kept, body, send)
                return
        await self._problem(
            scope,
            receive,
            send,
            f"a request with this {IDEMPOTENCY_HEADER} was carried out (its change is committed), but its "
            "process stopped before answering and the answer cannot be read back; look up what it made "
            "instead of sending it again",
        )

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

    async def _still_running(
        self, scope: Scope, receive: Receive, send: Send, record: IdempotentRequest | None
    ) -> None:
        if record is None:
            detail = f"the record of this {IDEMPOTENCY_HEADER} changed hands while it was read; retry it"
        else:
            renewed = (record.lease_expires_at or utcnow()) - records.LEASE
            ago = max(math.floor((utcnow() - renewed).total_seconds()), 0)
            done = ": its change is committed and its answer is on the way" if record.committed_status else ""
            detail = (
                f"a request with this {IDEMPOTENCY_HEADER} is still running{done} (its process renewed "
                f"its claim {ago} s ago; a claim not renewed for {records.LEASE.seconds} s is abandoned); "
                "retry it in a moment to get its answer"
            )
        await self._problem(scope, receive, send, detail)

    async def _problem(self, scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        response = problem_response(
            Conflict.status,
            Conflict.slug,
            Conflict.title,
            detail,
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


async def _replay(status: int, kept_headers: list[list[str]], body: bytes, send: Send) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in kept_headers]
    headers.append((b"content-length", str(len(body)).encode()))
    headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _answer_of(app: ASGIApp, scope: Scope) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body ``app`` answers to a bodiless request, read in full."""
    status, headers, chunks = 500, [], []

    async def no_body() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def collect(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, no_body, collect)
    except Exception:
        log.exception("reading back %s for a lost idempotent answer failed", scope["path"])
        return 500, [], b""
    return status, headers, b"".join(chunks)


async def _send_answer(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers if n.lower() != "content-length"]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _quietly(release: Callable[[str], None], record_id: str) -> None:
    # A record we cannot delete only blocks its key until it expires; the answer still goes out.
    try:
        await anyio.to_thread.run_sync(release, record_id)
    except Exception:
        log.exception("could not delete the idempotency record %s", record_id)
