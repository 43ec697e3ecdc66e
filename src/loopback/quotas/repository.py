"""Every query of the quotas: a scope's own quota rows and bucket totals, through ``readable``."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Select, Update, func, select, update

from loopback.buckets.models import BucketTotals
from loopback.kit.scoping import Scope, readable
from loopback.quotas.models import OrganizationQuotas, ProjectQuotas
from loopback.tenancy.access import ProjectScope
from loopback.tenancy.models import Project


class ProjectScoped(Protocol):
    """A project as a request scopes it (``ProjectScope``) or as the worker knows it from a bucket
    (``quotas.service.ProjectRef``): the two ids ``readable`` filters on."""

    @property
    def organization_id(self) -> str: ...

    @property
    def project_id(self) -> str: ...


def organization_quotas(scope: Scope) -> Select[OrganizationQuotas]:
    """The organization's own quotas (none when never set)."""
    statement: Select[OrganizationQuotas] = readable(select(OrganizationQuotas), OrganizationQuotas, scope)
    return statement


def project_quotas(scope: ProjectScoped) -> Select[ProjectQuotas]:
    """The project's own quotas (none when never set)."""
    statement: Select[ProjectQuotas] = readable(select(ProjectQuotas), ProjectQuotas, scope)
    return statement


Use = Select[int, int, int]


def use(scope: Scope) -> Use:
    """Live buckets, objects and bytes of the scope (a project, or the whole organization), from the
    totals the triggers keep (migration 0010)."""
    statement: Use = readable(
        select(
            func.coalesce(func.sum(BucketTotals.live_buckets), 0),
            func.coalesce(func.sum(BucketTotals.object_count), 0),
            func.coalesce(func.sum(BucketTotals.bytes), 0),
        ),
        BucketTotals,
        scope,
    )
    return statement


def live_buckets(scope: ProjectScope) -> Select[int]:
    """The project's buckets not yet deleted, from its totals."""
    statement: Select[int] = readable(
        select(func.coalesce(func.sum(BucketTotals.live_buckets), 0)), BucketTotals, scope
    )
    return statement


def lock_project(scope: ProjectScope) -> Select[str]:
    """The project's row, locked until the transaction ends (PostgreSQL; SQLite has one writer at a
    time): two creates in one project count its buckets one after the other. ``NO KEY UPDATE`` so
    that rows referring to the project (its new bucket) are not held up by it."""
    statement: Select[str] = readable(
        select(Project.id).where(Project.id == scope.project_id), Project, scope
    ).with_for_update(key_share=True)  # FOR NO KEY UPDATE
    return statement


def write_lock(scope: ProjectScope) -> Update:
    """SQLite's one write lock, taken now: a no-op write to the project's row. The driver begins a
    transaction only at a write, so the count that follows reads under the lock, from the latest
    commit; a read alone would let two creates count the same buckets, then write one after the other."""
    return (
        update(Project)
        .where(Project.id == scope.project_id, Project.organization_id == scope.organization_id)
        .values(name=Project.name)
    )
