"""Members of an organization: who belongs to it and with which role.

Listing, adding (creating the user on first sight), changing a role and removing. Only an owner
grants, changes or removes the owner role, and an organization never loses its last owner, even
when two owners demote each other at once. Mixed into ``TenancyService`` (service.py); each change
commits with its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from loopback.kit.errors import Conflict, FieldProblem, Invalid, NotFound
from loopback.kit.ids import new_id
from loopback.tenancy import audit, repository, tokens
from loopback.tenancy.access import OrganizationScope
from loopback.tenancy.models import ApiToken, Membership, Organization, User
from loopback.tenancy.permissions import Role, allows_capped
from loopback.tenancy.rules import EMAIL, commit_unique, denied, role_problems


@dataclass(frozen=True)
class MemberView:
    membership: Membership
    email: str


class Members:
    """The member methods of ``TenancyService``."""

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
        commit_unique(session, f"{email} is a member of {scope.organization_slug!r} already")
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
        tokens.revoke_live(session, scope, ApiToken.user_id == found.membership.user_id)
        audit.record_in(session, scope, "member.remove", found.membership.id, found.email)
        session.commit()
        return found

    def _check_owner_change(
        self, session: Session, scope: OrganizationScope, target: str, *roles: str
    ) -> None:
        if Role.OWNER in roles and not allows_capped(scope.role, scope.principal.role_cap, "members.owners"):
            raise denied(
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
