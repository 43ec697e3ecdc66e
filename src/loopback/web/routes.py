"""Console pages: thin routes over the same services and permission checks as the API.

Each page resolves its scope with ``project_scope`` and the permission the matching API route
names, so the console can do exactly what the token in its session could do with the API, and a
refused change is audited the same way. Forms post ``application/x-www-form-urlencoded`` with the
session's CSRF token; every change answers with a redirect (303), so a reload never repeats it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, cast
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from loopback.buckets.models import BucketStatus, DeletionPolicy, DesiredState
from loopback.buckets.service import BucketFilters, BucketView
from loopback.credentials.schemas import handover
from loopback.credentials.service import (
    MAX_GRACE_SECONDS,
    CredentialView,
    GrantRequest,
    KeyRequest,
    prefix_problems,
)
from loopback.kit.clock import utcnow
from loopback.kit.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    Invalid,
    LoopbackError,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from loopback.kit.requests import request_id_of
from loopback.kit.services import from_state
from loopback.providers.base import Access
from loopback.runtime import Runtime
from loopback.tenancy.access import (
    FailedAuthLimiter,
    Principal,
    ProjectScope,
    authenticate,
    organization_scope,
    project_scope,
)
from loopback.tenancy.auth import DbSession, client_address, record_refusal
from loopback.tenancy.models import Organization, Project
from loopback.tenancy.permissions import Role, Scope, allows_capped, permission
from loopback.web.rendering import (
    CONSOLE,
    STATIC,
    STATIC_TYPES,
    Chrome,
    ConsoleRoute,
    FormRefused,
    Place,
    SignInRequired,
    render,
    safe_next,
)
from loopback.web.session import (
    SESSION_COOKIE,
    ShownOnce,
    Visit,
    drop_once,
    end_visit,
    hand_over_once,
    has_once,
    read_visit,
    take_once,
    write_visit,
)
from loopback.web.snippets import Snippet, connection_snippets, handover_snippets

RuntimeDep = Annotated[Runtime, Depends(from_state("runtime"))]  # the console is above the runtime

router = APIRouter(
    prefix=CONSOLE, include_in_schema=False, route_class=ConsoleRoute, default_response_class=HTMLResponse
)

PAGE_SIZE = 100
MAX_FORM_BYTES = 16 * 1024
# The largest form is the keys page's: a checkbox per bucket (a key reaches at most 128; more
# checked are refused by the service, by field) and a few fields.
MAX_FORM_FIELDS = 200
BUSY = frozenset({BucketStatus.PENDING, BucketStatus.PROVISIONING, BucketStatus.DELETING})
# Without JavaScript, pages with a bucket on its way reload themselves this often (seconds).
NO_SCRIPT_REFRESH = 3
BUCKET_FIELDS = ("name", "provider", "region", "deletion_policy")
# What a bucket's page may offer; each is shown only when the permission check would admit it.
BUCKET_PAGE_OFFERS = (
    "credentials.read",
    "credentials.issue",
    "credentials.revoke",
    "buckets.delete",
    "usage.refresh",
)
KEYS_PAGE_OFFERS = ("credentials.issue", "credentials.revoke")
# The key forms' fields; a service's problem about anything else is shown above the form.
BUCKET_KEY_FIELDS = ("name", "access", "prefix", "expires_in_days")
KEY_FIELDS = (*BUCKET_KEY_FIELDS, "buckets")
ACCESS_MODES = (
    (Access.READ_WRITE.value, "get, put, delete and list objects"),
    (Access.READ_ONLY.value, "get and list objects; no put, no delete"),
    (Access.WRITE_ONLY.value, "put objects only; no get, no list, no delete"),
)
MAX_EXPIRY_DAYS = 3650
DEFAULT_GRACE_HOURS = 24
MAX_GRACE_HOURS = MAX_GRACE_SECONDS // 3600


# --- plumbing: the session, the caller, forms ----------------------------------------------------


def runtime_of(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


@dataclass(frozen=True)
class Posted:
    """A form this session rendered: its fields, and the session whose CSRF token it carried."""

    fields: dict[str, str]
    visit: Visit
    pairs: tuple[tuple[str, str], ...] = ()  # in order, repeats kept: checkboxes of one name

    def text(self, name: str) -> str:
        return self.fields.get(name, "").strip()

    def every(self, name: str) -> list[str]:
        """Each non-empty value given for ``name``, once each, in the form's order."""
        return list(
            dict.fromkeys(value.strip() for key, value in self.pairs if key == name and value.strip())
        )

    def checked(self, name: str) -> bool:
        return self.fields.get(name, "") in {"on", "yes", "true", "1"}


