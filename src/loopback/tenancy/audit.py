"""The audit log: what changed, who did it with which token, and whether it was allowed.

Services call ``record`` before they commit, so an event exists exactly when its change does.
Refusals are recorded in a transaction of their own: by the permission check, or by the service
when it refuses beyond the table (an owner role, a token's cap).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from loopback.kit.ids import new_id
from loopback.tenancy import repository
from loopback.tenancy.access import OrganizationScope, Principal, ProjectScope
from loopback.tenancy.models import AuditEvent

SUCCEEDED = "succeeded"
DENIED = "denied"


def record(
    session: Session,
    principal: Principal,
    action: str,
    *,
    organization_id: str | None = None,
    project_id: str | None = None,
    target: str | None = None,
    outcome: str = SUCCEEDED,
    detail: str | None = None,
) -> AuditEvent:
    """Add an event to the session; it is written when the caller's change commits."""
    event = AuditEvent(
        id=new_id("aud"),
        organization_id=organization_id,
        project_id=project_id,
        actor_user_id=principal.user_id,
        actor_email=principal.email,
        token_id=principal.token_id,
        action=action,
        target=target,
        outcome=outcome,
        detail=detail,
        request_id=principal.request_id,
        client_address=principal.client_address,
    )
    session.add(event)
    return event


def record_in(
    session: Session,
    scope: OrganizationScope,
    action: str,
    target: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """``record`` for a change inside an organization or project scope."""
    return record(
        session,
        scope.principal,
        action,
        organization_id=scope.organization_id,
        project_id=scope.project_id if isinstance(scope, ProjectScope) else None,
        target=target,
        detail=detail,
    )


AUTOMATION = "loopback (automation)"


def record_system(
    session: Session,
    action: str,
    *,
    organization_id: str | None,
    project_id: str | None = None,
    target: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """An event of the installation's own automation (an expiry, a policy rewrite): no caller, no token."""
    event = AuditEvent(
        id=new_id("aud"),
        organization_id=organization_id,
        project_id=project_id,
        actor_email=AUTOMATION,
        action=action,
        target=target,
        outcome=SUCCEEDED,
        detail=detail,
    )
    session.add(event)
    return event


def page(
    session: Session,
    organization_id: str,
    limit: int,
    cursor: str | None = None,
    action: str | None = None,
    project: str | None = None,
    outcome: str | None = None,
) -> tuple[list[AuditEvent], str | None]:
    """One page of an organization's events, newest first; the cursor is the last id of a page."""
    scope = repository.InOrganization(organization_id)
    statement = repository.audit_events_in(scope)
    if cursor:
        statement = statement.where(AuditEvent.id < cursor)
    if action:
        statement = statement.where(AuditEvent.action == action)
    if project:  # a slug (of a live or deleted project) or an id, inside this organization only
        statement = statement.where(AuditEvent.project_id.in_(repository.project_ids_named(scope, project)))
    if outcome:
        statement = statement.where(AuditEvent.outcome == outcome)
    events = list(session.scalars(statement.order_by(AuditEvent.id.desc()).limit(limit + 1)))
    next_cursor = events[limit - 1].id if len(events) > limit else None
    return events[:limit], next_cursor
