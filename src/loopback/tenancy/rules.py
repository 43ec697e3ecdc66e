"""The rules every tenancy service applies, kept in one place so the rooms agree on them.

What a slug, a role and an email address look like (each a 422 naming its field), how a refusal the
service itself decides is recorded as a ``denied`` audit event, and how a unique-constraint race at
commit becomes a 409. Organizations, members, tokens and the bootstrap all use them.
"""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from loopback.kit.errors import Conflict, FieldProblem, Forbidden
from loopback.tenancy import audit
from loopback.tenancy.access import Principal
from loopback.tenancy.permissions import TENANT_ROLES

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


def denied(
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


def commit_unique(session: Session, message: str) -> None:
    """Commit the caller's unit of work; a unique constraint that fires (a race) is a 409."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(message) from None
