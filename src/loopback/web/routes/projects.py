"""Where the caller can go and what a project holds: home, the project switcher, a project's
buckets, and creating a bucket in it."""

from __future__ import annotations

import dataclasses
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Response
from fastapi.responses import HTMLResponse

from loopback.buckets.models import BucketStatus, DeletionPolicy
from loopback.buckets.service import BucketFilters
from loopback.kit.errors import Conflict, Invalid
from loopback.tenancy.access import ProjectScope
from loopback.web.dependencies import PAGE_SIZE, Console, Page, PostedForm, bucket_path, redirect
from loopback.web.following import BUSY, NO_SCRIPT_REFRESH, project_state
from loopback.web.forms import BucketForm, field_errors
from loopback.web.rendering import CONSOLE, Chrome, console_router, render

router = console_router()


@router.get("")
def home(console: Page) -> Response:
    """The first project the caller can open; the switcher in the header reaches the others."""
    chrome: Chrome = console.request.state.chrome
    if chrome.places:
        return redirect(chrome.places[0].path)
    return render(console.request, "welcome.html")


@router.get("/switch")
def switch(to: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Where the header's project picker goes; works as a plain GET form without JavaScript."""
    org, _, project = to.partition("/")
    if not org or not project or "/" in project:
        return redirect(CONSOLE)
    return redirect(f"{CONSOLE}/{quote(org)}/{quote(project)}")


@router.get("/{org}/{project}")
def buckets_page(
    org: str,
    project: str,
    console: Page,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    deleted: bool = False,
) -> Response:
    """The project's buckets with status, placement, usage and last sync."""
    scope = console.scope(org, project, "buckets.read")
    views, next_cursor = console.runtime.buckets.list(
        console.session, scope, PAGE_SIZE, cursor, BucketFilters(superseded=False)
    )
    shown = [v for v in views if deleted or v.bucket.status != BucketStatus.DELETED]
    state, busy = project_state(console, scope)
    return render(
        console.request,
        "buckets.html",
        scope=scope,
        buckets=shown,
        hidden=len(views) - len(shown),
        deleted=deleted,
        next_cursor=next_cursor,
        can_create=console.can(scope, "buckets.create"),
        can_keys=console.can(scope, "credentials.read"),
        busy=frozenset(BUSY),
        refresh=NO_SCRIPT_REFRESH if busy else None,
        poll=f"{CONSOLE}/_api/{org}/{project}/status" if busy else None,
        poll_state=state,
    )


@router.get("/{org}/{project}/buckets")
def buckets_alias(org: str, project: str) -> Response:
    return redirect(f"{CONSOLE}/{quote(org)}/{quote(project)}")


def _create_form(
    console: Console,
    scope: ProjectScope,
    values: BucketForm,
    errors: dict[str, list[str]],
    status: int = 200,
) -> HTMLResponse:
    regions = console.runtime.providers.regions(console.session)
    providers: dict[str, str] = {}
    for choice in regions:
        providers.setdefault(choice.provider, choice.family)
    if not values.provider and regions:
        values = dataclasses.replace(values, provider=regions[0].provider, region=regions[0].code)
    return render(
        console.request,
        "new_bucket.html",
        status=status,
        scope=scope,
        values=values,
        errors=errors,
        providers=providers,
        regions=regions,
        policies=[p.value for p in DeletionPolicy],
        check=f"{CONSOLE}/_api/{scope.organization_slug}/{scope.project_slug}/buckets/check",
    )


@router.get("/{org}/{project}/buckets/new")
def new_bucket_page(org: str, project: str, console: Page) -> Response:
    scope = console.scope(org, project, "buckets.create")
    return _create_form(console, scope, BucketForm(), {})


@router.post("/{org}/{project}/buckets")
def create_bucket(org: str, project: str, form: PostedForm, console: Page) -> Response:
    """Create, then show the bucket's page, which follows it to ready; refusals come back by field."""
    scope = console.scope(org, project, "buckets.create")
    values = BucketForm.of(form)
    try:
        view = console.runtime.buckets.create(
            console.session, scope, values.name, values.provider, values.region, values.deletion_policy
        )
    except Invalid as invalid:
        return _create_form(console, scope, values, field_errors(invalid.problems), invalid.status)
    except Conflict as conflict:
        return _create_form(console, scope, values, {"name": [conflict.detail]}, conflict.status)
    return redirect(bucket_path(scope, view.bucket.id))
