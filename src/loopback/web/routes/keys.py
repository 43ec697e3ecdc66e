"""A project's keys page, and what it offers: one key over several buckets, rotating, revoking."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Response
from fastapi.responses import HTMLResponse

from loopback.buckets.models import BucketStatus
from loopback.buckets.service import BucketFilters, BucketView
from loopback.kit.errors import Conflict, FieldProblem, Invalid
from loopback.tenancy.access import ProjectScope
from loopback.web.dependencies import PAGE_SIZE, Console, Page, PostedForm, keys_path, redirect
from loopback.web.forms import (
    ACCESS_MODES,
    DEFAULT_GRACE_HOURS,
    MAX_GRACE_HOURS,
    KeyForm,
    grace_hours,
    key_errors,
)
from loopback.web.issuing import hand_over, handover_formats, issue
from loopback.web.rendering import CONSOLE, console_router, render
from loopback.web.session import drop_once, has_once, take_once

router = console_router()

KEYS_PAGE_OFFERS = ("credentials.issue", "credentials.revoke")


def keys_place(scope: ProjectScope) -> str:
    """Where a secret issued on the keys page is shown: that project's keys page, nowhere else."""
    return f"keys:{scope.project_id}"


def _ready_buckets(console: Console, scope: ProjectScope) -> list[BucketView]:
    """The buckets a key can be issued for: every ready, current bucket of the project."""
    found: list[BucketView] = []
    cursor: str | None = None
    while True:
        views, cursor = console.runtime.buckets.list(
            console.session, scope, 200, cursor, BucketFilters(status=BucketStatus.READY, superseded=False)
        )
        found += views
        if cursor is None:
            return found


def _keys_page(
    console: Console,
    scope: ProjectScope,
    *,
    cursor: str | None = None,
    revoked: str | None = None,
    values: KeyForm | None = None,
    errors: dict[str, list[str]] | None = None,
    rotating: str | None = None,
    grace: str = "",
    status: int = 200,
) -> HTMLResponse:
    """The project's keys, one ``page()`` of them; after a refused form, with its values and errors.

    ``rotating`` names the key whose rotate form was refused (``errors`` then holds its problems).
    """
    runtime, session, request = console.runtime, console.session, console.request
    allowed = {name: console.can(scope, name) for name in KEYS_PAGE_OFFERS}
    keys, next_cursor = runtime.credentials.page(session, scope, PAGE_SIZE, cursor)
    shown = None if errors else take_once(runtime.secrets, request, console.visit, keys_place(scope))
    return render(
        request,
        "keys.html",
        status=status,
        scope=scope,
        keys=keys,
        next_cursor=next_cursor,
        shown=shown,
        formats=handover_formats(console, scope, shown, keys),
        revoked=next((key for key in keys if key.credential.id == revoked), None),
        allowed=allowed,
        buckets=_ready_buckets(console, scope) if allowed["credentials.issue"] else [],
        values=values or KeyForm(),
        errors={} if rotating else (errors or {}),
        rotating=rotating,
        rotate_errors=(errors or {}) if rotating else {},
        grace=grace,
        default_grace=DEFAULT_GRACE_HOURS,
        max_grace=MAX_GRACE_HOURS,
        access_modes=ACCESS_MODES,
        key_check=f"{CONSOLE}/_api/{scope.organization_slug}/{scope.project_slug}/keys/check",
    )


@router.get("/{org}/{project}/keys")
def keys_page(
    org: str,
    project: str,
    console: Page,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    revoked: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Every key of the project: its buckets and modes, state, expiry and rotation; a new secret once."""
    scope = console.scope(org, project, "credentials.read")
    response = _keys_page(console, scope, cursor=cursor, revoked=revoked)
    if has_once(console.request):
        drop_once(console.request, response)  # shown now or never: a reload finds it gone
    return response


@router.post("/{org}/{project}/keys")
def issue_project_key(org: str, project: str, form: PostedForm, console: Page) -> Response:
    """Issue one key over the checked buckets, one mode for all; its secret shows on the next view."""
    scope = console.scope(org, project, "credentials.issue")
    values = KeyForm.of(form)
    try:
        issued, secret = issue(console, scope, values, values.buckets, grant_field="grants")
    except (Invalid, Conflict) as refused:  # Conflict: a checked bucket stopped being ready
        problems = (
            refused.problems if isinstance(refused, Invalid) else [FieldProblem("grants", refused.detail)]
        )
        return _keys_page(console, scope, values=values, errors=key_errors(problems), status=refused.status)
    response = redirect(keys_path(scope) + "#new-key")
    hand_over(console, form, response, keys_place(scope), issued, secret)
    return response


@router.post("/{org}/{project}/keys/{credential_id}/rotate")
def rotate_key(org: str, project: str, credential_id: str, form: PostedForm, console: Page) -> Response:
    """A new key for the same grants; the old one works for the grace period, then is revoked."""
    scope = console.scope(org, project, "credentials.issue")  # as the API's rotate
    typed = form.text("grace_hours")
    hours = grace_hours(typed) if typed else DEFAULT_GRACE_HOURS
    try:
        if hours is None:
            raise Invalid.field(
                "grace_hours", f"hours from 0 to {MAX_GRACE_HOURS} (30 days); 0 ends the old key at once"
            )
        issued, secret = console.runtime.credentials.rotate(
            console.session, scope, credential_id, round(hours * 3600)
        )
    except Invalid as invalid:
        errors = {"grace": list(dict.fromkeys(p.detail for p in invalid.problems))}
        return _keys_page(
            console, scope, errors=errors, rotating=credential_id, grace=typed, status=invalid.status
        )
    response = redirect(keys_path(scope) + "#new-key")
    hand_over(console, form, response, keys_place(scope), issued, secret)
    return response


@router.post("/{org}/{project}/keys/{credential_id}/revoke")
def revoke_project_key(
    org: str, project: str, credential_id: str, form: PostedForm, console: Page
) -> Response:
    """Revoke a key at the provider; it stops working at once, for every bucket it reaches."""
    scope = console.scope(org, project, "credentials.revoke")
    console.runtime.credentials.revoke(console.session, scope, credential_id)
    return redirect(f"{keys_path(scope)}?revoked={quote(credential_id)}#key-{quote(credential_id)}")
