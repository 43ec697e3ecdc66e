"""The OpenAPI document says every problem a route can answer, as ``application/problem+json``.

Statuses that follow from a route's shape are added to every route at once (``document_problems``):
a body can be malformed (400), too large (413) or invalid (422), a query parameter invalid (422),
a path names something that may not exist (404), and a POST may meet its ``Idempotency-Key`` still
running (409) or reused (422). The caller adds what follows from its dependencies (authentication:
401, 403, 429); a route adds what only its service knows (409, 502, 503) with ``problems()``.
``ProblemDocumentedAPI`` puts the problem schema in the document, replaces FastAPI's default 422,
and writes the rule every string of a request obeys (no NUL, ``kit.limits``) into its schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from loopback.kit.errors import PROBLEM_JSON

COMPONENTS = "#/components/schemas/"
NO_NUL_PATTERN = r"^[^\x00]*$"
# Formats whose values cannot hold a NUL anyway; their schemas stay as they are.
_STRUCTURED_FORMATS = frozenset({"date-time", "date", "time", "duration", "uuid", "email", "uri"})

DESCRIPTIONS: dict[int, str] = {
    400: "the body is not JSON in UTF-8",
    401: "no token, or one that does not authenticate (expired, revoked, unknown)",
    403: "the token's role does not allow this; `permission` names what it lacks",
    404: "nothing by this name within the caller's reach, whether or not it exists",
    409: "conflicts with the current state; for a POST also: its Idempotency-Key is still running",
    413: "the body is larger than the installation's limit (LOOPBACK_MAX_REQUEST_BYTES)",
    422: "invalid input; `errors` names every failing field (a bad Idempotency-Key is one)",
    429: "too many failed authentications from this address; retry after Retry-After seconds",
    502: "the provider answered and refused; retrying will not help",
    503: "the provider could not be reached; nothing was recorded, retry after Retry-After seconds",
}
_STRING = {"schema": {"type": "string"}}
HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": 'Bearer realm="loopback"', **_STRING}},
    429: {"Retry-After": {"description": "seconds until this address may try again", **_STRING}},
    503: {"Retry-After": {"description": "seconds to wait before retrying", **_STRING}},
}


class FieldProblemDoc(BaseModel):
    model_config = ConfigDict(title="FieldProblem")

    field: str = Field(description="the field as the caller sent it: `name`, `grants.0.prefix`")
    pointer: str = Field(description="a JSON pointer to it in the body, `#/grants/0/prefix`")
    detail: str


class ProblemDoc(BaseModel):
    """An RFC 9457 problem; some types add members of their own (``permission``, ``object_count``)."""

    model_config = ConfigDict(title="Problem", extra="allow")

    type: str = Field(description="urn:loopback:problem:<slug>, e.g. urn:loopback:problem:validation")
    title: str
    status: int
    detail: str
    instance: str = Field(description="the request's path")
    request_id: str | None = Field(default=None, description="the X-Request-ID of the request")
    errors: list[FieldProblemDoc] | None = Field(default=None, description="422: every failing field")


def problems(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for problem statuses; ``descriptions`` as ``s409="the slug is taken"``."""
    return {status: _entry(status, descriptions.get(f"s{status}")) for status in statuses}


def _entry(status: int, description: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "a problem"),
        "content": {PROBLEM_JSON: {"schema": {"$ref": COMPONENTS + "Problem"}}},
    }
    if status in HEADERS:
        entry["headers"] = HEADERS[status]
    return entry


def _parameters(dependant: Dependant) -> tuple[list[Any], list[Any]]:
    """The path parameters and the other (query, header, cookie) ones of a route and its dependencies."""
    path: list[Any] = list(dependant.path_params)
    other: list[Any] = [*dependant.query_params, *dependant.header_params, *dependant.cookie_params]
    for child in dependant.dependencies:
        child_path, child_other = _parameters(child)
        path += child_path
        other += child_other
    return path, other


def shape_statuses(route: APIRoute) -> set[int]:
    """The problems a route can answer because of what it takes (see the module's docstring)."""
    path, other = _parameters(route.dependant)
    statuses: set[int] = set()
    if route.body_field is not None:
        statuses |= {400, 413, 422}
    if other:
        statuses.add(422)
    if path:
        statuses.add(404)
        if any(param.field_info.annotation is not str for param in path):
            statuses.add(422)
    if "POST" in (route.methods or set()):
        statuses |= {409, 422}
    return statuses


def document_problems(routes: Iterable[BaseRoute], statuses_of: Callable[[APIRoute], Iterable[int]]) -> None:
    """Add each route's problem statuses to its responses; what a route declares itself stays."""
    for route in routes:
        if isinstance(route, APIRoute) and route.include_in_schema:
            for status in sorted(shape_statuses(route) | set(statuses_of(route))):
                route.responses.setdefault(status, _entry(status))


class ProblemDocumentedAPI(FastAPI):
    """FastAPI whose document holds the problem schema and no 422 of FastAPI's own shape."""

    def openapi(self) -> dict[str, Any]:
        document = super().openapi()  # FastAPI's, cached until the routes change
        if "Problem" not in document.get("components", {}).get("schemas", {}):
            complete_document(document)
        return document


def complete_document(document: dict[str, Any]) -> None:
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    problem = ProblemDoc.model_json_schema(ref_template=COMPONENTS + "{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for operation in _operations(document):
        default = operation.get("responses", {}).get("422", {})
        if "application/json" in default.get("content", {}):
            # FastAPI's own, for a route whose parameters can never fail (plain strings in the path).
            del operation["responses"]["422"]
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    _forbid_nul_in_requests(document, schemas)


def _operations(document: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for path in document.get("paths", {}).values():
        for method, operation in path.items():
            if method in {"get", "put", "post", "delete", "patch", "head", "options"}:
                yield operation


def _forbid_nul_in_requests(document: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Every free-text string of a request body or query matches ``NO_NUL_PATTERN`` (kit.limits)."""
    seen: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENTS):
            name = ref.removeprefix(COMPONENTS)
            if name not in seen and name in schemas:
                seen.add(name)
                visit(schemas[name])
            return
        if (
            node.get("type") == "string"
            and not {"pattern", "enum", "const"} & node.keys()
            and node.get("format") not in _STRUCTURED_FORMATS
        ):
            node["pattern"] = NO_NUL_PATTERN
        for key in ("properties", "additionalProperties", "items", "prefixItems", "anyOf", "oneOf", "allOf"):
            child = node.get(key)
            visit(list(child.values()) if key == "properties" and isinstance(child, dict) else child)

    for operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") != "path":  # a NUL in a path answers 404, as a missing name does
                visit(parameter.get("schema"))
        for media in operation.get("requestBody", {}).get("content", {}).values():
            visit(media.get("schema"))
