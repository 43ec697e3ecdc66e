"""One error tree carrying the HTTP status and problem type of each error the product raises.

``kit.problems`` turns them into RFC 9457 responses. This module imports no web framework, so the
CLI and the worker, which raise and read these errors, do not load FastAPI to start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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
