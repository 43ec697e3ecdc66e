"""API v3 routes for the caller, its token, organizations, projects, members, tokens and audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from loopback.kit.openapi import problems
from loopback.kit.services import from_state
from loopback.tenancy import audit
from loopback.tenancy.auth import (
    AuditRead,
    DbSession,
    MembersManage,
    MembersRead,
    OrganizationDelete,
    OrganizationRead,
    OrganizationRename,
    OrganizationsCreate,
    PersonalTokens,
    ProjectsCreate,
    ProjectsList,
    ProjectsManage,
    ProjectsRead,
    TokenRead,
    TokensManage,
    TokensRead,
    UserRead,
)
from loopback.tenancy.permissions import Role
from loopback.tenancy.schemas import (
    AuditEventList,
    AuditEventOut,
    CallingTokenOut,
    IssuedTokenOut,
    MemberAdd,
    MemberList,
    MemberOut,
    OrganizationCreate,
    OrganizationList,
    OrganizationOut,
    PersonalTokenCreate,
    ProjectCreate,
    ProjectList,
    ProjectOut,
    ProjectTokenCreate,
    Rename,
    RoleChange,
    TokenList,
    TokenOut,
    UserOut,
)
from loopback.tenancy.service import TenancyService

TenancyDep = Annotated[TenancyService, Depends(from_state("tenancy"))]

router = APIRouter(prefix="/v3")
ORG = "/organizations/{org}"


@router.get("/token", response_model=CallingTokenOut, tags=["tokens"])
def show_calling_token(principal: TokenRead, tenancy: TenancyDep, session: DbSession) -> CallingTokenOut:
    """What this token is: its kind, cap and expiry; a project token's organization and project (the
    only place it acts), or a personal token's user. Any valid token may ask; never the secret."""
    return CallingTokenOut.of_calling(tenancy.calling_token(session, principal))


@router.get("/user", response_model=UserOut, tags=["user"])
def show_user(principal: UserRead, tenancy: TenancyDep, session: DbSession) -> UserOut:
    """Who this token belongs to, and the organizations they are a member of."""
    mine = tenancy.my_organizations(session, principal)
    return UserOut(
        id=principal.user_id,
        email=principal.email,
        operator=principal.is_operator,
        token_id=principal.token_id,
        token_kind=principal.token_kind,
        role_cap=principal.role_cap,
        organizations=[OrganizationOut.of(o, role) for o, role in mine],
    )


@router.get("/user/tokens", response_model=TokenList, tags=["tokens"])
def list_personal_tokens(principal: PersonalTokens, tenancy: TenancyDep, session: DbSession) -> TokenList:
    """Your personal tokens with prefix, last use and expiry; never the tokens themselves."""
    return TokenList(tokens=[TokenOut.of(t) for t in tenancy.personal_tokens(session, principal)])


@router.post(
    "/user/tokens", status_code=status.HTTP_201_CREATED, response_model=IssuedTokenOut, tags=["tokens"]
)
def create_personal_token(
    body: PersonalTokenCreate, principal: PersonalTokens, tenancy: TenancyDep, session: DbSession
) -> IssuedTokenOut:
    """A new personal token, optionally capped at a role and expiring; shown in this response only."""
    issued = tenancy.create_personal_token(session, principal, body.name, body.role_cap, body.expires_in_days)
    return IssuedTokenOut(**TokenOut.of(issued.token).model_dump(), token=issued.secret)


@router.delete("/user/tokens/{token_id}", response_model=TokenOut, tags=["tokens"])
def revoke_personal_token(
    token_id: str, principal: PersonalTokens, tenancy: TenancyDep, session: DbSession
) -> TokenOut:
    """Revoke one of your tokens; it answers 401 from the next request on."""
    return TokenOut.of(tenancy.revoke_personal_token(session, principal, token_id))


