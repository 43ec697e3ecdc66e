"""Tenancy services: organizations, projects, members, tokens, and the first-start bootstrap.

Every change records its audit event in the same transaction. Reads and writes filter by the
organization resolved for the caller (``OrganizationScope``), never by an id from the path alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import Conflict, FieldProblem, Forbidden, Invalid, NotFound
from loopback.kit.files import write_private
from loopback.kit.ids import new_id
from loopback.kit.settings import Settings
from loopback.tenancy import audit, repository
from loopback.tenancy.access import (
    OrganizationScope,
    Principal,
    ProjectScope,
    generate_token,
    hash_token,
    token_prefix,
)
from loopback.tenancy.models import ApiToken, Membership, Organization, Project, User
from loopback.tenancy.permissions import TENANT_ROLES, Role, allows_capped, within

BOOTSTRAP_TOKEN_NAME = "bootstrap"
BOOTSTRAP_TOKEN_FILE = "bootstrap-token"
OPERATOR_EMAIL = "operator@loopback.local"
Named = TypeVar("Named", Organization, Project)
SLUG = re.compile(r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def slug_problems(field: str, slug: str) -> list[FieldProblem]:
    if SLUG.match(slug) and "--" not in slug:
        return []
    return [
        FieldProblem(
            field,
            "3 to 63 lowercase letters, digits and single hyphens, starting with a letter "
            "and ending with a letter or digit",
        )
    ]


def role_problems(field: str, role: str | None, *, optional: bool = False) -> list[FieldProblem]:
    if role is None and optional:
        return []
    if role in {r.value for r in TENANT_ROLES}:
        return []
    return [FieldProblem(field, "one of " + ", ".join(r.value for r in TENANT_ROLES))]


def _denied(
    session: Session,
    principal: Principal,
    permission: str,
    detail: str,
    *,
    organization_id: str | None = None,
    project_id: str | None = None,
    target: str | None = None,
) -> Forbidden:
    """A refusal the service decides (beyond the permission table), recorded as a ``denied`` event.

    Nothing of the refused change is pending when this is called; the event commits on its own,
    as the permission check records its refusals, and the caller raises the returned error.
    """
    session.rollback()
    audit.record(
        session,
        principal,
        permission,
        organization_id=organization_id,
        project_id=project_id,
        target=target,
        outcome=audit.DENIED,
        detail=detail,
    )
    session.commit()
    return Forbidden(detail, permission=permission)


@dataclass(frozen=True)
class MemberView:
    membership: Membership
    email: str


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


LiveResources = Callable[[Session, str, str | None], int]
"""How many live resources (buckets) an organization, or one of its projects, still holds.

