"""Signing in and out, and the console's own files: what a visitor reaches before any project."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Query, Request, Response
from fastapi.responses import FileResponse

from loopback.kit.errors import Invalid, NotFound, TooManyRequests, Unauthorized
from loopback.kit.requests import request_id_of
from loopback.tenancy.access import FailedAuthLimiter, authenticate
from loopback.tenancy.auth import DbSession, client_address
from loopback.web.dependencies import PostedForm, RuntimeDep, redirect
from loopback.web.rendering import CONSOLE, STATIC, STATIC_TYPES, console_router, render, safe_next
from loopback.web.session import Visit, drop_once, end_visit, read_visit, write_visit

router = console_router()


@router.get("/_static/{name}")
def static_file(name: str) -> Response:
    """The console's own stylesheet and script; nothing is loaded from anywhere else."""
    if name not in STATIC_TYPES:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(
        STATIC / name, media_type=STATIC_TYPES[name], headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    runtime: RuntimeDep,
    session: DbSession,
    next_page: Annotated[str | None, Query(alias="next", max_length=500)] = None,
    ended: bool = False,
    signed_out: bool = False,
) -> Response:
    visit = read_visit(runtime.secrets, request)
    if visit is not None and visit.token is not None:
        try:
            authenticate(session, visit.token)
            return redirect(safe_next(next_page))
        except Unauthorized:
            visit = None
    notice = None
    if ended:
        notice = "Your console session ended. Sign in again to go on."
    elif signed_out:
        notice = "You are signed out. Your token still works with the API and the CLI."
    fresh = visit is None
    visit = visit or Visit.anonymous()
    response = render(request, "sign_in.html", csrf=visit.csrf, next=safe_next(next_page), notice=notice)
    if fresh:
        write_visit(runtime.secrets, request, response, visit)
    return response


@router.post("/sign-in")
def sign_in(request: Request, form: PostedForm, runtime: RuntimeDep, session: DbSession) -> Response:
    """Check the token as the API would, then keep it sealed in the session cookie.

    A missing or failing token counts toward the address's failed authentications, shared with the
    API; a valid one signs in whatever came before.
    """
    token, target = form.text("token"), safe_next(form.text("next"))
    limiter = cast(FailedAuthLimiter, request.app.state.auth_limiter)
    address = client_address(request)
    try:
        try:
            if not token:
                raise Invalid.field("token", "paste an API token; it starts with lbk_")
            authenticate(session, token, request_id_of(request.scope), address)
        except (Unauthorized, Invalid):
            limiter.failed(address)  # as the API counts them: a valid token always signs in
            raise
    except (Unauthorized, Invalid, TooManyRequests) as error:
        detail = error.problems[0].detail if isinstance(error, Invalid) else error.detail
        return render(
            request, "sign_in.html", status=error.status, csrf=form.visit.csrf, next=target, error=detail
        )
    response = redirect(target)
    write_visit(runtime.secrets, request, response, Visit.signed_in(token))
    drop_once(request, response)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: PostedForm) -> Response:
    """Forget the token in this browser; the token itself stays valid for the API."""
    response = redirect(f"{CONSOLE}/sign-in?signed_out=1")
    end_visit(request, response)
    return response