async def posted_form(request: Request) -> Posted:
    """Parse the form and refuse it (403) unless it carries this session's CSRF token."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused("the console accepts only the forms it renders itself")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormRefused("the form is larger than any form of the console")
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        raise FormRefused("the form has more fields than any form of the console") from None
    fields = dict(pairs)
    visit = read_visit(runtime_of(request).secrets, request)
    if visit is None or not visit.accepts(fields.get("csrf")):
        raise FormRefused(
            "this form did not come from your console session, or that session ended; "
            "reload the page and try again"
        )
    return Posted(fields, visit, tuple(pairs))


PostedForm = Annotated[Posted, Depends(posted_form)]


@dataclass
class Console:
    """One request of a signed-in visitor: the services, the caller, and their session."""

    request: Request
    runtime: Runtime
    session: Session
    principal: Principal
    visit: Visit

    def scope(self, org: str, project: str, name: str) -> ProjectScope:
        """The project scope for permission ``name``, as the API resolves it (404 or 403)."""
        entry = permission(name)
        try:
            scope = project_scope(self.session, self.principal, org, project, entry)
        except Forbidden as error:
            record_refusal(self.request, self.principal, entry, error, org, project)
            self._locate(org, project, None)
            raise
        self._locate(org, project, scope.role)
        return scope

    def can(self, scope: ProjectScope, name: str) -> bool:
        """Whether the same check would admit ``name`` here: what a page offers, it allows.

        Decided from the role ``scope`` was resolved with and the token's cap, as ``project_scope``
        admits a project permission, so that a page's offers cost no SQL statement.
        """
        assert permission(name).scope is Scope.PROJECT, name
        cap = self.principal.role_cap
        if self.principal.is_project_token and cap is None:
            cap = Role.VIEWER  # as tenancy.access._reach: a project token without a cap reads only
        return allows_capped(scope.role, cap, name)

    def _locate(self, org: str, project: str, role: str | None) -> None:
        chrome: Chrome | None = getattr(self.request.state, "chrome", None)
        if chrome is not None:
            here = next((p for p in chrome.places if p.key == f"{org}/{project}"), None)
            self.request.state.chrome = dataclasses.replace(chrome, here=here, role=role)

    def places(self) -> list[Place]:
        """Every project the caller can open; a project token opens its own project only."""
        if self.principal.is_project_token:
            org = self.session.get(Organization, self.principal.token_organization_id)
            project = self.session.get(Project, self.principal.token_project_id)
            if org is None or project is None or org.deleted_at or project.deleted_at:
                return []
            return [Place(org.slug, org.name, project.slug, project.name)]
        found: list[Place] = []
        for organization, _role in self.runtime.tenancy.my_organizations(self.session, self.principal):
            try:
                scope = organization_scope(
                    self.session, self.principal, organization.slug, permission("projects.list")
                )
            except LoopbackError:
                continue
            found += [
                Place(organization.slug, organization.name, p.slug, p.name)
                for p in self.runtime.tenancy.projects(self.session, scope)
            ]
        return found


def signed_in(request: Request, runtime: RuntimeDep, session: DbSession) -> Console:
    """The caller behind the session's token, authenticated on every request as the API does."""
    visit = read_visit(runtime.secrets, request)
    if visit is None or visit.token is None:
        raise SignInRequired(ended=visit is None and SESSION_COOKIE in request.cookies)
    try:
        principal = authenticate(session, visit.token, request_id_of(request.scope), client_address(request))
    except Unauthorized:
        raise SignInRequired(ended=True) from None
    return Console(request, runtime, session, principal, visit)


SignedIn = Annotated[Console, Depends(signed_in)]


def with_chrome(console: SignedIn) -> Console:
    """``signed_in`` for pages: also who and where, for the header and its project switcher."""
    console.request.state.chrome = Chrome(
        email=console.principal.email, csrf=console.visit.csrf, places=console.places()
    )
    return console


