"""API tokens: a user's personal tokens and an organization's project tokens.

Issuing (a fresh secret, kept only as its hash), listing and revoking, and revoking every live
token of a scope when what it acted in goes away (an organization, a project, a member). Mixed
into ``TenancyService`` (service.py); each change commits with its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import FieldProblem, Invalid, NotFound
from loopback.kit.ids import new_id
from loopback.tenancy import audit, repository
from loopback.tenancy.access import (
    OrganizationScope,
    Principal,
    generate_token,
    hash_token,
    token_prefix,
)
from loopback.tenancy.models import ApiToken, Project
from loopback.tenancy.permissions import within
from loopback.tenancy.rules import denied, role_problems


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


@dataclass(frozen=True)
class CallingToken:
    """The token a request came with, and what its holder may learn from it: where a project
    token acts, or whose a personal token is."""

    token: ApiToken
    organization: str | None = None
    project: str | None = None
    user: Principal | None = None


def issue(
    session: Session,
    user_id: str,
    kind: str,
    name: str,
    role_cap: str | None,
    expires_in_days: int | None,
    project: Project | None = None,
) -> IssuedToken:
    """A new token row, added to the session; the caller records its event and commits."""
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


def revoke_live(session: Session, scope: OrganizationScope, *where: ColumnElement[bool]) -> None:
    """Revoke the scope's live tokens (narrowed by ``where``), within the caller's unit of work."""
    now = utcnow()
    for token in session.scalars(repository.live_tokens_of(scope, *where)):
        token.revoked_at = now


class Tokens:
    """The token methods of ``TenancyService``."""

    def calling_token(self, session: Session, principal: Principal) -> CallingToken:
        """The caller's own token. A project token says its organization and project and nothing of
        the user who made it: its holder (a CI job, say) has no business with that user's email or
        other organizations. A personal token says its user."""
        token, organization, project = session.execute(repository.token_with_place(principal.token_id)).one()
        if principal.is_project_token:
            return CallingToken(token, organization, project)
        return CallingToken(token, user=principal)

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
            raise denied(
                session,
                principal,
                "tokens.personal",
                f"this token is capped at {principal.role_cap!r}; a token it creates needs a cap within it",
                target=f"personal token {name!r}",
            )
        issued = issue(session, principal.user_id, "personal", name, role_cap, expires_in_days)
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
        projects = list(session.scalars(repository.projects_in(scope)))
        target = next((p for p in projects if p.slug == project), None)
        if target is None:
            problems.insert(
                0, FieldProblem("project", f"no project {project!r} in {scope.organization_slug!r}")
            )
        if problems:
            raise Invalid(problems)
        assert target is not None
        effective = scope.principal.role_cap or scope.role
        if not within(role_cap, scope.role) or not within(role_cap, effective):
            raise denied(
                session,
                scope.principal,
                "tokens.manage",
                f"a token capped at {role_cap!r} reaches further than your role {effective!r}",
                organization_id=scope.organization_id,
                project_id=target.id,
                target=f"project token {name!r}",
            )
        issued = issue(session, scope.principal.user_id, "project", name, role_cap, expires_in_days, target)
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