@router.get("/organizations", response_model=OrganizationList, tags=["organizations"])
def list_organizations(principal: UserRead, tenancy: TenancyDep, session: DbSession) -> OrganizationList:
    """The organizations you are a member of, with your role in each."""
    mine = tenancy.my_organizations(session, principal)
    return OrganizationList(organizations=[OrganizationOut.of(o, role) for o, role in mine])


@router.post(
    "/organizations",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganizationOut,
    tags=["organizations"],
)
def create_organization(
    body: OrganizationCreate,
    principal: OrganizationsCreate,
    tenancy: TenancyDep,
    session: DbSession,
    response: Response,
) -> OrganizationOut:
    """Create an organization; you become its owner."""
    organization = tenancy.create_organization(session, principal, body.slug, body.name)
    response.headers["Location"] = f"/v3/organizations/{organization.slug}"
    return OrganizationOut.of(organization, Role.OWNER)


@router.get(ORG, response_model=OrganizationOut, tags=["organizations"])
def show_organization(scope: OrganizationRead, tenancy: TenancyDep, session: DbSession) -> OrganizationOut:
    """One organization and your role in it."""
    return OrganizationOut.of(tenancy.organization(session, scope), scope.role)


@router.patch(ORG, response_model=OrganizationOut, tags=["organizations"])
def rename_organization(
    body: Rename, scope: OrganizationRename, tenancy: TenancyDep, session: DbSession
) -> OrganizationOut:
    """Change the display name; the slug in paths stays."""
    return OrganizationOut.of(tenancy.rename_organization(session, scope, body.name), scope.role)


@router.delete(
    ORG,
    response_model=OrganizationOut,
    tags=["organizations"],
    responses=problems(409, s409="the organization still has live buckets"),
)
def delete_organization(
    scope: OrganizationDelete, tenancy: TenancyDep, session: DbSession
) -> OrganizationOut:
    """Delete an organization with no live buckets (409 otherwise); its project tokens stop working."""
    return OrganizationOut.of(tenancy.delete_organization(session, scope), scope.role)


@router.get(ORG + "/projects", response_model=ProjectList, tags=["projects"])
def list_projects(scope: ProjectsList, tenancy: TenancyDep, session: DbSession) -> ProjectList:
    """The organization's projects."""
    projects = tenancy.projects(session, scope)
    return ProjectList(projects=[ProjectOut.of(p, scope.organization_slug) for p in projects])


@router.post(
    ORG + "/projects", status_code=status.HTTP_201_CREATED, response_model=ProjectOut, tags=["projects"]
)
def create_project(
    body: ProjectCreate, scope: ProjectsCreate, tenancy: TenancyDep, session: DbSession, response: Response
) -> ProjectOut:
    """Create a project in the organization."""
    project = tenancy.create_project(session, scope, body.slug, body.name)
    response.headers["Location"] = f"/v3/organizations/{scope.organization_slug}/projects/{project.slug}"
    return ProjectOut.of(project, scope.organization_slug)


@router.get(ORG + "/projects/{project}", response_model=ProjectOut, tags=["projects"])
def show_project(scope: ProjectsRead, tenancy: TenancyDep, session: DbSession) -> ProjectOut:
    """One project."""
    return ProjectOut.of(tenancy.project(session, scope), scope.organization_slug)


@router.patch(ORG + "/projects/{project}", response_model=ProjectOut, tags=["projects"])
def rename_project(
    body: Rename, scope: ProjectsManage, tenancy: TenancyDep, session: DbSession
) -> ProjectOut:
    """Change the project's display name; the slug in paths stays."""
    return ProjectOut.of(tenancy.rename_project(session, scope, body.name), scope.organization_slug)


@router.delete(
    ORG + "/projects/{project}",
    response_model=ProjectOut,
    tags=["projects"],
    responses=problems(409, s409="the project still has live buckets"),
)
def delete_project(scope: ProjectsManage, tenancy: TenancyDep, session: DbSession) -> ProjectOut:
    """Delete a project with no live buckets (409 otherwise); its project tokens stop working."""
    return ProjectOut.of(tenancy.delete_project(session, scope), scope.organization_slug)


