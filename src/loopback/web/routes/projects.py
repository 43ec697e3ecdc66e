"""Where the caller can go and what a project holds: home, the project switcher, a project's
buckets, and creating a bucket in it."""

from __future__ import annotations

import dataclasses
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Response
from fastapi.responses import HTMLResponse

from loopback.buckets.models import DeletionPolicy
from loopback.buckets.service import BucketService
from loopback.kit.errors import Conflict, Invalid
from loopback.tenancy.access import ProjectScope
from loopback.tenancy.permissions import allows
from loopback.web.dependencies import Console, Page, PostedForm, bucket_path, redirect
from loopback.web.following import BUSY, NO_SCRIPT_REFRESH, fingerprint
from loopback.web.forms import BucketForm, field_errors
from loopback.web.listing import SORTS, BucketQuery, Totals, current_buckets, list_page
from loopback.web.placements import Placements, failed_check_message
from loopback.web.rendering import CONSOLE, Chrome, Place, console_router, render
from loopback.web.session import last_place, remember_place
from loopback.web.usage_chart import MEASURES, UsageChart

router = console_router()


@router.get("")
def home(console: Page) -> Response:
    """The first project the caller can open; the switcher in the header reaches the others."""
    chrome: Chrome = console.request.state.chrome
    if chrome.places:
        place = _opening_place(console, chrome.places)
        role = next((r.role for r in console.reach or [] if r.organization.slug == place.organization), None)
        if role is not None and not allows(role, "buckets.read") and place.organization in chrome.billing:
            return redirect(f"{CONSOLE}/{quote(place.organization)}/_billing")  # the billing role's page
        return redirect(place.path)
    return render(console.request, "welcome.html")


# At most this many projects are counted for buckets when the console picks where to open.
OPENING_CANDIDATES = 50


def _opening_place(console: Console, places: list[Place]) -> Place:
    """Where the console opens: the project this browser opened last, when the caller still can;
    else the first project holding a bucket; else the first project."""
    last = last_place(console.request)
    remembered = next((p for p in places if p.key == last), None)
    if remembered is not None:
        return remembered
    ids = {
        f"{reached.organization.slug}/{project.slug}": (reached.organization.id, project.id)
        for reached in console.reach or []
        for project in reached.projects
    }
    for place in places[:OPENING_CANDIDATES]:
        if place.key in ids and BucketService.live_buckets(console.session, *ids[place.key]):
            return place
    return places[0]


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
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=20)] = "created",
    order: Annotated[str, Query(max_length=10)] = "asc",
    deleted: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    chart: Annotated[str, Query(max_length=20)] = "size",
    release: Annotated[str, Query(max_length=253)] = "",
) -> Response:
    """The project's buckets with status, placement, usage and last sync: searched by name or
    narrowed to one install release, sorted by a column, with the project's totals and a chart of
    usage per bucket; every choice is a query parameter, so no script is needed."""
    scope = console.scope(org, project, "buckets.read")
    views = current_buckets(console, scope)
    query = BucketQuery.of(q, sort, order, deleted, page, chart, release)
    listed = list_page(views, query)
    state, busy = fingerprint(views)
    response = render(
        console.request,
        "buckets.html",
        scope=scope,
        buckets=listed.shown,
        listed=listed,
        query=query,
        sorts=SORTS,
        totals=Totals.of(views),
        chart=UsageChart.of(views, query.chart),
        measures=MEASURES,
        hidden=listed.hidden,
        deleted=deleted,
        can_create=console.can(scope, "buckets.create"),
        can_keys=console.can(scope, "credentials.read"),
        busy=frozenset(BUSY),
        refresh=NO_SCRIPT_REFRESH if busy else None,
        poll=f"{CONSOLE}/_api/{org}/{project}/status" if busy else None,
        poll_state=state,
    )
    remember_place(console.request, response, f"{scope.organization_slug}/{scope.project_slug}")
    return response


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
    placements = Placements.read(console.runtime, console.session)
    default = placements.default()
    if not values.provider and default is not None:  # never a provider whose last check failed
        values = dataclasses.replace(values, provider=default.provider, region=default.code)
    return render(
        console.request,
        "new_bucket.html",
        status=status,
        scope=scope,
        values=values,
        errors=errors,
        providers=placements.providers,
        regions=placements.regions,
        failed_check=failed_check_message,
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
