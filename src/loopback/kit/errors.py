"""One error tree carrying the HTTP status and problem type, turned into RFC 9457 responses once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


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
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extensions or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(location: Sequence[int | str]) -> str:
    # FastAPI reports ("body", "name") or ("query", "limit"); the caller knows the field as "name".
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves the API as ``application/problem+json``, including framework ones."""

    @app.exception_handler(LoopbackError)
    async def _loopback_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, LoopbackError)
        return problem_response(
            error.status,
            error.slug,
            error.title,
            error.detail,
            request.url.path,
            error.extensions(),
            error.headers,
        )

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
        return problem_response(
            error.status_code,
            slug,
            str(error.detail),
            str(error.detail),
            request.url.path,
            headers=dict(error.headers or {}),
        )