@router.get(ORG + "/members", response_model=MemberList, tags=["members"])
def list_members(scope: MembersRead, tenancy: TenancyDep, session: DbSession) -> MemberList:
    """Everyone in the organization, with their role."""
    return MemberList(members=[MemberOut.of(m) for m in tenancy.members(session, scope)])


@router.post(
    ORG + "/members", status_code=status.HTTP_201_CREATED, response_model=MemberOut, tags=["members"]
)
def add_member(body: MemberAdd, scope: MembersManage, tenancy: TenancyDep, session: DbSession) -> MemberOut:
    """Add someone by email with a role; only an owner may add an owner."""
    return MemberOut.of(tenancy.add_member(session, scope, body.email, body.role))


@router.patch(
    ORG + "/members/{member}",
    response_model=MemberOut,
    tags=["members"],
    responses=problems(409, s409="the last owner cannot be demoted"),
)
def change_member_role(
    member: str, body: RoleChange, scope: MembersManage, tenancy: TenancyDep, session: DbSession
) -> MemberOut:
    """Change a member's role (by membership id or email); the last owner cannot be demoted."""
    return MemberOut.of(tenancy.change_role(session, scope, member, body.role))


@router.delete(
    ORG + "/members/{member}",
    response_model=MemberOut,
    tags=["members"],
    responses=problems(409, s409="the last owner cannot be removed"),
)
def remove_member(member: str, scope: MembersManage, tenancy: TenancyDep, session: DbSession) -> MemberOut:
    """Remove a member and revoke their project tokens here; the last owner cannot be removed."""
    return MemberOut.of(tenancy.remove_member(session, scope, member))


@router.get(ORG + "/tokens", response_model=TokenList, tags=["tokens"])
def list_project_tokens(
    scope: TokensRead,
    tenancy: TenancyDep,
    session: DbSession,
    project: Annotated[str | None, Query(max_length=63, description="only this project's tokens")] = None,
) -> TokenList:
    """The organization's project tokens with prefix, last use and expiry."""
    found = tenancy.project_tokens(session, scope, project)
    return TokenList(tokens=[TokenOut.of(token, slug) for token, slug in found])


@router.post(
    ORG + "/tokens", status_code=status.HTTP_201_CREATED, response_model=IssuedTokenOut, tags=["tokens"]
)
def create_project_token(
    body: ProjectTokenCreate, scope: TokensManage, tenancy: TenancyDep, session: DbSession
) -> IssuedTokenOut:
    """A token acting inside one project with at most its role cap; shown in this response only."""
    issued, slug = tenancy.create_project_token(
        session, scope, body.project, body.name, body.role_cap, body.expires_in_days
    )
    return IssuedTokenOut(**TokenOut.of(issued.token, slug).model_dump(), token=issued.secret)


@router.delete(ORG + "/tokens/{token_id}", response_model=TokenOut, tags=["tokens"])
def revoke_project_token(
    token_id: str, scope: TokensManage, tenancy: TenancyDep, session: DbSession
) -> TokenOut:
    """Revoke a project token; it answers 401 from the next request on."""
    token, slug = tenancy.revoke_project_token(session, scope, token_id)
    return TokenOut.of(token, slug)


@router.get(ORG + "/audit-events", response_model=AuditEventList, tags=["audit"])
def list_audit_events(
    scope: AuditRead,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=60, description="e.g. bucket.create")] = None,
    project: Annotated[str | None, Query(max_length=63, description="a project slug or id")] = None,
    outcome: Annotated[str | None, Query(pattern="^(succeeded|denied)$")] = None,
) -> AuditEventList:
    """The organization's audit events, newest first, a page at a time."""
    events, next_cursor = audit.page(session, scope.organization_id, limit, cursor, action, project, outcome)
    return AuditEventList(events=[AuditEventOut.of(e) for e in events], next_cursor=next_cursor)
