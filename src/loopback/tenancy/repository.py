"""Every query of tenancy rows: projects, members, tokens and audit events of an organization go
through ``readable`` with the caller's scope; lookups of identity (a token by its hash, an
organization by its slug, a user by email) and the bootstrap's are named as such.

Nothing else in ``src/`` selects ``Project``, ``Membership``, ``ApiToken`` or ``AuditEvent``
(tests/architecture/test_scoping.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select

from loopback.kit.scoping import Scope, readable
from loopback.tenancy.models import ApiToken, AuditEvent, Membership, Organization, Project, User


@dataclass(frozen=True)
class InOrganization:
    """A scope naming only an organization, for reads the caller's scope already admitted."""

    organization_id: str


# --- a tenant's reads: always within the caller's organization ----------------------------------


def projects_in(scope: Scope) -> Select[Project]:
    statement = select(Project).where(Project.deleted_at.is_(None)).order_by(Project.slug)
    return readable(statement, Project, InOrganization(scope.organization_id))


def project_in(scope: Scope, slug: str) -> Select[Project]:
    return projects_in(scope).where(Project.slug == slug)


def project_ids_named(scope: Scope, project: str) -> Select[str]:
    """A project's id by its slug (live or deleted) or id, inside the organization only."""
    statement = select(Project.id).where(or_(Project.slug == project, Project.id == project))
    return readable(statement, Project, InOrganization(scope.organization_id))


def members_in(scope: Scope) -> Select[Membership, str]:
    statement = select(Membership, User.email).join(User, User.id == Membership.user_id).order_by(User.email)
    return readable(statement, Membership, InOrganization(scope.organization_id))


def member_in(scope: Scope, member: str) -> Select[Membership, str]:
    """One member by membership id or email."""
    return members_in(scope).where(or_(Membership.id == member, User.email == member))


def owners_in(scope: Scope, owner_role: str) -> Select[int]:
    statement = select(func.count()).select_from(Membership).where(Membership.role == owner_role)
    return readable(statement, Membership, InOrganization(scope.organization_id))


def project_tokens_in(scope: Scope, project: str | None = None) -> Select[ApiToken, str]:
    statement = (
        select(ApiToken, Project.slug)
        .join(Project, Project.id == ApiToken.project_id)
        .where(ApiToken.kind == "project")
        .order_by(ApiToken.id)
    )
    if project is not None:  # a live project's tokens; a slug reused later is another project
        statement = statement.where(Project.slug == project, Project.deleted_at.is_(None))
    return readable(statement, ApiToken, InOrganization(scope.organization_id))


def audit_events_in(scope: Scope) -> Select[AuditEvent]:
    return readable(select(AuditEvent), AuditEvent, InOrganization(scope.organization_id))


def live_tokens_of(scope: Scope, *where: ColumnElement[bool]) -> Select[ApiToken]:
    """Unrevoked tokens of the organization (a project's, with ``where``), to revoke them."""
    statement = select(ApiToken).where(ApiToken.revoked_at.is_(None), *where)
    return readable(statement, ApiToken, InOrganization(scope.organization_id))


# --- a user's own rows --------------------------------------------------------------------------


def organizations_of(user_id: str) -> Select[Organization, str]:
    return (
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id, Organization.deleted_at.is_(None))
        .order_by(Organization.slug)
    )


def personal_tokens_of(user_id: str) -> Select[ApiToken]:
    return (
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.kind == "personal").order_by(ApiToken.id)
    )


def membership_of(organization_id: str, user_id: str) -> Select[Membership]:
    return select(Membership).where(
        Membership.organization_id == organization_id, Membership.user_id == user_id
    )


def reach(
    user_id: str,
    token_organization_id: str | None = None,
    token_project_id: str | None = None,
    org_slug: str | None = None,
    project_slug: str | None = None,
) -> Select[Organization, str, Project]:
    """The caller's live organizations, with the user's role and each live project (one row each).

    A personal token reaches the organizations its user is a member of; a project token (its
    organization and project given) its own organization and project only. Either join may find
    nothing: an organization without a live project, a project token whose user left (no role).
    ``org_slug`` and ``project_slug`` narrow the rows to one project. The console builds its scope
    and its header from this one statement.
    """
    is_member = (Membership.organization_id == Organization.id) & (Membership.user_id == user_id)
    live_project = (Project.organization_id == Organization.id) & Project.deleted_at.is_(None)
    statement = select(Organization, Membership.role, Project)
    if token_organization_id is not None:
        statement = statement.outerjoin(Membership, is_member).where(Organization.id == token_organization_id)
        live_project &= Project.id == token_project_id
    else:
        statement = statement.join(Membership, is_member)
    if project_slug is not None:
        live_project &= Project.slug == project_slug
    statement = statement.outerjoin(Project, live_project).where(Organization.deleted_at.is_(None))
    if org_slug is not None:
        statement = statement.where(Organization.slug == org_slug)
    return statement.order_by(Organization.slug, Project.slug)


# --- identity and the installation's own lookups ------------------------------------------------


def token_by_hash(token_hash: str) -> Select[ApiToken]:
    return select(ApiToken).where(ApiToken.token_hash == token_hash)


def token_and_user_by_hash(token_hash: str) -> Select[ApiToken, User]:
    """A bearer token's row and its user in one statement: authentication's only read."""
    statement = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    return statement.where(ApiToken.token_hash == token_hash)


def token_with_place(token_id: str) -> Select[ApiToken, str | None, str | None]:
    """The caller's own token (by the id authentication found), with a project token's organization
    and project slugs, the project only as one of that organization's; a personal token has neither."""
    in_organization = (Organization.id == ApiToken.organization_id) & Organization.deleted_at.is_(None)
    own_project = (
        (Project.id == ApiToken.project_id)
        & (Project.organization_id == Organization.id)
        & Project.deleted_at.is_(None)
    )
    return (
        select(ApiToken, Organization.slug, Project.slug)
        .outerjoin(Organization, in_organization)
        .outerjoin(Project, own_project)
        .where(ApiToken.id == token_id)
    )


def live_organization(slug: str) -> Select[Organization]:
    return select(Organization).where(Organization.slug == slug, Organization.deleted_at.is_(None))


def live_organization_id(slug: str) -> Select[str]:
    return select(Organization.id).where(Organization.slug == slug, Organization.deleted_at.is_(None))


def user_by_email(email: str) -> Select[User]:
    return select(User).where(User.email == email)


def tokens_named(user_id: str, name: str) -> Select[ApiToken]:
    """A user's live tokens of one name (the bootstrap token)."""
    return select(ApiToken).where(
        ApiToken.user_id == user_id, ApiToken.name == name, ApiToken.revoked_at.is_(None)
    )