Page = Annotated[Console, Depends(with_chrome)]


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def project_path(scope: ProjectScope) -> str:
    return f"{CONSOLE}/{scope.organization_slug}/{scope.project_slug}"


def bucket_path(scope: ProjectScope, bucket_id: str) -> str:
    return f"{project_path(scope)}/buckets/{bucket_id}"


def field_errors(problems: Sequence[FieldProblem]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        field = problem.field if problem.field in BUCKET_FIELDS else "form"
        errors.setdefault(field, []).append(problem.detail)
    return errors


@dataclass(frozen=True)
class KeyForm:
    """What a key form holds, kept as typed so a refused form comes back filled in."""

    name: str = ""
    access: str = Access.READ_WRITE.value
    prefix: str = ""
    expires_in_days: str = ""
    buckets: tuple[str, ...] = ()

    @classmethod
    def of(cls, form: Posted) -> KeyForm:
        return cls(
            form.text("name"),
            form.text("access") or Access.READ_WRITE.value,
            form.text("prefix"),
            form.text("expires_in_days"),
            tuple(form.every("bucket")),
        )

    def days(self) -> int | None:
        try:
            days = int(self.expires_in_days)
        except ValueError:
            return None
        return days if 1 <= days <= MAX_EXPIRY_DAYS else None

    def problems(self) -> list[FieldProblem]:
        """What is wrong with the form itself, before any record is read; the service checks the rest."""
        problems: list[FieldProblem] = []
        if len(self.name) > 63:
            problems.append(FieldProblem("name", "a name is 1 to 63 characters"))
        if self.access not in {a.value for a in Access}:
            problems.append(FieldProblem("access", "one of read-write, read-only, write-only"))
        if self.prefix:
            problems += [FieldProblem("prefix", problem) for problem in prefix_problems(self.prefix)]
        if self.expires_in_days and self.days() is None:
            problems.append(
                FieldProblem("expires_in_days", f"a whole number of days from 1 to {MAX_EXPIRY_DAYS}")
            )
        return problems

    def request(self, bucket_ids: Sequence[str], grant_field: str) -> KeyRequest:
        days = self.days()
        return KeyRequest(
            grants=[GrantRequest(bucket_id, self.access, self.prefix or None) for bucket_id in bucket_ids],
            name=self.name or None,
            expires_at=utcnow() + timedelta(days=days) if days else None,
            grant_field=grant_field,
        )


def key_errors(problems: Sequence[FieldProblem], fields: Sequence[str] = KEY_FIELDS) -> dict[str, list[str]]:
    """A key form's problems by the field that shows them: ``grants.3.prefix`` is the one prefix."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        last = problem.field.rpartition(".")[2]
        if problem.field == "expires_at":
            name = "expires_in_days"
        elif last == "bucket_id" or problem.field == "grants":
            name = "buckets"
        else:
            name = last
        shown = errors.setdefault(name if name in fields else "form", [])
        if problem.detail not in shown:  # one prefix over many buckets: its problem once
            shown.append(problem.detail)
    return errors


def _issue(
    console: Console, scope: ProjectScope, values: KeyForm, bucket_ids: Sequence[str], grant_field: str
) -> tuple[CredentialView, str]:
    problems = values.problems()
    if any(problem.field == "expires_in_days" for problem in problems):
        raise Invalid(problems)  # the one field the service never sees as typed; it checks the rest
    return console.runtime.credentials.issue_and_commit(
        console.session, scope, values.request(bucket_ids, grant_field)
    )


def _hand_over(
    console: Console, form: Posted, response: Response, place: str, issued: CredentialView, secret: str
) -> None:
    """Keep the new secret for the next view of ``place`` only (sealed in a short, small cookie)."""
    credential = issued.credential
    shown = ShownOnce(place, credential.id, credential.access_key_id, secret)
    hand_over_once(console.runtime.secrets, console.request, response, form.visit, shown)


def _handover_formats(
    console: Console, scope: ProjectScope, shown: ShownOnce | None, listed: Sequence[CredentialView]
) -> list[Snippet]:
    """The shown key's files for each tool, from its record: the page lists it already, mostly."""
    if shown is None:
        return []
    view = next((v for v in listed if v.credential.id == shown.credential_id), None)
    if view is None:
        try:
            view = console.runtime.credentials.get(console.session, scope, shown.credential_id)
        except NotFound:
            return []
    if view.credential.access_key_id != shown.access_key_id:
        return []
    try:
        return handover_snippets(handover(view, shown.secret))
    except ValueError:  # no endpoint or no bucket left to name: the secret alone is shown
        return []


# --- the console's own files, signing in and out ------------------------------------------------------


@router.get("/_static/{name}")
def static_file(name: str) -> Response:
    """The console's own stylesheet and script; nothing is loaded from anywhere else."""
    if name not in STATIC_TYPES:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(
        STATIC / name, media_type=STATIC_TYPES[name], headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("")
def home(console: Page) -> Response:
    """The first project the caller can open; the switcher in the header reaches the others."""
    chrome: Chrome = console.request.state.chrome
    if chrome.places:
        return redirect(chrome.places[0].path)
    return render(console.request, "welcome.html")


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
    """Check the token as the API would, then keep it sealed in the session cookie."""
    token, target = form.text("token"), safe_next(form.text("next"))
    limiter = cast(FailedAuthLimiter, request.app.state.auth_limiter)
    address = client_address(request)
    try:
        limiter.check(address)
        if not token:
            raise Invalid.field("token", "paste an API token; it starts with lbk_")
        authenticate(session, token, request_id_of(request.scope), address)
    except (Unauthorized, Invalid, TooManyRequests) as error:
        if isinstance(error, Unauthorized):
            limiter.failed(address)
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


@router.get("/switch")
def switch(to: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Where the header's project picker goes; works as a plain GET form without JavaScript."""
    org, _, project = to.partition("/")
    if not org or not project or "/" in project:
        return redirect(CONSOLE)
    return redirect(f"{CONSOLE}/{quote(org)}/{quote(project)}")


# --- what the console's script asks for --------------------------------------------------------------


def _project_state(console: Console, scope: ProjectScope) -> tuple[str, bool]:
    """A fingerprint of every current bucket's status, and whether one is still on its way."""
    parts: list[str] = []
    busy = False
    cursor: str | None = None
    while True:
        views, cursor = console.runtime.buckets.list(
            console.session, scope, 200, cursor, BucketFilters(superseded=False)
        )
        for view in views:
            parts.append(f"{view.bucket.id}:{view.bucket.status}")
            busy = busy or view.bucket.status in BUSY
        if cursor is None:
            return ",".join(parts), busy


def _bucket_state(view: BucketView) -> str:
    bucket = view.bucket
    return f"{bucket.status}:{bucket.attempts}:{bucket.status_reason or ''}"


@router.get("/_api/{org}/{project}/status")
def project_status(org: str, project: str, console: SignedIn) -> JSONResponse:
    """Polled by the bucket list while a bucket is on its way: a change reloads the list."""
    state, busy = _project_state(console, console.scope(org, project, "buckets.read"))
    return JSONResponse({"state": state, "busy": busy})


@router.get("/_api/{org}/{project}/buckets/{bucket_id}/status")
def bucket_status(org: str, project: str, bucket_id: str, console: SignedIn) -> JSONResponse:
    """Polled by a bucket's page while it is on its way: a change reloads the page's content."""
    scope = console.scope(org, project, "buckets.read")
    view = console.runtime.buckets.get(console.session, scope, bucket_id)
    return JSONResponse(
        {
            "state": _bucket_state(view),
            "busy": view.bucket.status in BUSY,
            "status": view.bucket.status,
            "reason": view.bucket.status_reason,
        }
    )


@router.post("/_api/{org}/{project}/buckets/check")
def check_bucket(org: str, project: str, form: PostedForm, console: SignedIn) -> JSONResponse:
    """Validation as you type: every problem of the create form, by field, recording nothing."""
    console.scope(org, project, "buckets.create")  # admits the caller; names are unique per provider
    try:
        _, region = console.runtime.buckets.check_new(
            console.session,
            form.text("name"),
            form.text("provider"),
            form.text("region"),
            form.text("deletion_policy") or DeletionPolicy.DELETE,
        )
    except Invalid as invalid:
        return JSONResponse({"valid": False, "errors": field_errors(invalid.problems), "endpoint": None})
    return JSONResponse({"valid": True, "errors": {}, "endpoint": region.endpoint})


@router.post("/_api/{org}/{project}/keys/check")
def check_key(org: str, project: str, form: PostedForm, console: SignedIn) -> JSONResponse:
    """Validation as you type for the key forms: what the form alone shows wrong, by field."""
    console.scope(org, project, "credentials.issue")
    errors = key_errors(KeyForm.of(form).problems())
    return JSONResponse({"valid": not errors, "errors": errors})


# --- buckets ---------------------------------------------------------------------------------------


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
    state, busy = _project_state(console, scope)
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


@dataclass(frozen=True)
class BucketForm:
    """What the create form holds, kept as typed so a refused form comes back filled in."""

    name: str = ""
    provider: str = ""
    region: str = ""
    deletion_policy: str = DeletionPolicy.DELETE

    @classmethod
    def of(cls, form: Posted) -> BucketForm:
        return cls(
            form.text("name"),
            form.text("provider"),
            form.text("region"),
            form.text("deletion_policy") or DeletionPolicy.DELETE,
        )


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
        runtime.credentials.page(session, scope, 500, bucket_id=view.bucket.id)[0]
        if allowed["credentials.read"]
        else []
    )
    shown = None if errors else take_once(runtime.secrets, request, console.visit, view.bucket.id)
    usable = [key for key in keys if key.status in ("active", "expiring")]
    access_key_id = (
        shown.access_key_id if shown else (usable[-1].credential.access_key_id if usable else None)
    )
    busy = view.bucket.status in BUSY
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
        events=list(reversed(runtime.buckets.events(session, scope, view.bucket.id))),
        keys=keys,
        shown=shown,
        formats=_handover_formats(console, scope, shown, keys),
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
        poll_state=_bucket_state(view),
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
        issued, secret = _issue(console, scope, values, [bucket_id], grant_field="")
    except Invalid as invalid:  # a bucket that is not ready is a Conflict: its own page says why
        errors = key_errors(invalid.problems, BUCKET_KEY_FIELDS)
        return _bucket_page(console, scope, bucket_id, values=values, errors=errors, status=invalid.status)
    response = redirect(bucket_path(scope, bucket_id) + "#keys")
    _hand_over(console, form, response, bucket_id, issued, secret)
    return response


@router.post("/{org}/{project}/buckets/{bucket_id}/credentials/{credential_id}/revoke")
def revoke_key(
    org: str, project: str, bucket_id: str, credential_id: str, form: PostedForm, console: Page
) -> Response:
    scope = console.scope(org, project, "credentials.revoke")
    console.runtime.buckets.get(console.session, scope, bucket_id)
    console.runtime.credentials.revoke(console.session, scope, credential_id, bucket_id)
    return redirect(f"{bucket_path(scope, bucket_id)}?revoked={quote(credential_id)}#keys")


# --- a project's keys ---------------------------------------------------------------------------------


def keys_path(scope: ProjectScope) -> str:
    return f"{project_path(scope)}/keys"


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


def grace_hours(typed: str) -> float | None:
    """Hours the old key of a rotation keeps working, as typed (``24``, ``0.5``); None when not."""
    try:
        hours = float(typed)
    except ValueError:
        return None
    return hours if math.isfinite(hours) and 0 <= hours <= MAX_GRACE_HOURS else None


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
        formats=_handover_formats(console, scope, shown, keys),
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
        issued, secret = _issue(console, scope, values, values.buckets, grant_field="grants")
    except (Invalid, Conflict) as refused:  # Conflict: a checked bucket stopped being ready
        problems = (
            refused.problems if isinstance(refused, Invalid) else [FieldProblem("grants", refused.detail)]
        )
        return _keys_page(console, scope, values=values, errors=key_errors(problems), status=refused.status)
    response = redirect(keys_path(scope) + "#new-key")
    _hand_over(console, form, response, keys_place(scope), issued, secret)
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
    _hand_over(console, form, response, keys_place(scope), issued, secret)
    return response


@router.post("/{org}/{project}/keys/{credential_id}/revoke")
def revoke_project_key(
    org: str, project: str, credential_id: str, form: PostedForm, console: Page
) -> Response:
    """Revoke a key at the provider; it stops working at once, for every bucket it reaches."""
    scope = console.scope(org, project, "credentials.revoke")
    console.runtime.credentials.revoke(console.session, scope, credential_id)
    return redirect(f"{keys_path(scope)}?revoked={quote(credential_id)}#key-{quote(credential_id)}")


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
