"""What every console route depends on: the signed-in caller, the scope a page acts in, its offers, forms.

A page reads what the caller can reach in one statement (each organization of theirs with the role
of the token's user there and its live projects); the header's project switcher and the page's
scope are both decided from that, with the checks of ``tenancy.access.project_scope`` in the same
order and with the same answers (tests/web/test_service_scope.py holds the two equal for every role, cap,
token kind and permission). So a page spends no statement on its scope and none on its offers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, cast
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from loopback.kit.errors import Forbidden, NotFound, Unauthorized
from loopback.kit.requests import request_id_of
from loopback.kit.services import from_state
from loopback.runtime import Runtime
from loopback.tenancy import repository
from loopback.tenancy.access import OrganizationScope, Principal, ProjectScope, authenticate
from loopback.tenancy.auth import DbSession, client_address, record_refusal
from loopback.tenancy.models import Organization, Project
from loopback.tenancy.permissions import Permission, Role, Scope, allows, allows_capped, permission
from loopback.web.rendering import CONSOLE, Chrome, FormRefused, Place, SignInRequired
from loopback.web.session import SESSION_COOKIE, Visit, read_visit

RuntimeDep = Annotated[Runtime, Depends(from_state("runtime"))]  # the console is above the runtime

# A list page shows at most this many rows; its cursor reaches the next ones.
PAGE_SIZE = 100
MAX_FORM_BYTES = 16 * 1024
# The largest form is the keys page's: a checkbox per bucket (a key reaches at most 128; more
# checked are refused by the service, by field) and a few fields.
MAX_FORM_FIELDS = 200


# --- forms ---------------------------------------------------------------------------------------


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


# --- what the caller can reach, in one statement -------------------------------------------------


@dataclass(frozen=True)
class Reached:
    """An organization the caller may name: the role of the token's user there, and its live projects.

    ``role`` is None for a project token whose user is no longer a member: its project is still
    listed in the header, as before, and every scope in it answers 404.
    """

    organization: Organization
    role: str | None
    projects: tuple[Project, ...]


def read_reach(
    session: Session, principal: Principal, org_slug: str | None = None, project_slug: str | None = None
) -> list[Reached]:
    """What ``tenancy.repository.reach`` finds, by organization, in slug order."""
    found: dict[str, Reached] = {}
    rows: Iterable[tuple[Organization, str | None, Project | None]] = session.execute(
        repository.reach(
            principal.user_id,
            principal.token_organization_id if principal.is_project_token else None,
            principal.token_project_id if principal.is_project_token else None,
            org_slug,
            project_slug,
        )
    )
    for organization, role, project in rows:
        reached = found.get(organization.id) or Reached(organization, role, ())
        projects = (*reached.projects, project) if project is not None else reached.projects
        found[organization.id] = dataclasses.replace(reached, projects=projects)
    return list(found.values())


def token_cap(principal: Principal) -> str | None:
    """The role the token is capped at: a project token without a cap reads only."""
    if principal.is_project_token and principal.role_cap is None:
        return Role.VIEWER
    return principal.role_cap


def _admit(entry: Permission, role: str, cap: str | None) -> None:
    if not allows(role, entry.name):
        raise Forbidden(f"role {role!r} does not grant {entry.name!r}", permission=entry.name)
    if not allows_capped(role, cap, entry.name):
        raise Forbidden(
            f"this token is capped at {cap!r}, which does not grant {entry.name!r}", permission=entry.name
        )


def _reached(reach: Sequence[Reached], principal: Principal, org_slug: str) -> tuple[Reached, str]:
    """The organization of the path and the caller's role there; 404 when it is not the caller's:
    missing, deleted, not a member, or another organization than a project token's."""
    reached = next((r for r in reach if r.organization.slug == org_slug), None)
    if (
        reached is None
        or reached.role is None
        or (principal.is_project_token and principal.token_organization_id != reached.organization.id)
    ):
        raise NotFound(f"organization {org_slug!r} does not exist")
    return reached, reached.role


def resolve_scope(
    reach: Sequence[Reached], principal: Principal, org_slug: str, project_slug: str, entry: Permission
) -> ProjectScope:
    """``project_scope`` decided from what the caller reaches: 404 alike for missing and out of reach.

    The same checks in the same order: the organization (live, the project token's, a member's),
    then the project (live, the project token's), then the role and the token's cap.
    """
    reached, role = _reached(reach, principal, org_slug)
    project = next((p for p in reached.projects if p.slug == project_slug), None)
    if project is None or (principal.is_project_token and principal.token_project_id != project.id):
        raise NotFound(f"project {project_slug!r} does not exist in organization {org_slug!r}")
    _admit(entry, role, token_cap(principal))
    return ProjectScope(
        principal=principal,
        organization_id=reached.organization.id,
        organization_slug=reached.organization.slug,
        role=role,
        project_id=project.id,
        project_slug=project.slug,
    )


