"""What a request may carry before any route sees it: a bounded body and text a database can store.

One middleware for every route (API, v2 and console), so no route has to remember either rule:

- a body over ``LOOPBACK_MAX_REQUEST_BYTES`` answers 413, from ``Content-Length`` before anything
  is read, or as soon as a streamed (chunked) body passes the limit;
- a NUL character (PostgreSQL's text refuses it) or an unpaired surrogate (not UTF-8, so neither
  database can encode it) answers 404 in the path (no resource has such a name), or 422 naming
  the query parameter or the body field (``name``, ``grants.0.prefix``) that holds it.

Both refusals come before authentication and before any session opens, so they change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopback.kit.errors import BodyTooLarge, FieldProblem, Invalid
from loopback.kit.problems import error_response, problem_response

UNSTORABLE = "must not contain NUL (\\u0000) characters or unpaired surrogates: they cannot be stored"


def storable(text: str) -> bool:
    """Text both databases store as given: no NUL, and valid UTF-8 (no lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(name: str) -> str:
    # A field name that is itself unstorable is named with its characters escaped.
    return name if storable(name) else name.encode("unicode_escape").decode("ascii")


def unstorable_fields(value: Any, path: str = "") -> Iterator[str]:
    """The dotted path (``grants.0.prefix``) of every key or string in ``value`` that cannot be stored."""
    if isinstance(value, str):
        if not storable(value):
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{_shown(str(key))}" if path else _shown(str(key))
            if not storable(str(key)):
                yield child
            else:
                yield from unstorable_fields(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_fields(item, f"{path}.{index}" if path else str(index))


def _media_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1")).split(";", 1)[0].strip().lower()
    return ""


def body_problems(media_type: str, body: bytes) -> list[FieldProblem]:
    """Unstorable fields of a JSON or form body; a body that does not parse is left to the route."""
    if not body:  # most requests (every GET): nothing to parse, and no failed parse to pay for
        return []
    fields: list[str] = []
    if media_type in ("", "application/json") or media_type.endswith("+json"):
        # FastAPI reads a body without a Content-Type as JSON too.
        try:
            fields = list(unstorable_fields(json.loads(body)))
        except (ValueError, RecursionError):
            return []
    elif media_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        fields = [_shown(name) for name, value in pairs if not (storable(name) and storable(value))]
    return [FieldProblem(field, UNSTORABLE) for field in dict.fromkeys(fields)]


def query_problems(query_string: bytes) -> list[FieldProblem]:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    fields = [_shown(name) for name, value in pairs if not (storable(name) and storable(value))]
    return [FieldProblem(field, UNSTORABLE) for field in dict.fromkeys(fields)]


class _ClientLeft(Exception):
    """The client disconnected before its body was whole: nobody is left to answer."""


class RequestLimitsMiddleware:
    """Refuse oversized bodies (413) and unstorable text (404 in the path, 422 elsewhere)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if not storable(path):
            response = problem_response(
                404,
                "not-found",
                "Not Found",
                "no resource has a NUL or an unpaired surrogate in its path",
                path,
            )
            await response(scope, receive, send)
            return
        problems = query_problems(scope.get("query_string", b""))
        if problems:
            await error_response(Invalid(problems), path)(scope, receive, send)
            return
        declared = self._declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _ClientLeft:
            return
        if body is None:
            await self._too_large(scope, receive, send)
            return
        problems = body_problems(_media_type(scope), body)
        if problems:
            await error_response(Invalid(problems), path)(scope, receive, send)
            return
        await self.app(scope, _replaying(body, receive), send)

    @staticmethod
    def _declared_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None  # the server refuses a malformed length before it gets here
        return None

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit (the rest is never read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientLeft
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(f"a request body is limited to {self.max_body_bytes} bytes")
        await error_response(error, scope["path"])(scope, receive, send)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body read already, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
