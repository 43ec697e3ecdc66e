"""Tenancy services: token authentication, project scopes and the first-start bootstrap."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import NotFound, Unauthorized
from loopback.kit.files import write_private
from loopback.kit.ids import new_id
from loopback.kit.settings import Settings
from loopback.tenancy.models import ApiToken, Membership, Organization, Project, User
from loopback.tenancy.permissions import Role

TOKEN_PREFIX = "lbk_"
BOOTSTRAP_TOKEN_NAME = "bootstrap"
BOOTSTRAP_TOKEN_FILE = "bootstrap-token"
OPERATOR_EMAIL = "operator@loopback.local"
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind the token, and the token itself."""

    user_id: str
    token_id: str
    is_operator: bool


@dataclass(frozen=True)
class ProjectScope:
    """An organization and project the caller belongs to, with the caller's role there.

    Every tenant query filters by ``organization_id`` and ``project_id`` from here.
    """

    principal: Principal
    organization_id: str
    organization_slug: str
    project_id: str
    project_slug: str
    role: str


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, token: str) -> Principal:
    """The principal for a bearer token, or 401 for a token that is unknown, revoked or expired."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise Unauthorized("the token is unknown, revoked or expired")
    user = session.get(User, row.user_id)
    if user is None:
        raise Unauthorized("the token is unknown, revoked or expired")
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_GRANULARITY:
        row.last_used_at = now
        session.commit()
    return Principal(user_id=user.id, token_id=row.id, is_operator=user.is_operator)


def project_scope(session: Session, principal: Principal, org_slug: str, project_slug: str) -> ProjectScope:
    """The caller's scope in a project; 404 alike for a missing organization and one that is not theirs."""
    row = session.execute(
        select(Organization, Membership)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Organization.slug == org_slug, Membership.user_id == principal.user_id)
    ).first()
    if row is None:
        raise NotFound(f"organization {org_slug!r} does not exist")
    organization, membership = row
    project = session.scalar(
        select(Project).where(Project.organization_id == organization.id, Project.slug == project_slug)
    )
    if project is None:
        raise NotFound(f"project {project_slug!r} does not exist in organization {org_slug!r}")
    return ProjectScope(
        principal=principal,
        organization_id=organization.id,
        organization_slug=organization.slug,
        project_id=project.id,
        project_slug=project.slug,
        role=membership.role,
    )


@dataclass(frozen=True)
class BootstrapResult:
    """What the first start made; ``token`` is set only when a token was generated right now."""

    organization: str
    project: str
    token: str | None
    token_file: Path | None


def bootstrap(session: Session, settings: Settings) -> BootstrapResult:
    """Create the operator, organization ``demo``, project ``default`` and the operator's token, once."""
    operator = session.scalar(select(User).where(User.email == OPERATOR_EMAIL))
    if operator is None:
        operator = User(id=new_id("usr"), email=OPERATOR_EMAIL, is_operator=True)
        session.add(operator)
    organization = session.scalar(select(Organization).where(Organization.slug == "demo"))
    if organization is None:
        organization = Organization(id=new_id("org"), slug="demo", name="Demo")
        session.add(organization)
    project = session.scalar(
        select(Project).where(Project.organization_id == organization.id, Project.slug == "default")
    )
    if project is None:
        project = Project(id=new_id("prj"), organization_id=organization.id, slug="default", name="Default")
        session.add(project)
    membership = session.scalar(
        select(Membership).where(
            Membership.organization_id == organization.id, Membership.user_id == operator.id
        )
    )
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

    live = session.scalars(
        select(ApiToken).where(
            ApiToken.user_id == operator.id,
            ApiToken.name == BOOTSTRAP_TOKEN_NAME,
            ApiToken.revoked_at.is_(None),
        )
    ).all()
    generated: str | None = None
    token_file: Path | None = None
    if settings.bootstrap_token is not None:
        wanted = hash_token(settings.bootstrap_token.get_secret_value())
        for token in live:  # the environment is authoritative: an older bootstrap token stops working
            if token.token_hash != wanted:
                token.revoked_at = utcnow()
        if not any(token.token_hash == wanted for token in live):
            _add_token(session, operator.id, settings.bootstrap_token.get_secret_value())
    elif not live:
        generated = generate_token()
        _add_token(session, operator.id, generated)
        token_file = settings.data_dir / BOOTSTRAP_TOKEN_FILE
        write_private(token_file, (generated + "\n").encode())
    else:
        token_file = settings.data_dir / BOOTSTRAP_TOKEN_FILE
    session.commit()
    return BootstrapResult(organization.slug, project.slug, generated, token_file)


def _add_token(session: Session, user_id: str, token: str) -> None:
    session.add(
        ApiToken(
            id=new_id("tok"),
            user_id=user_id,
            name=BOOTSTRAP_TOKEN_NAME,
            prefix=token[: len(TOKEN_PREFIX) + 4],
            token_hash=hash_token(token),
        )
    )
