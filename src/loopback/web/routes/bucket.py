"""One bucket's page and what it offers: a key for it (issued and revoked), a usage sync, deleting it.

The page shows its endpoint, connection snippets, keys, usage and history; an issued secret shows
here once. Each offer appears only when its permission check would admit it (``Console.can``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Query, Response
from fastapi.responses import HTMLResponse

from loopback.buckets import repository as bucket_rows
from loopback.buckets.models import BucketStatus, DesiredState
from loopback.buckets.service import BucketView
from loopback.kit.clock import utcnow
from loopback.kit.errors import Conflict, Invalid
from loopback.tenancy.access import ProjectScope
from loopback.web.dependencies import Console, Page, PostedForm, bucket_path, redirect
from loopback.web.following import BUSY, NO_SCRIPT_REFRESH, bucket_state
from loopback.web.forms import ACCESS_MODES, BUCKET_KEY_FIELDS, KeyForm, key_errors
from loopback.web.issuing import hand_over, handover_formats, issue
from loopback.web.placements import Placements
from loopback.web.rendering import CONSOLE, console_router, render
from loopback.web.session import drop_once, has_once, take_once
from loopback.web.snippets import connection_snippets
from loopback.web.timeline import history
from loopback.web.usage_chart import UsageLine

router = console_router()

# What a bucket's page may offer; each is shown only when the permission check would admit it.
BUCKET_PAGE_OFFERS = (
    "credentials.read",
    "credentials.issue",
    "credentials.revoke",
    "buckets.delete",
    "usage.refresh",
    "buckets.create",  # a failed or lost bucket is replaced with this permission, as in the API
)
REPLACEABLE_HERE = frozenset({BucketStatus.FAILED, BucketStatus.LOST})
# Keys listed on a bucket's page; the project's keys page pages through every key.
BUCKET_PAGE_KEYS = 500


def _bucket_page(
    console: Console,
    scope: ProjectScope,
    bucket_id: str,
    *,
    revoked: str | None = None,
    refreshing: bool = False,
    values: KeyForm | None = None,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The bucket's page; after a refused key form, with that form's values and errors (no secret)."""
    runtime, session, request = console.runtime, console.session, console.request
    view = runtime.buckets.get(session, scope, bucket_id)
    allowed = {name: console.can(scope, name) for name in BUCKET_PAGE_OFFERS}
    keys = (
        runtime.credentials.page(session, scope, BUCKET_PAGE_KEYS, bucket_id=view.bucket.id)[0]
        if allowed["credentials.read"]
        else []
    )
    # The bucket was just read in this scope: its events are read without reading it again
    # (``BucketService.events`` does, to answer 404 for a bucket out of scope).
    events = list(session.scalars(bucket_rows.events_of(scope, view.bucket.id)))
    shown = None if errors else take_once(runtime.secrets, request, console.visit, view.bucket.id)
    usable = [key for key in keys if key.status in ("active", "expiring")]
    access_key_id = (
        shown.access_key_id if shown else (usable[-1].credential.access_key_id if usable else None)
    )
    busy = view.bucket.status in BUSY
    gone = view.bucket.status == BucketStatus.DELETED  # no usage, endpoint or snippets to show
    replaceable = (
        view.bucket.status in REPLACEABLE_HERE
        and view.bucket.superseded_by_id is None
        and allowed["buckets.create"]
    )
    return render(
        request,
        "bucket.html",
        status=status,
        scope=scope,
        view=view,
        bucket=view.bucket,
        busy=busy,
        ready=view.bucket.status == BucketStatus.READY,
        being_deleted=view.bucket.desired_state == DesiredState.ABSENT,
        gone=gone,
        usage_line=None if gone else UsageLine.of(session, view.bucket.id, view.bucket.created_at, utcnow()),
        replacement=Placements.read(runtime, session) if replaceable else None,
        events=history(events, keys),
        keys=keys,
        shown=shown,
        formats=handover_formats(console, scope, shown, keys),
        revoked=next((key for key in keys if key.credential.id == revoked), None),
        refreshing=refreshing,
        allowed=allowed,
        values=values or KeyForm(),
        errors=errors or {},
        access_modes=ACCESS_MODES,
        key_check=f"{CONSOLE}/_api/{scope.organization_slug}/{scope.project_slug}/keys/check",
        snippets=connection_snippets(
            view.bucket.name,
            view.bucket.endpoint,
            view.region,
            access_key_id,
            shown.secret if shown else None,
        ),
        refresh=NO_SCRIPT_REFRESH if busy else None,
        poll=f"{CONSOLE}/_api/{scope.organization_slug}/{scope.project_slug}/buckets/{bucket_id}/status"
        if busy
        else None,
        poll_state=bucket_state(view),
    )