def resolve_organization(
    reach: Sequence[Reached], principal: Principal, org_slug: str, entry: Permission
) -> OrganizationScope:
    """``organization_scope`` decided from what the caller reaches, with the same answers: 404 for an
    organization that is not the caller's (a project token's other organizations included), then 403
    for a project token (organization permissions need a personal token), a role or a cap too small."""
    reached, role = _reached(reach, principal, org_slug)
    if principal.is_project_token:
        raise Forbidden(
            f"a project token acts inside its project only; {entry.name!r} is an organization permission",
            permission=entry.name,
        )
    _admit(entry, role, token_cap(principal))
    return OrganizationScope(principal, reached.organization.id, reached.organization.slug, role)


def organizations_granting(reach: Sequence[Reached], principal: Principal, name: str) -> frozenset[str]:
    """The slugs of the organizations where ``resolve_organization`` would admit ``name``."""
    if principal.is_project_token:
        return frozenset()
    return frozenset(
        r.organization.slug
        for r in reach
        if r.role is not None and allows_capped(r.role, token_cap(principal), name)
    )


def places_in(reach: Sequence[Reached], principal: Principal) -> list[Place]:
    """Every project the caller can open; a project token opens its own project only.

    A member's organization shows its projects when the role (and the token's cap) grants
    ``projects.list``, as ``organization_scope`` would admit it.
    """
    found: list[Place] = []
    for reached in reach:
        organization = reached.organization
        if not principal.is_project_token and (
            reached.role is None or not allows_capped(reached.role, token_cap(principal), "projects.list")
        ):
            continue
        found += [Place(organization.slug, organization.name, p.slug, p.name) for p in reached.projects]
    return found


# --- the signed-in caller ------------------------------------------------------------------------


@dataclass
class Console:
    """One request of a signed-in visitor: the services, the caller, and their session."""

    request: Request
    runtime: Runtime
    session: Session
    principal: Principal
    visit: Visit
    reach: list[Reached] | None = field(default=None, repr=False)  # read once per request, by a page

    def scope(self, org: str, project: str, name: str) -> ProjectScope:
        """The project scope for permission ``name``, as the API resolves it (404 or 403)."""
        entry = permission(name)
        reach = self.reach
        if reach is None:  # a route without a header: read only the project of its path
            reach = read_reach(self.session, self.principal, org, project)
        try:
            scope = resolve_scope(reach, self.principal, org, project, entry)
        except Forbidden as error:
            record_refusal(self.request, self.principal, entry, error, org, project)
            self._locate(org, project, None)
            raise
        self._locate(org, project, scope.role)
        return scope

    def organization(self, org: str, name: str) -> OrganizationScope:
        """The organization scope for permission ``name``, as the API resolves it (404 or 403)."""
        entry = permission(name)
        assert entry.scope is Scope.ORGANIZATION, name
        reach = self.reach if self.reach is not None else read_reach(self.session, self.principal, org)
        chrome: Chrome | None = getattr(self.request.state, "chrome", None)
        if chrome is not None:  # no project here: the header says whose page it is
            self.request.state.chrome = dataclasses.replace(chrome, organization=org)
        try:
            scope = resolve_organization(reach, self.principal, org, entry)
        except Forbidden as error:
            record_refusal(self.request, self.principal, entry, error, org)
            raise
        if chrome is not None:
            self.request.state.chrome = dataclasses.replace(chrome, organization=org, role=scope.role)
        return scope

    def can(self, scope: ProjectScope, name: str) -> bool:
        """Whether the same check would admit ``name`` here: what a page offers, it allows.

        Decided from the role ``scope`` was resolved with and the token's cap, as ``project_scope``
        admits a project permission, so that a page's offers cost no SQL statement.
        """
        assert permission(name).scope is Scope.PROJECT, name
        return allows_capped(scope.role, token_cap(self.principal), name)

    def _locate(self, org: str, project: str, role: str | None) -> None:
        chrome: Chrome | None = getattr(self.request.state, "chrome", None)
        if chrome is not None:
            here = next((p for p in chrome.places if p.key == f"{org}/{project}"), None)
            self.request.state.chrome = dataclasses.replace(chrome, here=here, role=role)

    def places(self) -> list[Place]:
        """Every project the caller can open; what it reads also serves this request's scopes."""
        self.reach = read_reach(self.session, self.principal)
        return places_in(self.reach, self.principal)


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
    places = console.places()
    console.request.state.chrome = Chrome(
        email=console.principal.email,
        csrf=console.visit.csrf,
        places=places,
        billing=organizations_granting(console.reach or [], console.principal, "billing.read"),
    )
    return console


Page = Annotated[Console, Depends(with_chrome)]


# --- where pages live ----------------------------------------------------------------------------


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def project_path(scope: ProjectScope) -> str:
    return f"{CONSOLE}/{scope.organization_slug}/{scope.project_slug}"


def bucket_path(scope: ProjectScope, bucket_id: str) -> str:
    return f"{project_path(scope)}/buckets/{bucket_id}"


def keys_path(scope: ProjectScope) -> str:
    return f"{project_path(scope)}/keys"
