"""Templates, the page around every view, and how the console turns refusals into pages.

Every console route goes through ``ConsoleRoute``: a service's refusal (403, 404, 409, 422, ...)
becomes a page that says what happened, or a JSON problem for the console's own scripts, and a
missing or ended session becomes a redirect to sign in. Each response carries headers that keep
pages with secrets out of caches and frames and allow no script or style from elsewhere.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute

from loopback.kit.errors import LoopbackError
from loopback.web import humane
from loopback.web.session import end_visit

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
CONSOLE = "/console"
API_PREFIX = "/console/_api/"
STATIC_PREFIX = "/console/_static/"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STATIC_TYPES = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}


def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


STATIC_VERSIONS = {name: _fingerprint(name) for name in STATIC_TYPES}


def static_url(name: str) -> str:
    """A URL that changes with the file, so browsers may cache it for long."""
    return f"{STATIC_PREFIX}{name}?v={STATIC_VERSIONS[name]}"


def sentence(text: str) -> str:
    """A service's detail as a sentence on a page: capitalized, with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


@functools.cache
def environment() -> Environment:
    """The console's templates, set up by the first page: an API replica that serves no page
    loads no Jinja (issue 14: its memory); each template is compiled when first rendered."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        bytes=humane.human_bytes,
        ago=humane.relative_time,
        until=humane.time_until,
        exact=humane.exact_time,
        iso=humane.iso_time,
        sentence=sentence,
    )
    environment.globals.update(static_url=static_url, count=humane.human_count)
    return environment


@dataclass(frozen=True)
class Place:
    """A project the signed-in user can open, as the switcher lists it."""

    organization: str
    organization_name: str
    project: str
    project_name: str

    @property
    def path(self) -> str:
        return f"{CONSOLE}/{self.organization}/{self.project}"

    @property
    def key(self) -> str:
        return f"{self.organization}/{self.project}"


@dataclass(frozen=True)
class Chrome:
    """What every signed-in page shows around its content: who, where, and how to go elsewhere."""

    email: str
    csrf: str
    places: list[Place]
    here: Place | None = None
    role: str | None = None
    organization: str | None = None  # an organization's own page (billing): no project is here
    billing: frozenset[str] = frozenset()  # organizations whose billing page the caller may open

    @property
    def billing_here(self) -> str | None:
        """The billing page of the organization shown, when the caller may open it."""
        slug = self.here.organization if self.here else self.organization
        return f"{CONSOLE}/{slug}/_billing" if slug in self.billing else None


PAGE_DEFAULTS: dict[str, Any] = {
    "refresh": None,
    "poll": None,
    "poll_state": "",
    "notice": None,
    "error": None,
}


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page; ``refresh``/``poll`` make it follow a bucket on its way, without and with a script."""
    chrome = getattr(request.state, "chrome", None)
    context = {**PAGE_DEFAULTS, **context}
    html = environment().get_template(template).render(chrome=chrome, **context)
    return HTMLResponse(html, status_code=status)


class SignInRequired(Exception):
    """No session, or the token in it no longer authenticates: the visitor signs in (again)."""

    def __init__(self, ended: bool = False) -> None:
        super().__init__("sign in to use the console")
        self.ended = ended


class FormRefused(LoopbackError):
    """A form without this session's CSRF token: forged elsewhere, or older than the session."""

    status = 403
    slug = "csrf"
    title = "This form cannot be accepted"


def sign_in_redirect(request: Request, ended: bool) -> RedirectResponse:
    target = f"{CONSOLE}/sign-in"
    query = []
    if request.method == "GET" and request.url.path not in (CONSOLE, CONSOLE + "/"):
        query.append("next=" + quote(request.url.path, safe="/"))
    if ended:
        query.append("ended=1")
    response = RedirectResponse(target + ("?" + "&".join(query) if query else ""), status_code=303)
    if ended:
        end_visit(request, response)
    return response


def safe_next(value: str | None) -> str:
    """Only a console path of this site: never an open redirect to somewhere else."""
    if not value:
        return CONSOLE
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith(CONSOLE + "/") or "\\" in value:
        return CONSOLE
    return value


def back_link(request: Request) -> str:
    """Where "Back" goes from an error page: the page the form was on, when it was one of ours."""
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        if parts.netloc == request.url.netloc and parts.path.startswith(CONSOLE):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return CONSOLE


def error_page(request: Request, error: LoopbackError) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status=error.status,
        title=error.title,
        status_code=error.status,
        detail=error.detail,
        permission=getattr(error, "permission", None),
        back=back_link(request),
    )


def problem_json(error: LoopbackError) -> JSONResponse:
    return JSONResponse(
        {"status": error.status, "title": error.title, "detail": error.detail, **error.extensions()},
        status_code=error.status,
        headers=error.headers,
    )


class ConsoleRoute(APIRoute):
    """A console route: refusals become pages (or JSON under ``/console/_api``), with safe headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        speaks_json = self.path_format.startswith(API_PREFIX)

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as needed:
                if speaks_json:
                    response = JSONResponse({"status": 401, "detail": "sign in again"}, status_code=401)
                else:
                    response = sign_in_redirect(request, needed.ended)
            except LoopbackError as error:
                response = problem_json(error) if speaks_json else error_page(request, error)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return guarded


def console_router() -> APIRouter:
    """A router of console routes: pages (HTML unless a route says otherwise), outside the OpenAPI."""
    return APIRouter(
        prefix=CONSOLE, include_in_schema=False, route_class=ConsoleRoute, default_response_class=HTMLResponse
    )
