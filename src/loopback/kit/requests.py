"""A request id on every request and response, so a caller's report finds its audit events and logs;
and each request counted and timed by its route template (kit.metrics)."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopback.kit.logs import log_context
from loopback.kit.metrics import HTTP_DURATION, HTTP_REQUESTS, timed

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
        status = [500]  # what the client got when the app fails before it answers
        root_path = scope.get("root_path", "")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            with log_context(request_id=request_id), timed() as elapsed:
                await self.app(scope, receive, send_with_id)
        finally:
            _current_request_id.reset(token)
            method = scope["method"] if scope["method"] in METHODS else "OTHER"
            route = route_template(scope, root_path)
            HTTP_REQUESTS.labels(method, route, str(status[0])).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed[0])


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope, root_path: str = "") -> str:
    """The path template the router matched (``/v3/organizations/{org}/...``), never the raw path:
    labels must not carry tenant names or ids, nor grow with every path a client makes up. A mount
    (the reference pages' assets) is its prefix; a path no route matched is ``unmatched``."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str):
        return template
    mounted = scope.get("root_path", "")
    if isinstance(mounted, str) and mounted != root_path and mounted.startswith(root_path):
        return mounted.removeprefix(root_path) + "/{path}"
    return "unmatched"
