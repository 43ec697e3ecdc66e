"""One error tree carrying the HTTP status and problem type, turned into RFC 9457 responses once.

Every problem carries the request's id (``request_id``, also the ``X-Request-ID`` header), so a
caller's report finds the server's log lines; an unexpected exception answers a generic 500
problem and its traceback goes to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from loopback.kit.requests import REQUEST_ID_HEADER, current_request_id, request_id_of

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldProblem:
    """What is wrong with one input field; ``field`` is dotted (``name``, ``usage.bytes``)."""

    field: str
    detail: str

    def as_member(self) -> dict[str, str]:
        return {
            "field": self.field,
            "pointer": "#/" + self.field.replace(".", "/"),
            "detail": self.detail,
        }


class LoopbackError(Exception):
    """Base of every error a caller may see; subclasses fix the status and problem type."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    def extensions(self) -> dict[str, Any]:
        return {}


class NotFound(LoopbackError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Unauthorized(LoopbackError):
    status = 401
    slug = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="loopback"'})


class Forbidden(LoopbackError):
    status = 403
    slug = "forbidden"
    title = "Not allowed"

    def __init__(self, detail: str, *, permission: str) -> None:
        super().__init__(detail)
        self.permission = permission

    def extensions(self) -> dict[str, Any]:
        return {"permission": self.permission}


class Conflict(LoopbackError):
    status = 409
    slug = "conflict"
    title = "Conflict with the current state"


class BucketNotEmpty(Conflict):
    """A delete refused because the bucket holds objects; ``object_count`` says how many (or at least)."""

    slug = "bucket-not-empty"
    title = "The bucket holds objects"

    def __init__(self, detail: str, *, object_count: int, at_least: bool) -> None:
        super().__init__(detail)
        self.object_count = object_count
        self.at_least = at_least

    def extensions(self) -> dict[str, Any]:
        return {"object_count": self.object_count, "object_count_is_a_minimum": self.at_least}


class BodyTooLarge(LoopbackError):
    """A request body over ``LOOPBACK_MAX_REQUEST_BYTES``; refused before it is read in full."""

    status = 413
    slug = "body-too-large"
    title = "Request body too large"


class TooManyRequests(LoopbackError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class Invalid(LoopbackError):
    """Input that breaks a rule; names every failing field so a client can show it beside the field."""

    status = 422
    slug = "validation"
    title = "Invalid input"

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.detail}" for p in self.problems))

    @classmethod
    def field(cls, field: str, detail: str) -> Invalid:
        return cls([FieldProblem(field, detail)])

    def extensions(self) -> dict[str, Any]:
        return {"errors": [p.as_member() for p in self.problems]}


class ProviderUnavailable(LoopbackError):
    """The provider could not be reached or failed; nothing was recorded for this request."""

    status = 503
    slug = "provider-unavailable"
    title = "Provider unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "5"})


class ProviderRefused(LoopbackError):
    """The provider answered, and said no; retrying the same request will not help."""

    status = 502
    slug = "provider-refused"
    title = "Provider refused"


def problem_type(slug: str) -> str:
    return f"urn:loopback:problem:{slug}"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    *,
    request_id: str | None = None,
) -> JSONResponse:
    """An RFC 9457 document; ``request_id`` defaults to the id of the request being answered."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    request_id = request_id or current_request_id()
    if request_id is not None:
        body["request_id"] = request_id
    body.update(extensions or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def error_response(error: LoopbackError, instance: str) -> JSONResponse:
    """The problem document of one of our errors, for code that answers outside a route."""
    return problem_response(
        error.status, error.slug, error.title, error.detail, instance, error.extensions(), error.headers
    )


def _field_name(location: Sequence[int | str]) -> str:
    # FastAPI reports ("body", "name") or ("query", "limit"); the caller knows the field as "name".
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers at this path: a 405's ``Allow``, not just the first route's."""
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.routes):
            allowed.append(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves the API as ``application/problem+json``, including framework ones."""

    @app.exception_handler(LoopbackError)
    async def _loopback_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, LoopbackError)
        return error_response(error, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [FieldProblem(_field_name(e["loc"]), str(e["msg"])) for e in error.errors()]
        invalid = Invalid(problems)
        return problem_response(
            422, Invalid.slug, Invalid.title, invalid.detail, request.url.path, invalid.extensions()
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code, "http-error")
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(
            error.status_code, slug, str(error.detail), str(error.detail), request.url.path, headers=headers
        )

    @app.exception_handler(Exception)
    async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
        # Starlette calls this from its outermost middleware, outside RequestIdMiddleware: the id
        # is read from the scope and the header set here. The exception text may name tables,
        # values or paths, so it goes to the log with the traceback and never to the caller.
        request_id = request_id_of(request.scope)
        log.error(
            "unexpected %s answering %s %s (request %s)",
            type(error).__name__,
            request.method,
            request.url.path,
            request_id,
            exc_info=error,
        )
        return problem_response(
            500,
            LoopbackError.slug,
            LoopbackError.title,
            "the server failed to answer this request; quote its request id when you report it",
            request.url.path,
            headers={REQUEST_ID_HEADER: request_id} if request_id else None,
            request_id=request_id,
        )
