"""Organizations and projects: the two levels a tenant's rows live in.

Listing, creating, renaming and deleting each. A delete is refused while buckets live inside
(asked through ``LiveResources``, since buckets sit above tenancy) and revokes the tokens that
acted there. Mixed into ``TenancyService`` (service.py); each change commits with its audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from loopback.kit.clock import utcnow
from loopback.kit.errors import Conflict, Invalid
from loopback.kit.ids import new_id
from loopback.tenancy import audit, repository, tokens
from loopback.tenancy.access import OrganizationScope, Principal, ProjectScope
from loopback.tenancy.models import ApiToken, Membership, Organization, Project
from loopback.tenancy.permissions import Role
from loopback.tenancy.rules import commit_unique, slug_problems

Named = TypeVar("Named", Organization, Project)

LiveResources = Callable[[Session, str, str | None], int]
"""How many live resources (buckets) an organization, or one of its projects, still holds.

Buckets sit above tenancy, so tenancy asks through this instead of reading their rows."""


class Organizations:
    """The organization and project methods of ``TenancyService``."""

    _live_resources: LiveResources

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
        commit_unique(session, f"an organization {slug!r} exists already; choose another slug")
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
        tokens.revoke_live(session, scope)
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
        commit_unique(session, message)
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
        tokens.revoke_live(session, scope, ApiToken.project_id == project.id)
        audit.record_in(session, scope, "project.delete", project.id)
        session.commit()
        return project

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
