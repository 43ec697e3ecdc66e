"""Factories for rows the API cannot create yet (other organizations, members with other roles)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from loopback.kit.ids import new_id
from loopback.runtime import Runtime
from loopback.tenancy.access import generate_token, hash_token
from loopback.tenancy.models import ApiToken, Membership, Organization, Project, User


def organization(session: Session, slug: str, projects: tuple[str, ...] = ("default",)) -> Organization:
    org = Organization(id=new_id("org"), slug=slug, name=slug.title())
    session.add(org)
    session.flush()
    for project in projects:
        session.add(Project(id=new_id("prj"), organization_id=org.id, slug=project, name=project.title()))
    session.flush()
    return org


def member_token(session: Session, org: Organization, role: str) -> str:
    """A new user with ``role`` in ``org`` and a token for them; returns the raw token."""
    user = User(id=new_id("usr"), email=f"{secrets.token_hex(4)}@example.test")
    session.add(user)
    session.flush()
    session.add(Membership(id=new_id("mem"), organization_id=org.id, user_id=user.id, role=role))
    token = generate_token()
    session.add(
        ApiToken(
            id=new_id("tok"), user_id=user.id, name="test", prefix=token[:8], token_hash=hash_token(token)
        )
    )
    session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def member_of(runtime: Runtime, role: str, slug: str = "demo") -> dict[str, str]:
    """Headers of a new user with ``role`` in organization ``slug``."""
    with runtime.db.session() as session:
        org = session.scalars(
            select(Organization).where(Organization.slug == slug, Organization.deleted_at.is_(None))
        ).one()
        return bearer(member_token(session, org, role))
