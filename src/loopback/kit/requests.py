"""A request id on every request and response, so a caller's report finds its audit events and logs."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
# The id of the request being answered, for the problem documents built below the middleware
# (kit.errors, the idempotency and limits middlewares) without passing it through every call.
_current_request_id: ContextVar[str | None] = ContextVar("loopback_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request this code is answering, or None outside a request."""
    return _current_request_id.get()


def request_id_of(scope: Scope) -> str | None:
    state = scope.get("state") or {}
    value = state.get("request_id")
    return str(value) if value is not None else None


def new_request_id() -> str:
    """``req_`` and 24 hex digits. An id names a request, it guards nothing, so it comes from the
    process's seeded generator (reseeded in a forked child) rather than ``secrets``: reading the
    OS's randomness is a system call that gives up the GIL on the event loop, and under load the
    loop then waits for a worker thread to hand it back."""
    return f"req_{random.getrandbits(96):024x}"


class RequestIdMiddleware:
    """Keep a well-formed ``X-Request-ID`` from the caller, or make one; echo it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        request_id = given if _ACCEPTABLE.match(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        token = _current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current_request_id.reset(token)