@router.get("/{org}/{project}/buckets/{bucket_id}")
def bucket_page(
    org: str,
    project: str,
    bucket_id: str,
    console: Page,
    revoked: Annotated[str | None, Query(max_length=64)] = None,
    refreshing: bool = False,
) -> Response:
    """Endpoint, snippets, keys, usage and history of one bucket; an issued secret shows here once."""
    scope = console.scope(org, project, "buckets.read")
    response = _bucket_page(console, scope, bucket_id, revoked=revoked, refreshing=refreshing)
    if has_once(console.request):
        drop_once(console.request, response)  # shown now or never: a reload finds it gone
    return response


@router.post("/{org}/{project}/buckets/{bucket_id}/credentials")
def issue_key(org: str, project: str, bucket_id: str, form: PostedForm, console: Page) -> Response:
    """Issue a key for this bucket, then show its secret on the next page view only."""
    scope = console.scope(org, project, "credentials.issue")
    console.runtime.buckets.get(console.session, scope, bucket_id)
    values = KeyForm.of(form)
    try:
        issued, secret = issue(console, scope, values, [bucket_id], grant_field="")
    except Invalid as invalid:  # a bucket that is not ready is a Conflict: its own page says why
        errors = key_errors(invalid.problems, BUCKET_KEY_FIELDS)
        return _bucket_page(console, scope, bucket_id, values=values, errors=errors, status=invalid.status)
    response = redirect(bucket_path(scope, bucket_id) + "#keys")
    hand_over(console, form, response, bucket_id, issued, secret)
    return response


@router.post("/{org}/{project}/buckets/{bucket_id}/credentials/{credential_id}/revoke")
def revoke_key(
    org: str, project: str, bucket_id: str, credential_id: str, form: PostedForm, console: Page
) -> Response:
    scope = console.scope(org, project, "credentials.revoke")
    console.runtime.buckets.get(console.session, scope, bucket_id)
    console.runtime.credentials.revoke(console.session, scope, credential_id, bucket_id)
    return redirect(f"{bucket_path(scope, bucket_id)}?revoked={quote(credential_id)}#keys")


@router.post("/{org}/{project}/buckets/{bucket_id}/replace")
def replace_bucket(org: str, project: str, bucket_id: str, form: PostedForm, console: Page) -> Response:
    """A failed or lost bucket again, as a new row where the form says (by default where it was)."""
    scope = console.scope(org, project, "buckets.create")  # as the API's replace
    provider, _, region = form.text("placement").partition("/")
    view = console.runtime.buckets.replace(
        console.session, scope, bucket_id, None, provider or None, region or None
    )
    return redirect(bucket_path(scope, view.bucket.id))


@router.post("/{org}/{project}/buckets/{bucket_id}/usage/refresh")
def refresh_usage(org: str, project: str, bucket_id: str, form: PostedForm, console: Page) -> Response:
    scope = console.scope(org, project, "usage.refresh")
    console.runtime.buckets.request_usage_refresh(console.session, scope, bucket_id)
    return redirect(f"{bucket_path(scope, bucket_id)}?refreshing=1#usage")


def _delete_form(
    console: Console, scope: ProjectScope, view: BucketView, status: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("confirm_name", "")
    context.setdefault("force", False)
    context.setdefault("error", None)
    context.setdefault("held", None)
    return render(
        console.request,
        "delete.html",
        status=status,
        scope=scope,
        view=view,
        bucket=view.bucket,
        being_deleted=view.bucket.desired_state == DesiredState.ABSENT,
        **context,
    )


@router.get("/{org}/{project}/buckets/{bucket_id}/delete")
def delete_page(org: str, project: str, bucket_id: str, console: Page) -> Response:
    """The confirmation: the bucket's name typed in full, and whether to empty it first."""
    scope = console.scope(org, project, "buckets.delete")
    return _delete_form(console, scope, console.runtime.buckets.get(console.session, scope, bucket_id))


@router.post("/{org}/{project}/buckets/{bucket_id}/delete")
def delete_bucket(org: str, project: str, bucket_id: str, form: PostedForm, console: Page) -> Response:
    scope = console.scope(org, project, "buckets.delete")
    view = console.runtime.buckets.get(console.session, scope, bucket_id)
    typed, force = form.text("confirm_name"), form.checked("force")
    if typed != view.bucket.name:
        return _delete_form(
            console,
            scope,
            view,
            422,
            confirm_name=typed,
            force=force,
            error=f"type the bucket's name, {view.bucket.name}, exactly to confirm",
        )
    try:
        console.runtime.buckets.delete(console.session, scope, bucket_id, force=force)
    except Conflict as conflict:  # it still holds objects: say how many and offer to empty it
        held = conflict.detail.partition(";")[0]
        return _delete_form(console, scope, view, 409, confirm_name=typed, held=held[:1].upper() + held[1:])
    return redirect(bucket_path(scope, bucket_id))
