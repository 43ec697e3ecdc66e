"""Errors as RFC 9457 responses, made once for every route, middleware and framework error.

Every problem carries the request's id (``request_id``, also the ``X-Request-ID`` header), so a
caller's report finds the server's log lines; an unexpected exception answers a generic 500
problem and its traceback goes to the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from loopback.kit.errors import PROBLEM_JSON, FieldProblem, Invalid, LoopbackError, problem_type
from loopback.kit.requests import REQUEST_ID_HEADER, current_request_id, request_id_of

log = logging.getLogger(__name__)


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