Buckets sit above tenancy, so tenancy asks through this instead of reading their rows."""


def _issuing_only(session: Session, organization_id: str, project_id: str | None) -> int:
    raise AssertionError("a TenancyService made only to issue a token deleted something")


class TenancyService:
    def __init__(self, live_resources: LiveResources) -> None:
        self._live_resources = live_resources

    # --- organizations -----------------------------------------------------------------------

    def my_organizations(self, session: Session, principal: Principal) -> list[tuple[Organization, str]]:
        statement = repository.organizations_of(principal.user_id)
        return [(organization, role) for organization, role in session.execute(statement)]

    def create_organization(
        self, session: Session, principal: Principal, slug: str, name: str | None
    ) -> Organization:
        """A new organization with the caller as its owner."""
        if problems := slug_problems("slug", slug):
            raise Invalid(problems)
        if self._live_organization(session, slug) is not None:
            raise Conflict(f"an organization {slug!r} exists already; choose another slug")
        organization = Organization(id=new_id("org"), slug=slug, name=name or slug)
        session.add(organization)
        session.flush()
        session.add(
            Membership(
                id=new_id("mem"), organization_id=organization.id, user_id=principal.user_id, role=Role.OWNER
            )
        )
        audit.record(
            session, principal, "organization.create", organization_id=organization.id, target=organization.id
        )
        self._commit_unique(session, f"an organization {slug!r} exists already; choose another slug")
        return organization

    def organization(self, session: Session, scope: OrganizationScope) -> Organization:
        organization = session.get(Organization, scope.organization_id)
        assert organization is not None  # the scope was resolved from it in this request
        return organization

    def rename_organization(self, session: Session, scope: OrganizationScope, name: str) -> Organization:
        return self._rename(session, scope, self.organization(session, scope), name, "organization.rename")

    def delete_organization(self, session: Session, scope: OrganizationScope) -> Organization:
        """Delete an organization that has no live buckets; its projects and project tokens go too."""
        organization = self.organization(session, scope)
        self._refuse_live_buckets(session, f"organization {organization.slug!r}", organization.id, None)
        now = utcnow()
        organization.deleted_at = now
        for project in session.scalars(repository.projects_in(scope)):
            project.deleted_at = now
        self._revoke_tokens(session, scope)
        audit.record_in(session, scope, "organization.delete", organization.id)
        session.commit()
        return organization

    # --- projects ----------------------------------------------------------------------------

    def projects(self, session: Session, scope: OrganizationScope) -> list[Project]:
        return list(session.scalars(repository.projects_in(scope)))

    def create_project(
        self, session: Session, scope: OrganizationScope, slug: str, name: str | None
    ) -> Project:
        if problems := slug_problems("slug", slug):
            raise Invalid(problems)
        message = f"a project {slug!r} exists already in {scope.organization_slug!r}; choose another slug"
        if any(project.slug == slug for project in self.projects(session, scope)):
            raise Conflict(message)
        project = Project(
            id=new_id("prj"), organization_id=scope.organization_id, slug=slug, name=name or slug
        )
        session.add(project)
        audit.record(
            session,
            scope.principal,
            "project.create",
            organization_id=scope.organization_id,
            project_id=project.id,
            target=project.id,
        )
        self._commit_unique(session, message)
        return project

    def project(self, session: Session, scope: ProjectScope) -> Project:
        project = session.get(Project, scope.project_id)
        assert project is not None
        return project

    def rename_project(self, session: Session, scope: ProjectScope, name: str) -> Project:
        return self._rename(session, scope, self.project(session, scope), name, "project.rename")

    def delete_project(self, session: Session, scope: ProjectScope) -> Project:
        project = self.project(session, scope)
        self._refuse_live_buckets(session, f"project {project.slug!r}", project.organization_id, project.id)
        project.deleted_at = utcnow()
        self._revoke_tokens(session, scope, ApiToken.project_id == project.id)
        audit.record_in(session, scope, "project.delete", project.id)
        session.commit()
        return project

    # --- members -----------------------------------------------------------------------------

    def members(self, session: Session, scope: OrganizationScope) -> list[MemberView]:
        statement = repository.members_in(scope)
        return [MemberView(membership, email) for membership, email in session.execute(statement)]

    def member(self, session: Session, scope: OrganizationScope, member: str) -> MemberView:
        """A member by membership id or by email, inside this organization only."""
        key = member.strip().lower()
        row = session.execute(
            repository.member_in(scope, member if member.startswith("mem_") else key)
        ).first()
        if row is None:
            raise NotFound(f"{member!r} is not a member of {scope.organization_slug!r}")
        return MemberView(row[0], row[1])

    def add_member(self, session: Session, scope: OrganizationScope, email: str, role: str) -> MemberView:
        email = email.strip().lower()
        problems = role_problems("role", role)
        if not EMAIL.match(email):
            problems.insert(0, FieldProblem("email", "an email address such as ada@example.com"))
        if problems:
            raise Invalid(problems)
        self._check_owner_change(session, scope, email, role)
        user = session.scalar(repository.user_by_email(email))
        if user is None:
            user = User(id=new_id("usr"), email=email)
            session.add(user)
            session.flush()
        elif any(m.membership.user_id == user.id for m in self.members(session, scope)):
            raise Conflict(f"{email} is a member of {scope.organization_slug!r} already; change their role")
        membership = Membership(
            id=new_id("mem"), organization_id=scope.organization_id, user_id=user.id, role=role
        )
        session.add(membership)
        audit.record_in(session, scope, "member.add", membership.id, f"{email} as {role}")
        self._commit_unique(session, f"{email} is a member of {scope.organization_slug!r} already")
        return MemberView(membership, email)

    def change_role(self, session: Session, scope: OrganizationScope, member: str, role: str) -> MemberView:
        if problems := role_problems("role", role):
            raise Invalid(problems)
        found = self.member(session, scope, member)
        before = found.membership.role
        if before == role:
            return found
        self._check_owner_change(session, scope, found.membership.id, role, before)
        self._lock_organization(session, scope)
        found.membership.role = role
        session.flush()
        self._keep_an_owner(session, scope, "demoted")
        audit.record_in(session, scope, "member.role_change", found.membership.id, f"{before} -> {role}")
        session.commit()
        return found

    def remove_member(self, session: Session, scope: OrganizationScope, member: str) -> MemberView:
        found = self.member(session, scope, member)
        self._check_owner_change(session, scope, found.membership.id, found.membership.role)
        self._lock_organization(session, scope)
        session.delete(found.membership)
        session.flush()
        self._keep_an_owner(session, scope, "removed")
        self._revoke_tokens(session, scope, ApiToken.user_id == found.membership.user_id)
        audit.record_in(session, scope, "member.remove", found.membership.id, found.email)
        session.commit()
        return found

    def _check_owner_change(
        self, session: Session, scope: OrganizationScope, target: str, *roles: str
    ) -> None:
        if Role.OWNER in roles and not allows_capped(scope.role, scope.principal.role_cap, "members.owners"):
            raise _denied(
                session,
                scope.principal,
                "members.owners",
                "only an owner grants, changes or removes the owner role",
                organization_id=scope.organization_id,
                target=target,
            )

    def _lock_organization(self, session: Session, scope: OrganizationScope) -> None:
        # Two owners demoting each other at once must not leave none: PostgreSQL serializes on this row.
        session.get(Organization, scope.organization_id, with_for_update=True)

    def _keep_an_owner(self, session: Session, scope: OrganizationScope, verb: str) -> None:
        owners = session.scalar(repository.owners_in(scope, Role.OWNER))
        if not owners:
            session.rollback()
            raise Conflict(f"the last owner cannot be {verb}; make another member owner first")

    # --- tokens ------------------------------------------------------------------------------

    def personal_tokens(self, session: Session, principal: Principal) -> list[ApiToken]:
        return list(session.scalars(repository.personal_tokens_of(principal.user_id)))

    def create_personal_token(
        self,
        session: Session,
        principal: Principal,
        name: str,
        role_cap: str | None,
        expires_in_days: int | None,
    ) -> IssuedToken:
        """A new token for the caller, never reaching further than the token that asks for it."""
        if problems := role_problems("role_cap", role_cap, optional=True):
            raise Invalid(problems)
        if principal.role_cap is not None and (role_cap is None or not within(role_cap, principal.role_cap)):
            raise _denied(
                session,
                principal,
                "tokens.personal",
                f"this token is capped at {principal.role_cap!r}; a token it creates needs a cap within it",
                target=f"personal token {name!r}",
            )
        issued = self._issue(session, principal.user_id, "personal", name, role_cap, expires_in_days)
        audit.record(session, principal, "token.create", target=issued.token.id, detail=f"personal {name!r}")
        session.commit()
        return issued

    def revoke_personal_token(self, session: Session, principal: Principal, token_id: str) -> ApiToken:
        token = session.scalar(
            repository.personal_tokens_of(principal.user_id).where(ApiToken.id == token_id)
        )
        if token is None:
            raise NotFound(f"token {token_id} does not exist")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            audit.record(session, principal, "token.revoke", target=token.id)
            session.commit()
        return token

    def project_tokens(
        self, session: Session, scope: OrganizationScope, project: str | None = None
    ) -> list[tuple[ApiToken, str]]:
        statement = repository.project_tokens_in(scope, project)
        return [(token, slug) for token, slug in session.execute(statement)]

    def create_project_token(
        self,
        session: Session,
        scope: OrganizationScope,
        project: str,
        name: str,
        role_cap: str,
        expires_in_days: int | None,
    ) -> tuple[IssuedToken, str]:
        """A token that acts inside one project with at most ``role_cap``, which the creator must hold."""
        problems = role_problems("role_cap", role_cap)
        target = next((p for p in self.projects(session, scope) if p.slug == project), None)
        if target is None:
            problems.insert(
                0, FieldProblem("project", f"no project {project!r} in {scope.organization_slug!r}")
            )
        if problems:
            raise Invalid(problems)
        assert target is not None
        effective = scope.principal.role_cap or scope.role
        if not within(role_cap, scope.role) or not within(role_cap, effective):
            raise _denied(
                session,
                scope.principal,
                "tokens.manage",
                f"a token capped at {role_cap!r} reaches further than your role {effective!r}",
                organization_id=scope.organization_id,
                project_id=target.id,
                target=f"project token {name!r}",
            )
        issued = self._issue(
            session, scope.principal.user_id, "project", name, role_cap, expires_in_days, target
        )
        audit.record(
            session,
            scope.principal,
            "token.create",
            organization_id=scope.organization_id,
            project_id=target.id,
            target=issued.token.id,
            detail=f"project token {name!r} capped at {role_cap}",
        )
        session.commit()
        return issued, target.slug

    def revoke_project_token(
        self, session: Session, scope: OrganizationScope, token_id: str
    ) -> tuple[ApiToken, str]:
        found = next(((t, s) for t, s in self.project_tokens(session, scope) if t.id == token_id), None)
        if found is None:
            raise NotFound(f"token {token_id} does not exist in {scope.organization_slug!r}")
        token, _ = found
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            audit.record(
                session,
                scope.principal,
                "token.revoke",
                organization_id=scope.organization_id,
                project_id=token.project_id,
                target=token.id,
            )
            session.commit()
        return found

    def _issue(
        self,
        session: Session,
        user_id: str,
        kind: str,
        name: str,
        role_cap: str | None,
        expires_in_days: int | None,
        project: Project | None = None,
    ) -> IssuedToken:
        secret = generate_token()
        token = ApiToken(
            id=new_id("tok"),
            user_id=user_id,
            kind=kind,
            organization_id=project.organization_id if project else None,
            project_id=project.id if project else None,
            role_cap=role_cap,
            name=name,
            prefix=token_prefix(secret),
            token_hash=hash_token(secret),
            expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        session.add(token)
        return IssuedToken(token, secret)

    # --- shared ------------------------------------------------------------------------------

    def _live_organization(self, session: Session, slug: str) -> Organization | None:
        return session.scalar(repository.live_organization(slug))

    def _refuse_live_buckets(
        self, session: Session, what: str, organization_id: str, project_id: str | None
    ) -> None:
        live = self._live_resources(session, organization_id, project_id)
        if live:
            noun = "bucket" if live == 1 else "buckets"
            raise Conflict(f"{what} still has {live} live {noun}; delete them first")

    def _rename(
        self, session: Session, scope: OrganizationScope, record: Named, name: str, action: str
    ) -> Named:
        before = record.name
        record.name = name
        audit.record_in(session, scope, action, record.id, f"{before!r} -> {name!r}")
        session.commit()
        return record

    def _revoke_tokens(self, session: Session, scope: OrganizationScope, *where: ColumnElement[bool]) -> None:
        now = utcnow()
        for token in session.scalars(repository.live_tokens_of(scope, *where)):
            token.revoked_at = now

    def _commit_unique(self, session: Session, message: str) -> None:
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise Conflict(message) from None


@dataclass(frozen=True)
class BootstrapResult:
    """What the first start made; ``token`` is set only when a token was generated right now."""

    organization: str
    project: str
    token: str | None
    token_file: Path | None


def bootstrap(session: Session, settings: Settings) -> BootstrapResult:
    """Create the operator, organization ``demo``, project ``default`` and the operator's token, once."""
    operator = session.scalar(repository.user_by_email(OPERATOR_EMAIL))
    if operator is None:
        operator = User(id=new_id("usr"), email=OPERATOR_EMAIL, is_operator=True)
        session.add(operator)
    organization = session.scalar(repository.live_organization("demo"))
    if organization is None:
        organization = Organization(id=new_id("org"), slug="demo", name="Demo")
        session.add(organization)
    project = session.scalar(repository.project_in(repository.InOrganization(organization.id), "default"))
    if project is None:
        project = Project(id=new_id("prj"), organization_id=organization.id, slug="default", name="Default")
        session.add(project)
    membership = session.scalar(repository.membership_of(organization.id, operator.id))
    if membership is None:
        session.add(
            Membership(
                id=new_id("mem"),
                organization_id=organization.id,
                user_id=operator.id,
                role=Role.OWNER,
            )
        )
    session.flush()

    live = session.scalars(repository.tokens_named(operator.id, BOOTSTRAP_TOKEN_NAME)).all()
    generated: str | None = None
    token_file: Path | None = None
    if settings.bootstrap_token is not None:
        wanted = hash_token(settings.bootstrap_token.get_secret_value())
        for token in live:  # the environment is authoritative: an older bootstrap token stops working
            if token.token_hash != wanted:
                token.revoked_at = utcnow()
        if not any(token.token_hash == wanted for token in live):
            _add_bootstrap_token(session, operator.id, settings.bootstrap_token.get_secret_value())
    elif not live:
        generated = generate_token()
        _add_bootstrap_token(session, operator.id, generated)
        token_file = settings.data_dir / BOOTSTRAP_TOKEN_FILE
        write_private(token_file, (generated + "\n").encode())
    else:
        token_file = settings.data_dir / BOOTSTRAP_TOKEN_FILE
    session.commit()
    return BootstrapResult(organization.slug, project.slug, generated, token_file)


def _add_bootstrap_token(session: Session, user_id: str, token: str) -> None:
    session.add(
        ApiToken(
            id=new_id("tok"),
            user_id=user_id,
            kind="personal",
            name=BOOTSTRAP_TOKEN_NAME,
            prefix=token_prefix(token),
            token_hash=hash_token(token),
        )
    )


def issue_user_token(session: Session, email: str, name: str, expires_in_days: int | None) -> IssuedToken:
    """An installation-side way in for a user who has no token yet (``loopback admin token``)."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise Invalid.field("email", "an email address such as ada@example.com")
    user = session.scalar(repository.user_by_email(email))
    if user is None:
        user = User(id=new_id("usr"), email=email)
        session.add(user)
        session.flush()
    issued = TenancyService(_issuing_only)._issue(session, user.id, "personal", name, None, expires_in_days)
    session.commit()
    return issued
